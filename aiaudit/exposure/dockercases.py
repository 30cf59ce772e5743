"""EXP-01 and EXP-04 cases of Docker-published AI services, and where to probe them.

Kept apart from the providers so that the rules (which publication is an AI service, what
DOCKER-USER does to it, which addresses reach it) are plain functions over read facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiaudit.exposure import bindings
from aiaudit.exposure.dockerhost import (
    DockerFacts,
    Publication,
    UserVerdict,
    docker_user_verdict,
    proxy_target,
)
from aiaudit.exposure.listeners import Listener, identify


@dataclass(frozen=True)
class AiPublication:
    pub: Publication
    service: str
    identified_by: str


def ai_publications(facts: DockerFacts, extra_ports: list[int],
                    answering: dict[int, str] | None = None,
                    proxies: list[Listener] | None = None) -> list[AiPublication]:
    """Publications whose container runs an AI service: by the container's command (catalog
    process patterns), then the container port (extra_ports, catalog default), then what
    answered on the host port (`answering`: host port -> service name from discovery).
    `docker-proxy` listeners no inspected container accounts for are added from their
    command lines (container unknown by name)."""
    answering = answering or {}
    pubs = [(p, c.command) for c in facts.containers for p in c.publications]
    known = {(p.host_ip or "0.0.0.0", p.host_port) for p, _ in pubs}
    for sock in proxies or []:
        target = proxy_target(sock.cmdline)
        if target and (target[0], target[1]) not in known:
            host_ip, host_port, cip, cport = target
            pubs.append((Publication(f"(container at {cip})", "(not inspected)", cip, cport,
                                     "tcp", host_ip, host_port), ""))
    out = []
    for pub, command in pubs:
        ai = (identify(Listener(pub.host_ip, pub.container_port, None, "", command),
                       extra_ports) if command else None)
        ai = ai or identify(Listener(pub.host_ip, pub.container_port, None, ""), extra_ports)
        if ai:
            how = ai.identified_by + (" (container command)" if command and
                                      "command line" in ai.identified_by else "")
            out.append(AiPublication(pub, ai.service, how))
        elif pub.host_port in answering:
            out.append(AiPublication(pub, answering[pub.host_port],
                                     f"answered as {answering[pub.host_port]} on host port "
                                     f"{pub.host_port}"))
    return out


def publication_bindings(facts: DockerFacts, found: list[AiPublication],
                         proxies: list[Listener]) -> list[bindings.Binding]:
    out = []
    for item in found:
        pub = item.pub
        proxy = next((f"{s.process} (pid {s.pid}) {s.cmdline}" for s in proxies
                      if (t := proxy_target(s.cmdline)) and t[1] == pub.host_port
                      and t[0] == (pub.host_ip or "0.0.0.0")), "")
        dnat = "; ".join(d.rule for d in facts.dnat_for(pub))
        out.append(bindings.from_publication(pub, item.service, item.identified_by, proxy, dnat))
    return out


@dataclass(frozen=True)
class DockerFilter:
    """EXP-04 for one publication: Docker forwards it past INPUT, so DOCKER-USER decides."""

    item: AiPublication
    verdict: UserVerdict
    rules_read: bool

    @property
    def case_id(self) -> str:
        return f"docker:{self.item.pub.container}:{self.item.pub.binding}"


def filters(facts: DockerFacts, found: list[AiPublication]) -> list[DockerFilter]:
    return [DockerFilter(item, docker_user_verdict(facts.user_rules, item.pub),
                         facts.iptables_read) for item in found]


def probe_plan(facts: DockerFacts, kind: str, target_address: str) -> dict[str, list[int]]:
    """Addresses -> extra ports to scan: each published host port where the auditor can reach
    it (0.0.0.0 publications through loopback when the auditor is on the Docker host, the
    target's address over ssh) and, for docker://NAME, the container's own addresses."""
    plan: dict[str, list[int]] = {}
    for container in facts.containers:
        for pub in container.publications:
            if kind == "ssh":
                if pub.loopback:
                    continue  # only reachable on the Docker host itself
                address = target_address if pub.all_interfaces else pub.host_ip
            else:
                address = "127.0.0.1" if pub.all_interfaces or pub.loopback else pub.host_ip
            plan.setdefault(address, []).append(pub.host_port)
        if kind == "docker":
            for ip in container.ips:
                plan.setdefault(ip, []).extend(container.exposed)
    return plan
