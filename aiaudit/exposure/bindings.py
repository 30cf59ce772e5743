"""EXP-01 facts in one shape: where an AI service listens, or is configured to, or answers.

Three sources become one kind of case, so that EXP-01 stays a single thin test: the host's
listening sockets, the services' configured intent (so that a service that is down at
audit time still counts), and, for network-only targets, what answers on the address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiaudit.exposure.discovery import NetService
from aiaudit.exposure.hostside import Intent
from aiaudit.exposure.listeners import AiListener


@dataclass(frozen=True)
class Binding:
    case_id: str
    ok: bool
    problem: str
    evidence: dict[str, str] = field(default_factory=dict)
    read: dict[str, int] = field(default_factory=dict)  # what the verdict rests on


def from_listener(ai: AiListener) -> Binding:
    sock = ai.listener
    where = " (all interfaces)" if sock.is_wildcard else " (a non-loopback address)"
    return Binding(ai.case_id, sock.is_loopback, f"{ai.service} listens on {sock.endpoint}{where}",
                   {"service": ai.service, "identified by": ai.identified_by,
                    "bound to": sock.endpoint,
                    "process": f"{sock.process} (pid {sock.pid}) {sock.cmdline}".strip()},
                   {"sockets": 1})


def from_intent(intent: Intent) -> Binding:
    return Binding(
        intent.case_id, intent.loopback_only,
        f"{intent.service} is configured to listen on {intent.bind} ({intent.detail}; auth: "
        f"{intent.auth}) in {intent.source}",
        {"service": intent.service, "configured in": intent.source,
         "configured bind": intent.bind, "auth": intent.auth, "setting": intent.detail},
        {"config_files": 1})


def from_network(svc: NetService) -> Binding:
    """Network-only targets: answering on the address means not bound to loopback, unless
    what answers is the authenticating proxy."""
    return Binding(
        f"network:{svc.case_id}", bool(svc.proxy and svc.auth_wall),
        f"{svc.name} answers on {svc.endpoint} from the auditor's position, so it is not "
        "bound to loopback",
        {"reachable at": svc.base_url, "identified as": svc.describe()}, {"responses": 1})
