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

import fnmatch
import functools
import json
import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.products import ProductData

DATA = ProductData("open_webui")  # aiaudit/data/open_webui.toml (defaults with their sources)
APP = "open-webui"
_TRUE = ("true",)  # open_webui/env.py and config.py: os.getenv(...).lower() == 'true'

product_data = DATA
defaults = DATA.defaults
service_name = DATA.service_name
process_patterns = functools.partial(DATA.strings, "processes", "patterns")
history_routes = functools.partial(DATA.strings, "history", "routes")
management_routes = functools.partial(DATA.strings, "management", "routes")
abs_state_dirs = functools.partial(DATA.strings, "state", "abs_dirs")
secret_key_files = functools.partial(DATA.strings, "state", "secret_key_files")
plugin_tables = functools.partial(DATA.strings, "plugins", "tables")
manifest_keys = functools.partial(DATA.strings, "plugins", "manifest_keys")
# the `meta` keys Open WebUI writes itself (any other came with the saved form)
meta_own_keys = functools.partial(DATA.strings, "plugins", "meta_own_keys")
# {table: columns} that date a conversation in webui.db (epoch seconds)
conversation_time_columns = functools.partial(DATA.columns, "history", "conversation_times")
# webui.db tables of settings and credentials (STO-04's), not conversation history
settings_tables = functools.partial(DATA.strings, "history", "settings_tables")
# {table: columns} of webui.db that hold credentials in clear (not hashed)
plaintext_credential_columns = functools.partial(DATA.columns, "credentials", "plaintext")


def state_env() -> str:
    return product_data()["state"]["env"]


def db_name() -> str:
    return product_data()["state"]["db"]


def vector_db() -> str:
    return product_data()["state"]["vector_db"]


pip_data_globs = functools.partial(DATA.strings, "state", "pip_data_globs")


def is_pip_data_dir(path: str) -> bool:
    """Whether a data dir is the package's own (`open-webui serve` from a pip install
    without DATA_DIR: .../lib/python3.X/site-packages/open_webui/data)."""
    tail = product_data()["state"]["pip_data_tail"]
    parts = posixpath.normpath(path).split("/")[-len(tail):]
    return len(parts) == len(tail) and all(
        fnmatch.fnmatchcase(p, t) for p, t in zip(parts, tail, strict=True))


def venv_of(cmdline: str) -> str | None:
    """The venv an `open-webui serve` command line runs from (`<venv>/bin/open-webui serve`,
    or `<venv>/bin/python3 <venv>/bin/open-webui serve`): without DATA_DIR its data dir is
    the package's own there (open_webui/env.py)."""
    args = cmdline.split()
    for i, arg in enumerate(args):
        if posixpath.basename(arg) == "open-webui" and args[i + 1:i + 2] == ["serve"]:
            bindir = posixpath.dirname(arg)
            if bindir.startswith("/") and posixpath.basename(bindir) == "bin":
                return posixpath.dirname(bindir)
    return None


def secret_key_paths(data_dir: str) -> list[str]:
    """Where `open-webui serve` may have written `.webui_secret_key` for this data dir
    (its working directory: beside DATA_DIR in the Docker layout, beside or in the venv for
    a pip install), normalised; whether each exists is the caller's to check."""
    rels = list(secret_key_files())
    if is_pip_data_dir(data_dir):
        rels += DATA.strings("state", "pip_secret_key_files")
    return list(dict.fromkeys(posixpath.normpath(posixpath.join(data_dir, r)) for r in rels))


def is_db(path: str) -> bool:
    return posixpath.basename(path) == db_name()


def is_data_listing(names: set[str]) -> bool:
    """Whether a directory holding these top-level names is an Open WebUI DATA_DIR (its
    webui.db: open_webui/env.py DATABASE_URL default sqlite:///{DATA_DIR}/webui.db), or
    the dirs Open WebUI makes in DATA_DIR when DATABASE_URL puts webui.db elsewhere."""
    return db_name() in names or set(data_markers()) <= names


data_markers = functools.partial(DATA.strings, "state", "data_markers")


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
            return Setting(name, defaults()[name], f"unset: Open WebUI default, {DATA.file}")
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
                     f"only on request; {DATA.file} [retention])")


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


# ------------------------------------------------------------ tools, functions, skills


@dataclass(frozen=True)
class Plugin:
    """One Tool, Function or Skill row of webui.db: code Open WebUI runs (tool, function)
    or text its model reads (skill), and what the row records about itself."""

    kind: str  # its table: tool | function | skill
    id: str
    name: str
    user_id: str
    files: tuple[tuple[str, bytes], ...]  # tool/function: (<id>.py, content); skill: data.files
    meta: dict[str, Any]
    manifest: dict[str, Any]  # meta.manifest: the frontmatter of the code's own docstring
    is_active: bool | None = None  # function, skill (tools have no switch)
    is_global: bool | None = None  # function: applied to every chat
    version_id: str | None = None
    production: str | None = None  # content of the history entry version_id names
    history: int = 0  # saved versions in <table>_history
    description: str = ""

    @property
    def content(self) -> str:
        """The code (tool, function) or SKILL.md (skill) as stored."""
        main = "SKILL.md" if self.kind == "skill" else f"{self.id}.py"
        return next((d for p, d in self.files if p == main), b"").decode("utf-8", "replace")

    def requirements(self) -> list[str]:
        """The frontmatter's comma-separated `requirements` Open WebUI pip-installs."""
        raw = self.manifest.get(product_data()["plugins"]["requirements_key"]) or ""
        return [r.strip() for r in str(raw).split(",") if r.strip()]


@dataclass
class PluginTables:
    """What the plugin tables of one webui.db hold: rows per table read (absent tables
    are named: an older webui.db) and the rows themselves."""

    counts: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    plugins: list[Plugin] = field(default_factory=list)

    def describe(self) -> str:
        read = ", ".join(f"{t} {n} row(s)" for t, n in self.counts.items())
        gone = f"; no {', '.join(self.missing)} table" if self.missing else ""
        return (read or "no plugin table") + gone


def _columns(conn: Any, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _skill_files(data: Any, content: str) -> tuple[tuple[str, bytes], ...]:
    """A skill's files as Open WebUI keeps them (`data.files`, base64 when encoded); the
    SKILL.md alone when `data` holds none (models/skills.py insert_new_skill)."""
    import base64

    files = data.get("files") if isinstance(data, dict) else None
    out: list[tuple[str, bytes]] = []
    for f in files if isinstance(files, list) else []:
        if not isinstance(f, dict) or not isinstance(f.get("path"), str):
            continue
        text = f.get("content") if isinstance(f.get("content"), str) else ""
        try:
            raw = base64.b64decode(text) if f.get("encoding") == "base64" else text.encode()
        except ValueError:
            raw = text.encode()
        out.append((f["path"], raw))
    if not any(p == "SKILL.md" for p, _ in out):
        out.insert(0, ("SKILL.md", content.encode()))
    return tuple(out)


def _history(conn: Any, kind: str) -> dict[str, tuple[int, dict[str, str]]]:
    """{row id: (saved versions, {history id: snapshot content})} of a plugin table."""
    spec = next((h for h in product_data()["plugins"]["history"]
                 if h.startswith(f"{kind}_history.")), None)
    if spec is None:
        return {}
    table, col = spec.split(".", 1)
    if "snapshot" not in _columns(conn, table):
        return {}
    out: dict[str, tuple[int, dict[str, str]]] = {}
    for hid, owner, snap in conn.execute(f'SELECT id, "{col}", snapshot FROM "{table}"'):
        doc = _json(snap)
        n, seen = out.get(str(owner), (0, {}))
        seen[str(hid)] = str(doc.get("content") or "") if isinstance(doc, dict) else ""
        out[str(owner)] = (n + 1, seen)
    return out


def read_plugins(conn: Any, max_rows: int = 10_000) -> PluginTables:
    """Every Tool, Function and Skill row of an open webui.db (a private copy): read, never
    run."""
    found = PluginTables()
    for kind in plugin_tables():
        cols = _columns(conn, kind)
        if not cols:
            found.missing.append(kind)
            continue
        history = _history(conn, kind)
        want = [c for c in ("id", "name", "user_id", "content", "meta", "data", "description",
                            "is_active", "is_global", "version_id") if c in cols]
        rows = conn.execute(f'SELECT {", ".join(want)} FROM "{kind}" LIMIT {int(max_rows)}')
        n = 0
        for values in rows:
            n += 1
            row = dict(zip(want, values, strict=True))
            rid, content = str(row.get("id")), str(row.get("content") or "")
            meta = _json(row.get("meta"))
            meta = meta if isinstance(meta, dict) else {}
            manifest = meta.get("manifest") if isinstance(meta.get("manifest"), dict) else {}
            files = (_skill_files(_json(row.get("data")), content) if kind == "skill"
                     else ((f"{rid}.py", content.encode()),))
            versions, snapshots = history.get(rid, (0, {}))
            vid = row.get("version_id")
            found.plugins.append(Plugin(
                kind, rid, str(row.get("name") or rid), str(row.get("user_id") or ""), files,
                meta, manifest,
                None if row.get("is_active") is None else bool(row["is_active"]),
                None if row.get("is_global") is None else bool(row["is_global"]),
                str(vid) if vid else None, snapshots.get(str(vid)) if vid else None, versions,
                str(row.get("description") or meta.get("description") or "")))
        found.counts[kind] = n
    return found


# ------------------------------------------------------------------ per-user chat access

# models/access_grants.py PRINCIPAL_TYPE_ANYONE: a grant readable without an account
# (routers/chats.py is_open_shared_chat: GET /share/{id} with no login)
ANYONE = "anyone"
# the resources whose grants open a chat to others (models/chats.py
# get_accessible_chat_by_id: a shared chat, the chat's folder)
CHAT_GRANT_TYPES = ("shared_chat", "folder", "chat")


@dataclass(frozen=True)
class ChatAccess:
    """Who can read whose chats in one webui.db, as Open WebUI 0.12.4 decides it
    (models/chats.py get_accessible_chat_by_id): the owner; any admin while
    ENABLE_ADMIN_CHAT_ACCESS is on, and through the export of every chat while
    ENABLE_ADMIN_EXPORT is on (routers/chats.py get_all_user_chats_in_db); whoever a
    shared-chat or folder grant names, and anyone without an account for an `anyone`
    grant. Pending accounts read nothing."""

    roles: dict[str, str]  # account id -> role
    names: dict[str, str]  # account id -> email (or name) for the evidence
    chats: dict[str, int]  # owner id -> chats owned (archived ones included)
    grants: list[tuple[str, str, str, str]]  # (resource type, id, principal type, principal)
    admin_chat_access: Setting
    admin_export: Setting

    @property
    def readers(self) -> list[str]:
        """Accounts that can read chats (role user or admin: routers use
        get_verified_user)."""
        return [a for a, r in self.roles.items() if r in ("user", "admin")]

    def admin_settings(self) -> list[Setting]:
        """The settings on that hand other users' chats to admins: ENABLE_ADMIN_CHAT_ACCESS
        (any chat by id, /list/user/{id}) and ENABLE_ADMIN_EXPORT (routers/chats.py
        GET /all/db: every user's chats, models/chats.py get_chats)."""
        return [s for s in (self.admin_chat_access, self.admin_export) if flag(s.value)]

    def admin_reads(self) -> dict[str, list[str]]:
        """{admin: [owners whose chats that admin reads]} while either setting is on."""
        if not self.admin_settings():
            return {}
        admins = [a for a, r in self.roles.items() if r == "admin"]
        return {a: sorted(o for o, n in self.chats.items() if n and o != a)
                for a in admins if any(n and o != a for o, n in self.chats.items())}

    def open_grants(self) -> list[tuple[str, str, str, str]]:
        return [g for g in self.grants if g[2] == ANYONE]

    def name(self, account: str) -> str:
        return self.names.get(account) or account


def chat_access(conn: Any, config: OpenWebUIConfig) -> ChatAccess:
    """Accounts, chat owners and grants of an open webui.db, with the settings that
    widen who reads a chat."""
    roles: dict[str, str] = {}
    names: dict[str, str] = {}
    for uid, role, email, name in conn.execute(
            'SELECT id, role, email, name FROM "user"'):
        roles[str(uid)] = str(role or "")
        names[str(uid)] = str(email or name or uid)
    chats = {str(owner): int(n) for owner, n in conn.execute(
        'SELECT user_id, count(*) FROM "chat" GROUP BY user_id')}
    grants: list[tuple[str, str, str, str]] = []
    if "access_grant" in {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}:
        marks = ", ".join("?" * len(CHAT_GRANT_TYPES))
        grants = [tuple(str(c) for c in row) for row in conn.execute(  # type: ignore[misc]
            "SELECT resource_type, resource_id, principal_type, principal_id FROM "
            f"access_grant WHERE resource_type IN ({marks}) AND permission = 'read'",
            CHAT_GRANT_TYPES)]
    return ChatAccess(roles, names, chats, grants, config.get("ENABLE_ADMIN_CHAT_ACCESS"),
                      config.get("ENABLE_ADMIN_EXPORT"))
