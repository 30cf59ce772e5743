"""STO-06 facts read from a store: who the app lets read whose conversations.

The live check (isolation.py) needs two configured users and a running server. A store
that holds several accounts' chats also says, with the settings its server runs with, who
can read them: Open WebUI hands every chat to its admins while ENABLE_ADMIN_CHAT_ACCESS is
on (its default) and to anyone for an `anyone` grant (aiaudit/products/open_webui.py
chat_access). Read from the store's private copy; the environment from the deployment's
units that run this data dir.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from aiaudit.products import open_webui
from aiaudit.storage.snapshot import opened_copy


@dataclass(frozen=True)
class StoreAccess:
    store: str
    access: open_webui.ChatAccess
    env_source: str  # the units whose environment was read ("" when none names the store)


def _runs_store(settings: list[tuple[str, str, str]], unit: str, store: Any) -> bool:
    """Does `unit` run Open WebUI on this store: its DATA_DIR, or a DATABASE_URL naming the
    file, or `open-webui serve` without DATA_DIR (the package's own data dir)?"""
    mine = [(k, v) for u, k, v in settings if u == unit]
    env = dict(mine)
    if env.get(open_webui.state_env()):
        return posixpath.normpath(env[open_webui.state_env()]) == store.state_dir
    url = env.get("DATABASE_URL", "")
    if url.startswith("sqlite:///"):
        return posixpath.normpath(url.split("?", 1)[0].removeprefix("sqlite:///")) == store.path
    venv = open_webui.venv_of(env.get("ExecStart", ""))
    return bool(venv) and store.state_dir.startswith(f"{venv}/") \
        and open_webui.is_pip_data_dir(store.state_dir)


def unit_env(ctx: Any, store: Any) -> tuple[dict[str, str], str]:
    """The `Environment=` of the deployment's units that run this store, and their names."""
    from aiaudit.scope import scope_for, unit_settings

    scope = scope_for(ctx)
    if not scope.units:
        return {}, ""
    settings = ctx.cached("storage:unit-settings",
                          lambda: unit_settings(scope.fs, scope.units))
    units = [u for u in dict.fromkeys(u for u, _, _ in settings)
             if _runs_store(settings, u, store)]
    env = {k: v for u, k, v in settings if u in units and k != "ExecStart"}
    return env, ", ".join(f"unit {u}" for u in units)


def store_access(ctx: Any, store: Any) -> StoreAccess:
    env, source = unit_env(ctx, store)
    with opened_copy(ctx, store) as opened:
        config = open_webui.OpenWebUIConfig(env=env, db=store.path, env_source=source,
                                            rows=open_webui.config_rows(opened.conn))
        access = open_webui.chat_access(opened.conn, config)
    return StoreAccess(store.path, access, source)
