"""Resource providers of the exposure area (registered on import) and the run's shared,
computed-once exposure facts."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiaudit.concurrency import parallel_map
from aiaudit.context import AuditContext, NoHostAccess
from aiaudit.exposure import bindings, checks, dockercases, hostside
from aiaudit.exposure.discovery import NetService, discover, scanned_ports
from aiaudit.exposure.dockerhost import DockerFacts, proxy_target, read_docker
from aiaudit.exposure.listeners import ai_listeners, listening_sockets
from aiaudit.hostfs import HostFS
from aiaudit.resources import Unavailable, provider
from aiaudit.scope import listed_homes, processes, scope_for
from aiaudit.status import CouldNotCheck, Status


def network_services(ctx: AuditContext) -> list[NetService]:
    """Every HTTP(S) service discovered on the target's addresses (once per run)."""

    def compute() -> list[NetService]:
        cfg = ctx.config
        client = ctx.exposure_client
        if ctx.target.kind == "docker":
            container_ips = set(_docker_plan(ctx, container_only=True))
            plan = {a: sorted({*cfg.extra_ports, *ports}) for a, ports in _docker_plan(ctx).items()}
            per_address = parallel_map(
                lambda item: discover(client, item[0], item[1], cfg.exposure.proxy_urls,
                                      cfg.exposure.proxy_auth_headers(),
                                      catalog=item[0] in container_ips),
                list(plan.items()), max_workers=8)
            return [svc for found in per_address for svc in found]
        return _discover_with_docker(ctx, client)

    return ctx.cached("exposure:discovery", compute)


def _discover_with_docker(ctx: AuditContext, client: Any) -> list[NetService]:
    """The target's addresses probed on the catalog and extra ports while the Docker host's
    publications are read over SSH (the first SSH command waits for the login), then the
    published ports: those the first pass did not keep are probed as extra ports, those it
    kept are marked so. Same services as probing the merged plan, without the wait."""
    cfg = ctx.config
    proxies, creds = cfg.exposure.proxy_urls, cfg.exposure.proxy_auth_headers()
    base = {a: list(cfg.extra_ports) for a in ctx.network_addresses()}
    found: dict[str, list[NetService]] = {}
    published: dict[str, list[int]] = {}

    def first_pass() -> None:
        scans = parallel_map(lambda item: discover(client, item[0], item[1], proxies, creds),
                             list(base.items()), max_workers=8)
        found.update(zip(base, scans, strict=True))

    parallel_map(lambda job: job(), [lambda: published.update(_docker_plan(ctx)), first_pass],
                 max_workers=2)
    later: list[tuple[str, list[int], bool]] = []
    for address, ports in published.items():
        if address not in base:  # a publication bound to another address of the host
            later.append((address, sorted({*cfg.extra_ports, *ports}), True))
            continue
        kept = {svc.port for svc in found[address]}
        for svc in found[address]:
            svc.extra_port = svc.extra_port or svc.port in ports
        if redo := sorted(set(ports) - kept):
            later.append((address, redo, False))
    more = parallel_map(
        lambda item: discover(client, item[0], item[1], () if not item[2] else proxies, creds,
                              catalog=item[2]), later, max_workers=8)
    for (address, _ports, _catalog), svcs in zip(later, more, strict=True):
        found[address] = sorted([*found.get(address, []), *svcs], key=lambda svc: svc.port)
    if ctx.target.kind == "local":  # IPv6-only listeners, which the IPv4 probes never reach
        v6 = {a: p for a, p in _ipv6_plan(ctx).items() if a not in found}
        for address, svcs in zip(v6, parallel_map(
                lambda item: discover(client, item[0], cfg.extra_ports, proxies, creds,
                                      only=item[1]), list(v6.items()), max_workers=8),
                                 strict=True):
            found[address] = svcs
    return [svc for svcs in found.values() for svc in svcs]


def _ipv6_plan(ctx: AuditContext) -> dict[str, list[int]]:
    """`--target=local`: the IPv6 addresses to probe, with their ports. `network_addresses`
    is IPv4 (the loopback and the host name's addresses), which reaches a dual-stack socket
    (ss shows `*:PORT`) but never one bound to `[::]` with IPV6_V6ONLY, to `[::1]` or to a
    global IPv6 address: those may be another service than the IPv4 one on the same port
    (an open Ollama on `[::]` beside a walled IPv4 proxy). Each such listener on a catalog
    or extra port is probed once (`[::]` and `[::1]` through `::1`); no host listing, no
    IPv6 probe (the host side's EXP-01 still names the listener)."""
    try:
        sockets = _host_sockets(ctx)
    except (CouldNotCheck, NoHostAccess):
        return {}
    return ipv6_only_ports(sockets, scanned_ports(ctx.config.extra_ports))


def ipv6_only_ports(sockets: list[Any], ports: list[int]) -> dict[str, list[int]]:
    """{IPv6 address to probe: ports} for the IPv6-only listeners among `sockets` on `ports`
    (`::` and `::1` through `::1`; a link-local address needs a scope: left out)."""
    wanted, plan = set(ports), {}
    for sock in sockets:
        if sock.port not in wanted or ":" not in sock.address:
            continue
        try:
            addr = ipaddress.IPv6Address(sock.address)
        except ValueError:
            continue
        if addr.is_link_local or addr.ipv4_mapped:
            continue
        target = "::1" if addr.is_unspecified or addr.is_loopback else str(addr)
        plan.setdefault(target, set()).add(sock.port)
    return {a: sorted(p) for a, p in plan.items()}


def docker_facts(ctx: AuditContext) -> DockerFacts:
    """Docker on the target host (once per run). For docker://NAME the Docker host is this
    machine (where `docker exec` runs): its inspect of NAME and its rules."""

    def compute() -> DockerFacts:
        if ctx.target.kind == "docker":
            import testinfra

            return read_docker(testinfra.get_host("local://"), [str(ctx.target.container)])
        return read_docker(ctx.host())

    return ctx.cached("exposure:docker", compute)


def _docker_plan(ctx: AuditContext, container_only: bool = False) -> dict[str, list[int]]:
    """Published host ports (and a docker target's container addresses) to scan; nothing
    when Docker cannot be read (EXP-01 reports why)."""
    if not ctx.target.host_access:
        return {}
    try:
        facts = docker_facts(ctx)
    except Exception:  # EXP-01 and EXP-04 report it as their own ERROR
        if ctx.target.kind == "docker":
            raise  # nothing else to probe: the discovery's cases say why
        return {}
    if container_only:
        return {ip: [] for c in facts.containers for ip in c.ips}
    return dockercases.probe_plan(facts, ctx.target.kind, ctx.target.address)


def _docker_proxies(ctx: AuditContext) -> list[Any]:
    if ctx.target.kind == "docker":  # the host's docker-proxy is outside the container
        import testinfra

        host = testinfra.get_host("local://")
        return ctx.cached("exposure:docker-proxies", lambda: [
            s for s in listening_sockets(host) if s.process == "docker-proxy"])
    return [s for s in _host_sockets(ctx) if s.process == "docker-proxy"]


def docker_publications(ctx: AuditContext) -> list[dockercases.AiPublication]:
    """AI services published by Docker on the target host (once per run)."""

    def compute() -> list[dockercases.AiPublication]:
        facts = docker_facts(ctx)
        answering = {s.port: s.name for s in ai_endpoints(ctx)} if facts.containers else {}
        proxies = _docker_proxies(ctx)
        if ctx.target.kind == "docker":  # only the proxies that forward to this container
            mine = facts.container(str(ctx.target.container))
            ips = set(mine.ips) if mine else set()
            proxies = [s for s in proxies if (t := proxy_target(s.cmdline)) and t[2] in ips]
        return dockercases.ai_publications(facts, ctx.config.extra_ports, answering, proxies)

    return ctx.cached("exposure:docker-publications", compute)


def ai_endpoints(ctx: AuditContext) -> list[NetService]:
    """The AI services on the network, with their network facts gathered for all of them at
    once (each host:port spends only its own budget, so the slowest sets the pace)."""

    found = ctx.cached("exposure:ai_endpoints",
                       lambda: [s for s in network_services(ctx) if s.is_ai])
    ctx.cached("exposure:prefetched", lambda: _prefetch(ctx, found))
    return found


def _prefetch(ctx: AuditContext, found: list[NetService]) -> bool:
    """EXP-02/03/06 facts of every service computed concurrently (outside ctx.cached, whose
    lock would serialise them), then stored where the per-service getters look."""
    client, full = ctx.exposure_client, ctx.profile == "full"
    creds = ctx.config.exposure.proxy_auth_headers()

    def facts(svc: NetService) -> tuple[Any, ...] | None:
        try:
            return (checks.auth_state(client, svc, full), checks.proxy_check(client, svc, creds),
                    checks.cors_check(client, svc))
        except Exception:  # the test recomputes it and reports the error as its own case
            return None

    for svc, got in zip(found, parallel_map(facts, found, max_workers=16), strict=True):
        if got is not None:
            for kind, value in zip(("auth", "proxy", "cors"), got, strict=True):
                ctx.cached(f"exposure:{kind}:{svc.case_id}", lambda v=value: v)
    return True


def auth_state(ctx: AuditContext, svc: NetService) -> checks.AuthState:
    """EXP-02's facts, shared with EXP-03, EXP-06 and EXP-07 (computed once per service)."""
    return ctx.cached(f"exposure:auth:{svc.case_id}",
                      lambda: checks.auth_state(ctx.exposure_client, svc, ctx.profile == "full"))


def proxy_check(ctx: AuditContext, svc: NetService) -> checks.ProxyCheck:
    """EXP-03's facts: the proxy's own refusal and the configured credential."""
    creds = ctx.config.exposure.proxy_auth_headers()
    return ctx.cached(f"exposure:proxy:{svc.case_id}",
                      lambda: checks.proxy_check(ctx.exposure_client, svc, creds))


def cors(ctx: AuditContext, svc: NetService) -> checks.Cors:
    """EXP-06's facts: a preflight and a GET with an arbitrary Origin."""
    return ctx.cached(f"exposure:cors:{svc.case_id}",
                      lambda: checks.cors_check(ctx.exposure_client, svc))


class _HostOps:
    def __init__(self, host: Any):
        self.host = host

    def existing_files(self, paths: list[str]) -> list[str]:
        return hostside.existing_files(self.host, paths)

    def markers_in(self, paths: list[str], markers: list[str]) -> set[str]:
        return hostside.markers_in(self.host, paths, markers)


def marker_results(ctx: AuditContext) -> dict[str, checks.MarkerResult]:
    """EXP-05: one marked request per AI endpoint, then the configured logs (once per run)."""

    def compute() -> dict[str, checks.MarkerResult]:
        try:
            ops: _HostOps | None = _HostOps(ctx.host())
        except NoHostAccess:  # still sent: the auditor is told which request to look for
            ops = None
        logs = [*ctx.config.access_logs, *ctx.config.exposure.alert_sinks] if ops else []
        return checks.marker_checks(ctx.exposure_client, ai_endpoints(ctx), ops, logs,
                                    ctx.config.exposure.alert_wait_seconds)

    return ctx.cached("exposure:markers", compute)


def host_ai_ports(ctx: AuditContext) -> dict[int, str]:
    """Ports of AI services listening on non-loopback addresses, plus the catalog's defaults
    (a firewall that admits those is a finding even while nothing listens there)."""
    from aiaudit.services import ai_services

    ports = {p: svc.name for svc in ai_services() for p in svc.ports}
    ports.update({ai.listener.port: ai.service for ai in _host_listeners(ctx)
                  if not ai.listener.is_loopback})
    return ports


def _host_sockets(ctx: AuditContext) -> list[Any]:
    """The target's TCP listeners (`ss -ltnp`), read once per run for every question."""
    return ctx.cached("exposure:sockets", lambda: listening_sockets(ctx.host()))


def _host_listeners(ctx: AuditContext) -> list[Any]:
    return ctx.cached("exposure:ai_listeners",
                      lambda: ai_listeners(_host_sockets(ctx), ctx.config.extra_ports))


def scoped_listeners(ctx: AuditContext) -> list[Any]:
    """The host's AI listeners within a closed deployment scope: on its ports, or (no ports
    named) owned by its processes; a listener whose process is unknown stays judged."""
    listeners = _host_listeners(ctx)
    scope = scope_for(ctx)
    if not scope.closed:
        return listeners
    if scope.ports:
        return [ai for ai in listeners if ai.listener.port in scope.ports]
    pids = sorted({ai.listener.pid for ai in listeners if ai.listener.pid})
    owners = {p.pid: p for p in processes(scope.fs, pids)}
    return [ai for ai in listeners if ai.listener.pid not in owners
            or scope.owns_process(owners[ai.listener.pid])]


@provider("exposure_bindings", empty_reason="no AI service listens on, or is configured on, "
          "the target host")
def _exposure_bindings(ctx: AuditContext) -> list[tuple[str, object]]:
    """EXP-01: host listeners, configured intent and Docker publications; network-side for
    network-only targets."""
    extra: list[tuple[str, object]] = []
    if not ctx.target.host_access:
        here = own_address(ctx.target.address)
        if here:
            return [("auditor-on-target", Unavailable(
                Status.NOT_APPLICABLE, f"network side: the auditor stands on the target host "
                f"({here}), where answering proves nothing about the binding; host side: no "
                f"host access ({ctx.target.spec} is network-only; --target=local reads the "
                "listening sockets and decides)"))]
        found = [bindings.from_network(s) for s in ai_endpoints(ctx)]
        if not found:
            return [("no-host-access", Unavailable(
                Status.NOT_APPLICABLE, f"no host access ({ctx.target.spec} is network-only) "
                "and no AI service answers on its address from the auditor's position"))]
    else:
        from aiaudit.products import hermes

        scope = scope_for(ctx)
        # each home with the managed scope its processes load (HERMES_MANAGED_DIR in
        # their environment, else /etc/hermes)
        managed = (lambda home: hermes.managed_for(ctx, home)) \
            if scope.roots_of("hermes") or not scope.closed else None
        intents = hostside.configured_intents(ctx.host(), scope, HostFS.for_context(ctx),
                                               managed)
        try:
            facts = docker_facts(ctx)
            docker_found = dockercases.publication_bindings(facts, docker_publications(ctx),
                                                            _docker_proxies(ctx))
        except CouldNotCheck as exc:  # the other bindings are still judged
            facts, docker_found = DockerFacts(), []
            extra.append(("docker", Unavailable(Status.ERROR, f"Docker: {exc}")))
        mine = facts.container(str(ctx.target.container or ""))
        if ctx.target.kind == "docker" and mine is None:
            found = []  # publications unknown: its listeners cannot be judged
            if not extra:
                extra.append(("docker", Unavailable(
                    Status.ERROR, f"`docker inspect` on this machine did not describe container "
                    f"{ctx.target.container} ({facts.note or 'not among the containers read'}): "
                    "where its ports are published is unknown")))
        elif ctx.target.kind == "docker" and mine is not None:
            found = [bindings.from_container_listener(ai, mine.name, list(mine.publications))
                     for ai in _host_listeners(ctx)]
        else:
            found = [bindings.from_listener(ai) for ai in scoped_listeners(ctx)]
        found += [bindings.from_intent(i) for i in intents]
        found += docker_found
        scope = scope_for(ctx)
        closed = hostside.closed_intent_dirs(ctx.host(), scope,
                                             [] if scope.closed else listed_homes(ctx))
        extra += [(f"unreadable:{i + 1}", Unavailable(
            Status.ERROR, f"{why}; the agent's configured bind there cannot be checked"))
            for i, why in enumerate(closed)]
    return [(b.case_id, b) for b in found] + extra


def own_address(address: str) -> str | None:
    """Why `address` is the auditor's own host (loopback, or an address of this machine),
    or None. An address is this machine's when a socket can bind to it."""
    try:
        infos = socket.getaddrinfo(address, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for family, _type, _proto, _name, sockaddr in infos:
        ip = str(sockaddr[0]).split("%", 1)[0]
        try:
            if ipaddress.ip_address(ip).is_loopback:
                return f"{address} is a loopback address"
        except ValueError:
            continue
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.bind((ip, 0))
            return f"{address} is one of this machine's own addresses"
        except OSError:
            continue
    return None


@provider("ai_endpoints", empty_reason="no AI service answers on the target's address from "
          "the auditor's position")
def _ai_endpoints(ctx: AuditContext) -> list[tuple[str, object]]:
    return [(s.case_id, s) for s in ai_endpoints(ctx)]


@provider("firewall", empty_reason="no firewall facts")
def _firewall(ctx: AuditContext) -> list[tuple[str, object]]:
    """The host's inbound policy, plus one case per Docker-published AI service (forwarded
    traffic, judged by DOCKER-USER). A docker://NAME target has only the latter: its
    container's own rules are not what stands between the network and a published port."""
    cases: list[tuple[str, object]] = []
    if ctx.target.kind != "docker":
        cases.append((ctx.target.address, hostside.firewall_facts(ctx.host())))
    else:
        ctx.host()  # the container must be reachable at all
    try:
        facts = docker_facts(ctx)
        cases += [(f.case_id, f) for f in dockercases.filters(facts, docker_publications(ctx))]
    except CouldNotCheck as exc:  # the host's own policy is still judged
        if ctx.target.kind == "docker":
            raise
        return [*cases, ("docker", Unavailable(Status.ERROR, f"Docker: {exc}"))]
    if not cases:
        return [("docker-no-publication", Unavailable(
            Status.NOT_APPLICABLE, f"container {ctx.target.container} publishes no AI service "
            "port on the Docker host (docker inspect: "
            f"{len(facts.containers)} container(s) read, no AI publication)"))]
    return cases

