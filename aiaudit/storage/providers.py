"""Resource providers of the storage area (registered on import)."""

from __future__ import annotations

from aiaudit.context import AuditContext
from aiaudit.resources import Unavailable, provider
from aiaudit.status import Status
from aiaudit.storage.layouts import FILE_KINDS
from aiaudit.storage.locate import StateDir, locate, locate_all


def _unreadable(ctx: AuditContext, what: str, dirs_only: bool = False
                ) -> list[tuple[str, object]]:
    """One ERROR case per path the audit account could not read: the stores or state dirs
    below it can be neither judged nor ruled out."""
    items: list[tuple[str, object]] = []
    for app, access, found_by in locate_all(ctx).unreadable:
        if dirs_only and found_by.startswith("store file"):
            continue  # a closed store file is the store controls' ERROR; its dir is listable
        owner = {"configured": "the configured dir",
                 "process": "the state dir this process names"}.get(app, app)
        reason = f"{access.reason()}; {what} ({owner}) there cannot be checked ({found_by})"
        items.append((f"unreadable:{access.blocker or access.path}",
                      Unavailable(Status.ERROR, reason)))
    return items


def _missing(ctx: AuditContext) -> list[tuple[str, object]]:
    """One ERROR case per data dir whose store lives elsewhere and was not found."""
    return [(f"store-elsewhere:{path}", Unavailable(Status.ERROR, reason))
            for _, path, reason in locate_all(ctx).missing]


def _or_proof(ctx: AuditContext, items: list[tuple[str, object]], what: str
              ) -> list[tuple[str, object]]:
    """Nothing found is NOT_APPLICABLE only with its proof (what was searched)."""
    if items:
        return items
    return [("none-found", Unavailable(Status.NOT_APPLICABLE,
                                       f"no {what}: {locate_all(ctx).proof()}"))]


@provider("storage_stores", empty_reason="no conversation store found on the target "
          "(known app layouts, env overrides, [paths] state_dirs)")
def _stores(ctx: AuditContext) -> list[tuple[str, object]]:
    stores, _ = locate(ctx)
    return _or_proof(ctx, [(s.case_id, s) for s in stores] + _missing(ctx)
                     + _unreadable(ctx, "conversation stores"), "conversation store")


@provider("storage_at_rest", empty_reason="no conversation store or backup of one found on the "
          "target (known app layouts, env overrides, [paths] state_dirs, [storage] backup_dirs)")
def _at_rest(ctx: AuditContext) -> list[tuple[str, object]]:
    from aiaudit.storage.backups import standalone_backups

    stores, _ = locate(ctx)
    items = [(s.case_id, s) for s in [*stores, *standalone_backups(ctx)]]
    return _or_proof(ctx, items + _unreadable(ctx, "conversation stores"),
                     "conversation store")


@provider("storage_file_stores", empty_reason="no file-based conversation store found on the "
          "target (database servers are checked through STO-01/05/08)")
def _file_stores(ctx: AuditContext) -> list[tuple[str, object]]:
    stores, _ = locate(ctx)
    return _or_proof(ctx, [(s.case_id, s) for s in stores if s.kind in FILE_KINDS]
                     + _unreadable(ctx, "conversation stores"), "file-based conversation store")


@provider("storage_state_dirs", empty_reason="no AI app state dir found on the target "
          "(known app layouts, env overrides, [paths] state_dirs)")
def _state_dirs(ctx: AuditContext) -> list[tuple[str, object]]:
    stores, dirs = locate(ctx)
    # an app's PostgreSQL database holds its config tables too (STO-04); it has no files
    dirs = [*dirs, *(StateDir(s.app, s.path, s.found_by, database=True) for s in stores
                     if s.kind == "postgresql")]
    return _or_proof(ctx, [(d.case_id, d) for d in dirs] + _missing(ctx)
                     + _unreadable(ctx, "the state dir and its config", dirs_only=True),
                     "AI app state dir")


@provider("storage_history_sources", empty_reason="no conversation store or log file found "
          "on the target")
def _history_sources(ctx: AuditContext) -> list[tuple[str, object]]:
    from aiaudit.hostfs import HostFS
    from aiaudit.storage.backups import find_backups, standalone_backups
    from aiaudit.storage.historyscan import HistorySource, log_files, store_source

    stores, dirs = locate(ctx)
    sources = []
    for store in stores:
        if store.kind not in FILE_KINDS:
            continue
        source = store_source(store)
        known = {f.path for f in source.files}
        backups = tuple(b.file for b in find_backups(ctx, store)[0] if b.file.path not in known)
        sources.append(HistorySource(source.name, source.files + backups, source.store,
                                     store))
    sources += [HistorySource(f"{s.app}:{s.path}", (), None, s) for s in stores
                if s.kind == "postgresql"]  # an app's database: read through SQL
    sources += [HistorySource(f"{b.app}:{b.path}", b.files, None, b)
                for b in standalone_backups(ctx)]
    # a log that is a store itself (n8n's n8nEventLog.log) is scanned once, as its store
    scanned = {f.path for s in sources for f in s.files}
    fs = HostFS.for_context(ctx)
    logs = [f for f in log_files(fs, ctx.config.access_logs, [d.path for d in dirs])
            if f.path not in scanned]
    if logs:
        sources.append(HistorySource("logs", tuple(logs)))
    from aiaudit.products import open_webui
    from aiaudit.storage.historyscan import memory_files, upload_files

    for d in dirs:  # what users attached to their chats is history too
        if d.app == open_webui.APP and (files := upload_files(fs, [d.path])):
            sources.append(HistorySource(f"{d.app}:{d.path}/uploads", tuple(files)))
    hermes_homes = [d.path for d in dirs if d.app == "hermes"]
    if hermes_homes and (files := memory_files(fs, hermes_homes)):
        # what Hermes' agent was told to remember rides in every later prompt
        sources.append(HistorySource("hermes:memories", tuple(files)))
    return _or_proof(ctx, [(s.case_id, s) for s in sources] + _missing(ctx)
                     + _unreadable(ctx, "history and logs"), "conversation store or log file")


@provider("storage_history_apis", empty_reason="no history API or vector store answers on the "
          "target's address (exposure discovery)")
def _history_apis(ctx: AuditContext) -> list[tuple[str, object]]:
    from aiaudit.context import NoHostAccess
    from aiaudit.exposure.providers import network_services, scoped_listeners
    from aiaudit.scope import scope_for
    from aiaudit.storage.history_api import history_apis, loopback_apis

    apis = history_apis(network_services(ctx))
    try:  # the exposure area's host-side listeners (read once per run, there)
        listeners = scoped_listeners(ctx)
        scope = scope_for(ctx)
    except NoHostAccess:
        listeners, scope = [], None
    if scope is not None and scope.closed:
        # a closed [deployment]: only its own listeners (its ports, or its processes'),
        # never another deployment's server answering on the same host
        own = {ai.listener.port for ai in listeners} | set(scope.ports)
        apis = [a for a in apis if _port(a.base_url) in own]
    apis += loopback_apis(listeners, ctx.target.address)
    return [(api.case_id, api) for api in apis]


def _port(url: str) -> int | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).port
    except ValueError:
        return None


@provider("storage_user_pairs", empty_reason="fewer than two [[users]] with credentials are "
          "configured (STO-06 needs user A to plant a conversation and user B to try reading "
          "it) and no store found holds accounts to judge from its rows")
def _user_pairs(ctx: AuditContext) -> list[tuple[str, object]]:
    """The configured user pair (the live check) and each Open WebUI store (who its rows
    and settings let read whose chats)."""
    from aiaudit.products import open_webui
    from aiaudit.storage.isolation import UserPair
    from aiaudit.storage.settings import settings_for

    stores, _ = locate(ctx)
    items: list[tuple[str, object]] = [
        (s.case_id, s) for s in stores
        if s.app == open_webui.APP and s.kind == "sqlite" and open_webui.is_db(s.path)]
    users = ctx.config.users
    if len(users) < 2:
        return items
    wanted = settings_for(ctx).chat_endpoint
    endpoints = [e for e in ctx.config.endpoints if wanted in (None, e.name)]
    if not endpoints:
        return [*items, ("users", Unavailable(Status.ERROR, (
            f"no [[endpoints]] entry named {wanted!r} ([storage] chat_endpoint)" if wanted
            else "no [[endpoints]] configured to plant a message")))]
    pair = UserPair(users[0], users[1], endpoints[0])
    return [*items, (pair.case_id, pair)]
