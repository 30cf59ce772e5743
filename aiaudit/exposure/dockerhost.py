"""Docker publications on a host: which container port is published where, and whether the
DOCKER-USER chain filters it.

Why a module of its own: a published port is served by `docker-proxy` and a DNAT rule, not by
the AI server's own socket, so `ss` names the wrong process and the INPUT chain (and ufw) never
sees the forwarded traffic. Facts come from `docker inspect` (HostConfig.PortBindings,
NetworkSettings.Ports, container addresses), `iptables-save` (the DOCKER DNAT rules and the
DOCKER-USER chain; with the nf_tables backend it prints the same rules `nft` holds) and the
`docker-proxy` command lines. Only read-only commands run on the host.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.exposure.hostside import filter_table_lines, port_set
from aiaudit.status import CouldNotCheck

SBIN = "/usr/sbin"
_ALL = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class Publication:
    """One host address:port that forwards to a container port."""

    container: str
    image: str
    container_ip: str
    container_port: int
    proto: str
    host_ip: str  # as Docker reports it; "" and "0.0.0.0" / "::" mean all interfaces
    host_port: int

    @property
    def all_interfaces(self) -> bool:
        return self.host_ip in _ALL

    @property
    def loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host_ip).is_loopback
        except ValueError:
            return False

    @property
    def binding(self) -> str:
        ip = self.host_ip or "0.0.0.0"
        host = f"[{ip}]" if ":" in ip else ip
        return f"{host}:{self.host_port} -> {self.container_port}/{self.proto}"


@dataclass(frozen=True)
class Container:
    """A running container as `docker inspect` describes it."""

    name: str
    id: str
    image: str
    command: str
    ips: tuple[str, ...]
    publications: tuple[Publication, ...]
    exposed: tuple[int, ...] = ()  # container ports (published or only EXPOSEd)


def _ports(doc: dict[str, Any]) -> dict[str, Any]:
    """NetworkSettings.Ports (what is in force) or, for a stopped container,
    HostConfig.PortBindings (what it will publish)."""
    ports = ((doc.get("NetworkSettings") or {}).get("Ports")) or {}
    if not any(ports.values()):
        ports = ((doc.get("HostConfig") or {}).get("PortBindings")) or ports
    return ports


def parse_inspect(text: str) -> list[Container]:
    """`docker inspect` JSON (a list of containers) -> Container facts."""
    try:
        docs = json.loads(text)
    except ValueError as exc:
        raise CouldNotCheck(f"`docker inspect` printed no JSON: {text.strip()[:120]}") from exc
    out = []
    for doc in docs if isinstance(docs, list) else []:
        name = str(doc.get("Name", "")).lstrip("/")
        image = str((doc.get("Config") or {}).get("Image") or doc.get("Image", ""))
        net = doc.get("NetworkSettings") or {}
        ips = [n.get("IPAddress") for n in (net.get("Networks") or {}).values()]
        ips = tuple(dict.fromkeys(ip for ip in [net.get("IPAddress"), *ips] if ip))
        command = " ".join([str(doc.get("Path", "")), *map(str, doc.get("Args") or [])]).strip()
        pubs, exposed = [], set()
        for spec, binds in _ports(doc).items():
            port, _, proto = spec.partition("/")
            if not port.isdigit():
                continue
            exposed.add(int(port))
            for bind in binds or []:
                host_port = str(bind.get("HostPort") or "")
                if host_port.isdigit():
                    pubs.append(Publication(name, image, ips[0] if ips else "", int(port),
                                            proto or "tcp", str(bind.get("HostIp") or ""),
                                            int(host_port)))
        for spec in ((doc.get("Config") or {}).get("ExposedPorts") or {}):
            port = spec.partition("/")[0]
            if port.isdigit():
                exposed.add(int(port))
        out.append(Container(name, str(doc.get("Id", ""))[:12], image, command, ips,
                             tuple(pubs), tuple(sorted(exposed))))
    return out


# ------------------------------------------------------------------ iptables: DNAT, DOCKER-USER


@dataclass(frozen=True)
class Dnat:
    """`-A DOCKER ... --dport P -j DNAT --to-destination IP:PORT`."""

    host_ip: str  # "" = any local address
    host_port: int
    dest_ip: str
    dest_port: int
    rule: str


_DNAT = re.compile(r"^-A DOCKER\b.*?--dport (\d+)\b.*-j DNAT --to-destination "
                   r"\[?([0-9a-fA-F.:]+?)\]?:(\d+)\s*$")


def parse_dnat(text: str) -> list[Dnat]:
    out = []
    table = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            table = line[1:]
        m = _DNAT.match(line) if table == "nat" else None
        if m:
            d = re.search(r"(?:^|\s)-d (\S+?)(?:/\d+)?(?:\s|$)", line)
            out.append(Dnat(d.group(1) if d else "", int(m.group(1)), m.group(2),
                            int(m.group(3)), line))
    return out


@dataclass(frozen=True)
class UserVerdict:
    """What DOCKER-USER does to a new connection from the network to one publication."""

    dropped: bool
    rule: str  # the deciding rule, or why none decided
    rules_read: int


def docker_user_rules(text: str) -> list[str] | None:
    """The DOCKER-USER rules of the filter table, in order; None when the chain is absent."""
    seen, rules = False, []
    for line in filter_table_lines(text):
        if line.startswith(":DOCKER-USER "):
            seen = True
        elif line.startswith("-A DOCKER-USER "):
            seen = True
            rules.append(line)
    return rules if seen else None


def _matches(rule: str, pub: Publication) -> bool:
    """Whether `rule` applies to a new TCP connection from outside to `pub` (after DNAT)."""
    if re.search(r"--ctstate\s+\S*(ESTABLISHED|RELATED)", rule) and "NEW" not in rule:
        return False
    if re.search(r"(?<!!)\s-i (docker0|br-\S+)\b", rule):  # traffic from the containers
        return False
    proto = re.search(r"(?<!!)\s-p (\w+)", rule)
    if proto and proto.group(1) != pub.proto:
        return False
    dest = re.search(r"(?<!!)\s-d (\S+)", rule)
    if dest and pub.container_ip:
        try:
            if ipaddress.ip_address(pub.container_ip) not in ipaddress.ip_network(
                    dest.group(1), strict=False):
                return False
        except ValueError:
            return False
    dport = re.search(r"(?<!!)\s--dports? (\S+)", rule)
    if dport and pub.container_port not in port_set(dport.group(1)):
        return False
    orig = re.search(r"--ctorigdstport (\S+)", rule)
    if orig and pub.host_port not in port_set(orig.group(1)):
        return False
    source = re.search(r"(?<!!)\s-s (\S+)", rule)
    # a positive source restriction only covers part of the network: it cannot decide alone
    return not (source and source.group(1) not in ("0.0.0.0/0", "::/0"))


def docker_user_verdict(rules: list[str] | None, pub: Publication) -> UserVerdict:
    if rules is None:
        return UserVerdict(False, "no DOCKER-USER chain in the filter table", 0)
    for rule in rules:
        target = re.search(r"-j (\S+)", rule)
        if not target or not _matches(rule, pub):
            continue
        verdict = target.group(1)
        if verdict in ("DROP", "REJECT"):
            return UserVerdict(True, rule, len(rules))
        if verdict in ("ACCEPT", "RETURN"):
            return UserVerdict(False, rule, len(rules))
    return UserVerdict(False, "no DOCKER-USER rule drops it (falls through to Docker's "
                       "own ACCEPT in the DOCKER chain)", len(rules))


# --------------------------------------------------------------------------- docker-proxy


def proxy_target(cmdline: str) -> tuple[str, int, str, int] | None:
    """`docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 5001 -container-ip IP
    -container-port 5001` -> (host_ip, host_port, container_ip, container_port)."""
    try:
        args = shlex.split(cmdline)
    except ValueError:
        args = cmdline.split()
    if not args or not args[0].endswith("docker-proxy"):
        return None
    opts = {args[i].lstrip("-"): args[i + 1] for i in range(1, len(args) - 1)
            if args[i].startswith("-")}
    try:
        return (opts["host-ip"], int(opts["host-port"]), opts["container-ip"],
                int(opts["container-port"]))
    except (KeyError, ValueError):
        return None


# ------------------------------------------------------------------------------ reading


@dataclass
class DockerFacts:
    """Everything read about Docker on one host."""

    containers: list[Container] = field(default_factory=list)
    dnat: list[Dnat] = field(default_factory=list)
    user_rules: list[str] | None = None
    iptables_read: bool = False
    note: str = ""  # why nothing could be read (no docker CLI, daemon down, no rights)

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if name in (c.name, c.id)), None)

    def dnat_for(self, pub: Publication) -> list[Dnat]:
        return [d for d in self.dnat if d.host_port == pub.host_port
                and d.dest_port == pub.container_port
                and (not pub.container_ip or d.dest_ip == pub.container_ip)]


def _run(host: Any, script: str) -> tuple[int, str, str]:
    result = host.run("sh -c " + shlex.quote(script))
    return result.rc, result.stdout or "", result.stderr or ""


def read_docker(host: Any, names: list[str] | None = None) -> DockerFacts:
    """`docker inspect` of the running containers (or of `names`) plus the nat and filter
    rules, on the Docker host that `host` runs commands on."""
    facts = DockerFacts()
    rc, out, err = _run(host, "command -v docker >/dev/null 2>&1 || exit 127; docker ps -q")
    if rc == 127:
        facts.note = "no docker CLI on the host"
        return facts
    if rc != 0 and "Cannot connect to the Docker daemon" in err:
        facts.note = "no Docker daemon answers on the host (`docker ps`: cannot connect)"
        return facts  # docker-proxy listeners, if any, are still mapped from their argv
    if rc != 0:
        raise CouldNotCheck(f"`docker ps` failed on the host: {err.strip()[-200:] or rc}")
    ids = names or out.split()
    if ids:
        rc, out, err = _run(host, "docker inspect " + " ".join(shlex.quote(i) for i in ids))
        if rc != 0:
            raise CouldNotCheck(f"`docker inspect` failed: {err.strip()[-200:] or rc}")
        facts.containers = parse_inspect(out)
    rc, out, err = _run(host, f"{SBIN}/iptables-save 2>&1 || iptables-save 2>&1")
    if "*filter" in out or "*nat" in out:
        facts.iptables_read = True
        facts.dnat = parse_dnat(out)
        facts.user_rules = docker_user_rules(out)
    else:
        facts.note = f"iptables-save: {(out or err).strip()[:160] or rc}"
    return facts
