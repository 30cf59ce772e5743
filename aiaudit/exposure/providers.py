"""Resource providers of the exposure area (registered on import) and the run's shared,
computed-once exposure facts."""

from __future__ import annotations

from typing import Any

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
        found: list[NetService] = []
        for address in ctx.network_addresses():
            found += discover(ctx.client, address, cfg.extra_ports, cfg.exposure.proxy_urls,
                              cfg.exposure.proxy_auth_headers())
        return found

    return ctx.cached("exposure:discovery", compute)


def ai_endpoints(ctx: AuditContext) -> list[NetService]:
    return [s for s in network_services(ctx) if s.is_ai]


def auth_state(ctx: AuditContext, svc: NetService) -> checks.AuthState:
    """EXP-02's facts, shared with EXP-06 and EXP-07 (computed once per service)."""
    return ctx.cached(f"exposure:auth:{svc.case_id}",
                      lambda: checks.auth_state(ctx.client, svc, ctx.profile == "full"))


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
        return checks.marker_checks(ctx.client, ai_endpoints(ctx), _HostOps(host), logs,
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
        found = [bindings.from_network(s) for s in ai_endpoints(ctx)]
        if not found:
            return [("no-host-access", Unavailable(
                Status.NOT_APPLICABLE, f"no host access ({ctx.target.spec} is network-only) "
                "and no AI service answers on its address from the auditor's position"))]
    else:
        intents = hostside.configured_intents(ctx.host(), ctx.config.state_dirs)
        found = ([bindings.from_listener(ai) for ai in _host_listeners(ctx)]
                 + [bindings.from_intent(i) for i in intents])
    return [(b.case_id, b) for b in found]


@provider("ai_endpoints", empty_reason="no AI service answers on the target's address from "
          "the auditor's position")
def _ai_endpoints(ctx: AuditContext) -> list[tuple[str, object]]:
    return [(s.case_id, s) for s in ai_endpoints(ctx)]


@provider("firewall", empty_reason="no firewall facts")
def _firewall(ctx: AuditContext) -> list[tuple[str, object]]:
    return [(ctx.target.address, hostside.firewall_facts(ctx.host()))]

