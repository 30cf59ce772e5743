"""Resource providers of the supply_chain area (registered on import)."""

from __future__ import annotations

import contextlib
import json
import posixpath
from typing import Any

from aiaudit.context import AuditContext
from aiaudit.hostfs import HostFS
from aiaudit.resources import Unavailable, after_collection, provider
from aiaudit.scope import processes, scope_for
from aiaudit.status import CouldNotCheck, Status
from aiaudit.supply_chain import egress, mcp, procs, sandbox
from aiaudit.supply_chain.discovery import Inventory, discover, probe, read_text
from aiaudit.supply_chain.settings import settings_for


def _fs(ctx: AuditContext) -> HostFS:
    return ctx.cached("supply_chain:fs", lambda: HostFS.for_context(ctx))


def inventory(ctx: AuditContext) -> Inventory:
    """Skills and configs on the target (discovered once per run), with the Tools,
    Functions and Skills Open WebUI keeps in its webui.db."""
    def build() -> Inventory:
        from aiaudit.supply_chain.batch import warm_in_background
        from aiaudit.supply_chain.webui_plugins import webui_plugins

        warm_in_background()  # the rule databases load (or compile) while discovery reads
        inv = discover(_fs(ctx), settings_for(ctx), scope_for(ctx))
        rows = webui_plugins(ctx)
        inv.skills += rows.skills
        inv.tables += rows.read
        inv.unreadable += rows.unreadable
        inv.manual += rows.manual
        return inv
    return ctx.cached("supply_chain:inventory", build)


def _pending_reviews(ctx: AuditContext) -> Any:
    from aiaudit.supply_chain.batch import start_review_all

    def start() -> Any:
        pending = start_review_all(inventory(ctx).skills, settings_for(ctx).max_file_bytes)
        ctx.on_close(pending.close)  # a run stopped before SUP-03 leaves no workers behind
        return pending

    return ctx.cached("supply_chain:reviews:started", start)


@after_collection("SUP-03", "SUP-04")
def start_reviews(ctx: AuditContext) -> None:
    """Start the review in forked workers once collection is done (the inventory is then
    known): the run's first cases (SUP-01, SUP-02) go on meanwhile instead of the first
    SUP-03 case waiting for the whole review. A discovery that failed is left to
    reviews(), which re-raises it in the case that asks."""
    with contextlib.suppress(Exception):
        _pending_reviews(ctx)


def reviews(ctx: AuditContext) -> Any:
    """SUP-03 and SUP-04 findings of every skill, computed once over the machine's cores."""
    return ctx.cached("supply_chain:reviews", lambda: _pending_reviews(ctx).result())


def skill_findings(ctx: AuditContext, skill: Any, control: str) -> list[Any]:
    """One skill's SUP-03 or SUP-04 findings; a review that stopped on that skill raises
    CouldNotCheck (its case is an ERROR saying where), the other skills' stand."""
    from aiaudit.supply_chain.batch import ReviewFailed

    outcome = reviews(ctx)[skill.id][0 if control == "SUP-03" else 1]
    if isinstance(outcome, ReviewFailed):
        raise CouldNotCheck(outcome.reason)
    return outcome


def mcp_servers(ctx: AuditContext) -> list[mcp.McpServer | mcp.McpConfigProblem]:
    """MCP servers with the tool descriptions their bundle manifests declare."""
    def load() -> list[mcp.McpServer | mcp.McpConfigProblem]:
        fs = _fs(ctx)
        servers = mcp.servers_from(inventory(ctx).configs)
        manifests = {s.id: mcp.bundle_manifest_path(s) for s in servers
                     if isinstance(s, mcp.McpServer)}
        found = probe(fs, [p for p in manifests.values() if p])
        for server in servers:
            path = manifests.get(server.id)
            if isinstance(server, mcp.McpServer) and path and found.get(path) == "f":
                try:
                    server.tools = mcp.tools_from_manifest(read_text(fs, path))
                    server.tools_source = path
                except (ValueError, CouldNotCheck) as exc:
                    server.tools_source = f"{path}: unreadable ({exc})"
        from aiaudit.supply_chain.mcp_sources import add_listings

        stdio = bool(ctx.cached("pytest:mcp_list_stdio", lambda: False))
        if stdio and ctx.target.kind != "local":
            raise CouldNotCheck("--mcp-list-stdio starts servers on this machine only: "
                                "the target is not local")
        return add_listings(fs, servers, settings_for(ctx), stdio)
    return ctx.cached("supply_chain:mcp", load)


def _closed(ctx: AuditContext, what: str) -> list[tuple[str, Any]]:
    """One ERROR case per place the audit account could not read, one MANUAL case per place
    that needs what only the operator can supply (a database password)."""
    inv = inventory(ctx)
    return ([(f"unreadable:{i + 1}", Unavailable(Status.ERROR, f"{reason}; {what} there "
                                                 "cannot be checked"))
             for i, reason in enumerate(inv.unreadable)]
            + [(f"needs-operator:{i + 1}", Unavailable(Status.MANUAL, f"{reason}; {what} there "
                                                       "cannot be checked"))
               for i, reason in enumerate(inv.manual)])


@provider("skills", empty_reason="no skill found in any OpenClaw, Hermes or Agent Skills root, "
          "Open WebUI webui.db or configured skill_roots")
def _skills(ctx: AuditContext) -> list[tuple[str, Any]]:
    items = [(s.id, s) for s in inventory(ctx).skills] + _closed(ctx, "skills")
    return items or [("none-found", Unavailable(
        Status.NOT_APPLICABLE, f"no skill found: {inventory(ctx).proof()}"))]


@provider("supply_chain_baselined", empty_reason="no MCP server and no skill found")
def _baselined(ctx: AuditContext) -> list[tuple[str, Any]]:
    items = ([(s.id, s) for s in mcp_servers(ctx)] + [(s.id, s) for s in inventory(ctx).skills]
             + _closed(ctx, "MCP configs and skills"))
    return items or [("none-found", Unavailable(
        Status.NOT_APPLICABLE, f"no MCP server and no skill found: {inventory(ctx).proof()}"))]


def _approvals_of(cfg: Any, approvals: list[Any], configs: list[Any]) -> Any:
    """The exec approvals of the state dir whose config `cfg` is (each OpenClaw profile's
    state dir has its own); with one config and one approvals source, that one."""
    state = posixpath.dirname(cfg.path) + "/"
    mine = [a for a in approvals if a.path.startswith(state)]
    if mine:
        return mine[0]
    return approvals[0] if len(approvals) == 1 and len(configs) == 1 else None


def _processes(ctx: AuditContext, patterns: tuple[str, ...]):
    """Matching processes of the deployment: a closed scope keeps those that run as its
    users or units or use its state dirs (the others are "also seen on the host")."""
    fs = _fs(ctx)
    key = "supply_chain:procs:" + "\x00".join(patterns)

    def compute():
        matches = procs.matching_processes(fs, patterns)
        scope = scope_for(ctx)
        if scope.closed and matches:
            owners = {p.pid: p for p in processes(fs, [pid for pid, _, _ in matches])}
            matches = [m for m in matches if m[0] in owners and scope.owns_process(owners[m[0]])]
        return procs.process_facts(fs, matches)
    return ctx.cached(key, compute)


def _hermes_unit_env(ctx: AuditContext, home: str) -> dict[str, Any]:
    """TERMINAL_ENV from the `Environment=` of the deployment's units that start a Hermes
    entry point for this home (aiaudit.scope.unit_settings, read once per run)."""
    from aiaudit.products import hermes
    from aiaudit.scope import scope_for, unit_settings

    try:
        units = scope_for(ctx).units
    except Exception:  # network-only targets have no scope
        return {}
    if not units:
        return {}
    settings = ctx.cached("hermes:unit-settings",
                          lambda: unit_settings(_fs(ctx), units))
    return hermes.unit_terminal_envs(settings, home)


def _hermes_managed(ctx: AuditContext, home: str) -> Any:
    """The managed scope this Hermes home's processes load (/etc/hermes, or the dir
    HERMES_MANAGED_DIR names in their environment), read once per run."""
    from aiaudit.products import hermes

    return hermes.managed_for(ctx, home)


def _hermes_env(ctx: AuditContext, config_path: str) -> tuple[str | None, str]:
    """(text, "") of the .env beside a Hermes config.yaml, (None, "") when it is absent,
    (None, why) when the audit account cannot read it."""
    from aiaudit.access import check_access
    from aiaudit.products import hermes
    from aiaudit.supply_chain.discovery import read_text

    path = hermes.file_in(posixpath.dirname(config_path), "env_file")
    access = check_access(_fs(ctx), [path]).get(path)
    if access is None or access.missing:
        return None, ""
    if access.unreadable:
        return None, access.reason()
    try:
        return read_text(_fs(ctx), path), ""
    except (OSError, CouldNotCheck) as exc:
        return None, f"cannot read {path}: {exc}"


@provider("skill_runtimes", empty_reason="no agent configuration and no agent or skill-runner "
          "process found (set [supply_chain] skill_process)")
def _runtimes(ctx: AuditContext) -> list[tuple[str, Any]]:
    inv = inventory(ctx)
    approvals = inv.configs_of("openclaw-exec-approvals")
    configs = inv.configs_of("openclaw")
    runtimes: list[sandbox.Runtime] = []
    for cfg in configs:
        if cfg.error:
            raise CouldNotCheck(cfg.error)
        runtimes.append(sandbox.openclaw_runtime(cfg, _approvals_of(cfg, approvals, configs)))
    hermes_configs = inv.configs_of("hermes")
    for cfg in hermes_configs:
        if cfg.error:
            raise CouldNotCheck(cfg.error)
        managed = _hermes_managed(ctx, posixpath.dirname(cfg.path))
        env_text, env_error = _hermes_env(ctx, cfg.path)
        runtimes.append(sandbox.hermes_runtime(cfg, managed, env_text, env_error,
                                               _hermes_unit_env(ctx, posixpath.dirname(
                                                   cfg.path))))
    settings = settings_for(ctx)
    found, shell = _processes(ctx, settings.skill_runner_patterns)
    runtimes += [sandbox.process_runtime(p, shell) for p in found]
    items: list[tuple[str, Any]] = [(rt.id, rt) for rt in runtimes]
    items += _closed(ctx, "the agent's sandbox configuration")
    if not found and settings.configured & {"skill_process", "agent_process"}:
        items.append(("process:not-running", Unavailable(
            Status.ERROR, "no running process matches the configured skill_process patterns: "
            "the skill runner's confinement cannot be checked")))
    return items


@provider("egress_contexts", empty_reason="no agent process found (set [supply_chain] "
          "agent_process)")
def _egress(ctx: AuditContext) -> list[tuple[str, Any]]:
    settings = settings_for(ctx)
    fs = _fs(ctx)
    patterns = tuple(dict.fromkeys(settings.agent_process + settings.skill_runner_patterns))
    found, shell = _processes(ctx, patterns)
    rc, out, _ = fs.run("readlink /proc/1/ns/net; cat /proc/sys/net/netfilter/nf_log_all_netns "
                        "2>/dev/null || echo 0")
    lines = out.split()
    init_netns = lines[0] if lines else ""
    nf_log_all = lines[1] if len(lines) > 1 else "0"
    if not found:  # absence proven only when no agent install hides behind a closed dir
        items = _closed(ctx, "an agent (and the processes it would run as)")
        if "agent_process" in settings.configured:
            items.append(("egress:not-running", Unavailable(
                Status.ERROR, "no running process matches the configured agent_process "
                "patterns")))
        return items
    groups: dict[str, list[procs.ProcessFacts]] = {}
    for proc in found:
        groups.setdefault(proc.ns.get("net", f"unknown:{proc.pid}"), []).append(proc)
    contexts = []
    for netns, members in groups.items():
        label = ", ".join(dict.fromkeys(p.label for p in members))
        context = egress.EgressContext(f"egress:{label}", netns, members)
        enter = None if netns == shell.ns.get("net") else members[0]
        policy, source = egress.read_policy(fs, enter)
        egress.judge(context, policy, source, init_netns, nf_log_all)
        context.facts["processes"] = json.dumps({p.pid: p.label for p in members})
        contexts.append((context.id, context))
    return contexts
