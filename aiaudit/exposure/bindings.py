"""EXP-01 facts in one shape: where an AI service listens, or is configured to, or answers.

Three sources become one kind of case, so that EXP-01 stays a single thin test: the host's
listening sockets, the services' configured intent (so that a service that is down at
audit time still counts), and, for network-only targets, what answers on the address.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiaudit.exposure.discovery import NetService
from aiaudit.exposure.dockerhost import Publication
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


def from_publication(pub: Publication, service: str, identified_by: str,
                     proxy: str = "", dnat: str = "") -> Binding:
    """A Docker publication: all interfaces (0.0.0.0 / ::) fails, loopback-only passes.
    Docker's DNAT and docker-proxy serve it, so the server's own bind inside the container
    says nothing about who reaches it."""
    where = ("all interfaces" if pub.all_interfaces else
             "loopback only" if pub.loopback else "a non-loopback address")
    evidence = {"service": service, "identified by": identified_by, "container": pub.container,
                "image": pub.image, "published": f"{pub.binding} ({where})"}
    if proxy:
        evidence["docker-proxy"] = proxy
    if dnat:
        evidence["DNAT rule"] = dnat
    return Binding(f"docker:{pub.container}:{pub.binding}", pub.loopback,
                   f"{service} in container {pub.container} ({pub.image}) is published on "
                   f"{pub.binding} ({where}) by Docker", evidence,
                   {"docker_publications": 1})


def from_container_listener(ai: AiListener, container: str, pubs: list[Publication]) -> Binding:
    """A listener inside a container: its bind is container-local; what reaches it from the
    host's network is the publication of its port."""
    sock = ai.listener
    mine = [p for p in pubs if p.container_port == sock.port]
    exposed = [p for p in mine if not p.loopback]
    if sock.is_loopback:
        where = "container loopback"
    elif not mine:
        where = "not published on the host"
    else:
        where = "published on " + ", ".join(p.binding for p in mine)
    evidence = {"service": ai.service, "identified by": ai.identified_by,
                "bound to (inside the container)": sock.endpoint, "container": container,
                "publications": "; ".join(p.binding for p in mine) or "none",
                "process": f"{sock.process} (pid {sock.pid}) {sock.cmdline}".strip()}
    return Binding(ai.case_id, not exposed,
                   f"{ai.service} listens on {sock.endpoint} in container {container}, "
                   f"{where}", evidence, {"sockets": 1, "docker_inspect": 1})
