"""Resource providers of the exposure area (registered on import) and the run's shared,
computed-once exposure facts."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiaudit.concurrency import parallel_map
from aiaudit.context import AuditContext
from aiaudit.exposure import bindings, checks, hostside
from aiaudit.exposure.discovery import NetService, discover
from aiaudit.exposure.listeners import ai_listeners
from aiaudit.resources import Unavailable, provider
from aiaudit.status import Status


def network_services(ctx: AuditContext) -> list[NetService]:
    """Every HTTP(S) service discovered on the target's addresses (once per run)."""

    def compute() -> list[NetService]:
        cfg = ctx.config
        client = ctx.exposure_client
        per_address = parallel_map(
            lambda address: discover(client, address, cfg.extra_ports, cfg.exposure.proxy_urls,
                                     cfg.exposure.proxy_auth_headers()),
            ctx.network_addresses(), max_workers=8)
        return [svc for found in per_address for svc in found]

    return ctx.cached("exposure:discovery", compute)


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
        host = ctx.host()
        logs = [*ctx.config.access_logs, *ctx.config.exposure.alert_sinks]
        return checks.marker_checks(ctx.exposure_client, ai_endpoints(ctx), _HostOps(host), logs,
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


def _host_listeners(ctx: AuditContext) -> list[Any]:
    return ctx.cached("exposure:ai_listeners",
                      lambda: ai_listeners(ctx.host(), ctx.config.extra_ports))


@provider("exposure_bindings", empty_reason="no AI service listens on, or is configured on, "
          "the target host")
def _exposure_bindings(ctx: AuditContext) -> list[tuple[str, object]]:
    """EXP-01: host listeners and configured intent; network-side for network-only targets."""
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
        intents = hostside.configured_intents(ctx.host(), ctx.config.state_dirs)
        found = ([bindings.from_listener(ai) for ai in _host_listeners(ctx)]
                 + [bindings.from_intent(i) for i in intents])
        closed = hostside.closed_intent_dirs(ctx.host(), ctx.config.state_dirs)
        return [(b.case_id, b) for b in found] + [
            (f"unreadable:{i + 1}", Unavailable(Status.ERROR, f"{why}; the agent's configured "
                                                 "bind there cannot be checked"))
            for i, why in enumerate(closed)]
    return [(b.case_id, b) for b in found]


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
    return [(ctx.target.address, hostside.firewall_facts(ctx.host()))]

