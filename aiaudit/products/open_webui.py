"""Open WebUI (PyPI `open-webui` 0.12.4): its data dir, its one config reader, its defaults.

Open WebUI keeps everything in `DATA_DIR` (`webui.db`, `vector_db/`, `uploads/`, `cache/`).
Its settings come from the environment, and once it has started with persistent config on
(the default) from the `config` table of webui.db: one row per dotted key, JSON values,
seeded from the environment at start-up and authoritative afterwards
(open_webui/models/config.py). Versions before 0.9 kept one JSON document in a `data`
column instead; both are read. Unset settings take Open WebUI's defaults, which live in
`aiaudit/data/open_webui.toml` with the source file of each.
"""

from __future__ import annotations

import functools
import json
import posixpath
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiaudit.products import table_columns

DATA = Path(__file__).resolve().parent.parent / "data" / "open_webui.toml"
APP = "open-webui"
_TRUE = ("true",)  # open_webui/env.py and config.py: os.getenv(...).lower() == 'true'


@functools.cache
def product_data() -> dict[str, Any]:
    """aiaudit/data/open_webui.toml (defaults with their sources)."""
    return tomllib.loads(DATA.read_text(encoding="utf-8"))


def defaults() -> dict[str, Any]:
    return product_data()["defaults"]


def service_name() -> str:
    """The product's `[[service]]` entry in services.toml."""
    return product_data()["service"]


def state_env() -> str:
    return product_data()["state"]["env"]


def abs_state_dirs() -> tuple[str, ...]:
    return tuple(product_data()["state"]["abs_dirs"])


def db_name() -> str:
    return product_data()["state"]["db"]


def vector_db() -> str:
    return product_data()["state"]["vector_db"]


def secret_key_files() -> tuple[str, ...]:
    return tuple(product_data()["state"]["secret_key_files"])


def process_patterns() -> tuple[str, ...]:
    return tuple(product_data()["processes"]["patterns"])


def history_routes() -> tuple[str, ...]:
    return tuple(product_data()["history"]["routes"])


def management_routes() -> tuple[str, ...]:
    return tuple(product_data()["management"]["routes"])


def conversation_time_columns() -> dict[str, tuple[str, ...]]:
    """{table: columns} that date a conversation in webui.db (epoch seconds)."""
    return table_columns(product_data()["history"]["conversation_times"])


def is_db(path: str) -> bool:
    return posixpath.basename(path) == db_name()


def flag(value: Any) -> bool:
    """How Open WebUI reads a boolean: env strings `.lower() == 'true'`, JSON booleans from
    the config table as they are."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


# ------------------------------------------------------------------------ config reader


@dataclass(frozen=True)
class Setting:
    """One resolved setting and where it came from (config table, environment, default)."""

    name: str
    value: Any
    source: str

    @property
    def is_default(self) -> bool:
        return self.source.startswith("unset")

    def describe(self) -> str:
        shown = json.dumps(self.value) if not isinstance(self.value, str) else self.value
        return f"{self.name}={shown} ({self.source})"


@dataclass(frozen=True)
class OpenWebUIConfig:
    """Open WebUI's settings: the environment it is started with (service unit, container)
    and the rows of webui.db's `config` table."""

    env: dict[str, str] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)
    db: str = ""  # the webui.db whose config table was read ("" when none)
    env_source: str = ""  # where the environment came from

    @property
    def persistent(self) -> bool:
        """ENABLE_PERSISTENT_CONFIG: with it on (default), table rows win over the env."""
        raw = self.env.get("ENABLE_PERSISTENT_CONFIG")
        return defaults()["ENABLE_PERSISTENT_CONFIG"] if raw is None else flag(raw)

    def _env(self, name: str) -> tuple[str, str] | None:
        for candidate in (name, product_data()["env_aliases"].get(name)):
            if candidate and candidate in self.env:
                return candidate, self.env[candidate]
        return None

    def get(self, name: str) -> Setting:
        """A setting as the running Open WebUI sees it: the config table row (persistent
        config on), else the environment, else Open WebUI's default (never "false" by
        omission)."""
        key = product_data()["config_keys"].get(name)
        if key and self.persistent and key in self.rows:
            return Setting(name, self.rows[key], f"{self.db} config[{key}]")
        found = self._env(name)
        if found is not None:
            where = f" in {self.env_source}" if self.env_source else ""
            return Setting(name, found[1], f"environment {found[0]}{where}")
        if name in defaults():
            return Setting(name, defaults()[name], f"unset: Open WebUI default, {DATA.name}")
        return Setting(name, None, "unset")


def config_rows(conn: Any) -> dict[str, Any]:
    """The `config` table of an open webui.db as {dotted key: value}: one row per key
    (0.9+), or the one JSON document of older versions (`data` column) flattened."""
    try:
        cols = [r[1] for r in conn.execute('PRAGMA table_info("config")')]
    except Exception:  # noqa: BLE001 - a damaged store: no settings read
        return {}
    out: dict[str, Any] = {}
    if "key" in cols and "value" in cols:
        for key, value in conn.execute('SELECT "key", "value" FROM "config"'):
            out[str(key)] = _json(value)
    elif "data" in cols:
        row = conn.execute('SELECT "data" FROM "config" ORDER BY rowid DESC LIMIT 1').fetchone()
        if row:
            _flatten(_json(row[0]), "", out)
    return out


def _json(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _flatten(node: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict) and node:
        for k, v in node.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif prefix:
        out[prefix] = node


# ----------------------------------------------------------------------- facts areas use


@dataclass(frozen=True)
class Retention:
    enabled: bool
    days: float | None
    detail: str


def retention() -> Retention:
    """Open WebUI has no retention setting: conversations stay until someone deletes them."""
    return Retention(False, None, f"Open WebUI {product_data()['version']} has no retention "
                     "setting and no scheduled deletion of chats (routers/chats.py deletes "
                     f"only on request; {DATA.name} [retention])")


@dataclass(frozen=True)
class Serve:
    """`open-webui serve` as a command line starts it (open_webui/__init__.py serve())."""

    host: str
    port: int | str
    host_from: str
    auth: str


def serve_intent(command: str, env: dict[str, str]) -> Serve | None:
    """The bind of an `open-webui serve` command line (None when it is not one); WEBUI_AUTH
    from its environment (default on)."""
    try:
        args = shlex.split(command)
    except ValueError:
        args = command.split()
    for i, arg in enumerate(args):
        if posixpath.basename(arg) == "open-webui" and args[i + 1:i + 2] == ["serve"]:
            rest = args[i + 2:]
            host = _flag(rest, "--host")
            port = _flag(rest, "--port")
            auth_raw = env.get("WEBUI_AUTH")
            auth_on = defaults()["WEBUI_AUTH"] if auth_raw is None else flag(auth_raw)
            auth = ("WEBUI_AUTH on (login required)" if auth_on
                    else "WEBUI_AUTH=False (no login: everyone is admin)")
            return Serve(host or defaults()["serve.host"], port or defaults()["serve.port"],
                         "--host" if host else "unset: Open WebUI default (open_webui/__init__.py"
                         " serve host='0.0.0.0')", auth)
    return None


def _flag(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None
