"""Listening sockets on the target host and which of them are AI services (EXP-01 facts)."""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Any

from aiaudit.services import ServiceDef, load_services
from aiaudit.status import CouldNotCheck

_USERS = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket as the host reports it."""

    address: str  # as bound: "0.0.0.0", "::", "127.0.0.1", "10.0.0.2"
    port: int
    pid: int | None
    process: str
    cmdline: str = ""

    @property
    def is_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            return self.address == "localhost"

    @property
    def is_wildcard(self) -> bool:
        return self.address in ("0.0.0.0", "::", "*")

    @property
    def endpoint(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class AiListener:
    """A listener identified as an AI service, and how it was identified."""

    service: str
    identified_by: str
    listener: Listener

    @property
    def case_id(self) -> str:
        return f"{self.service}@{self.listener.endpoint}"


def parse_ss(output: str) -> list[Listener]:
    """Parse `ss -H -ltnp` lines: State Recv-Q Send-Q Local:Port Peer:Port [users:(...)]."""
    found = []
    for line in output.splitlines():
        cols = line.split()
        if len(cols) < 5:
            continue
        local = cols[3]
        host, _, port = local.rpartition(":")
        if not port.isdigit():
            continue
        host = host.strip("[]").split("%", 1)[0]
        users = _USERS.findall(line)
        if users:
            for process, pid in users:
                found.append(Listener(host, int(port), int(pid), process))
        else:
            found.append(Listener(host, int(port), None, ""))
    return found


def _cmdlines(host: Any, pids: set[int]) -> dict[int, str]:
    if not pids:
        return {}
    ids = " ".join(str(p) for p in sorted(pids))
    script = (f"for p in {ids}; do printf '%s\\t' \"$p\"; "
              "tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null; echo; done")
    result = host.run("sh -c " + shlex.quote(script))
    out = {}
    for line in (result.stdout or "").splitlines():
        pid, _, cmd = line.partition("\t")
        if pid.isdigit():
            out[int(pid)] = cmd.strip()
    return out


def listening_sockets(host: Any) -> list[Listener]:
    """TCP listeners with owning process and command line (needs root for other users')."""
    result = host.run("ss -H -ltnp")
    if result.rc != 0:
        why = (result.stderr or "").strip().splitlines()
        raise CouldNotCheck(f"`ss -ltnp` failed on the target: {why[-1] if why else result.rc}")
    listeners = parse_ss(result.stdout)
    cmdlines = _cmdlines(host, {sock.pid for sock in listeners if sock.pid})
    return [
        Listener(s.address, s.port, s.pid, s.process, cmdlines.get(s.pid or -1, ""))
        for s in listeners
    ]


def identify(listener: Listener, extra_ports: list[int],
             services: tuple[ServiceDef, ...] | None = None) -> AiListener | None:
    """Which AI service a listener is, from its process first, then its port."""
    services = services if services is not None else load_services()
    text = listener.cmdline or listener.process
    for svc in services:
        pattern = svc.matches_process(text) if text else None
        if pattern:
            if svc.is_proxy:
                return None
            return AiListener(svc.name, f"process command line matches {pattern.pattern!r}",
                              listener)
    if listener.port in extra_ports:
        module = re.search(r"\s-m\s+([\w.]+)", listener.cmdline)
        name = module.group(1) if module else (listener.process or "unknown-process")
        return AiListener(name,
                          f"port {listener.port} is listed in the audit config's extra_ports",
                          listener)
    if not text:
        for svc in services:
            if listener.port in svc.ports and not svc.is_proxy:
                return AiListener(svc.name, f"default port {listener.port} (no process info)",
                                  listener)
    return None


def ai_listeners(sockets: list[Listener], extra_ports: list[int]) -> list[AiListener]:
    """The AI services among the host's listening sockets (`listening_sockets`)."""
    found = []
    seen = set()
    for sock in sockets:
        ai = identify(sock, extra_ports)
        if ai and ai.case_id not in seen:
            seen.add(ai.case_id)
            found.append(ai)
    return found
