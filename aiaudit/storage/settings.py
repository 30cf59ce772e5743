"""The `[storage]` section of the audit config, validated by the area itself.

Keys (all optional):
  key_file        auditor-side file holding the SQLCipher key of the history store(s)
  key_env         or an environment variable holding it
  keys            [[storage.keys]] tables, one per store or group of stores: `path` (a
                  shell glob matched against the store's full path on the target, `*`
                  also crossing `/`) and `key_file` or `key_env`; the first entry whose
                  glob matches gives the key, else key_file/key_env above. A key is a
                  SQLCipher passphrase, or a raw key of 64 hex characters (96 with the
                  salt), which is tried as `x'...'` first
  backup_dirs     directories on the target where backups of the stores are written
  service_user    the account the AI service runs as (default: found from the process
                  holding the store open, else the owner of the state dir)
  chat_endpoint   name of the [[endpoints]] entry STO-06 plants its canary through
                  (default: the first endpoint)
  search_homes    look for app layouts below /root and /home/* (default true)
  max_copy_mb     largest store copied to the auditor for SQL checks (default 4096)
  databases       [[storage.databases]] tables, one per app database on a PostgreSQL
                  server: `app` (open-webui, n8n, litellm), `dsn` (a postgresql:// URI
                  or libpq string WITHOUT its password, as psql on the target reaches it)
                  and at most one of `password_env` / `password_file` (auditor side)
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from aiaudit.config import Credential, SettingsError
from aiaudit.status import CouldNotCheck

_TYPES: dict[str, type | tuple[type, ...]] = {
    "key_file": str, "key_env": str, "backup_dirs": list, "service_user": str,
    "chat_endpoint": str, "search_homes": bool, "max_copy_mb": int, "keys": list,
    "databases": list,
}
_DB_FIELDS = ("app", "dsn", "password_env", "password_file")
_KEY_FIELDS = {"path": str, "key_file": str, "key_env": str}


@dataclass(frozen=True)
class StoreKey:
    """Where the key of the stores matching `path` comes from."""

    path: str  # shell glob over the store's full path
    credential: Credential
    where: str  # how the audit config names it, for messages

    def matches(self, store_path: str) -> bool:
        return fnmatch.fnmatchcase(store_path, self.path)

    def read(self) -> str | None:
        try:
            return self.credential.read()
        except OSError as exc:
            raise CouldNotCheck(f"{self.where} {self.credential.describe()}: "
                                f"{exc.strerror or exc}") from None


@dataclass(frozen=True)
class DatabaseEntry:
    """One [[storage.databases]] table: an app's database and where its password is."""

    app: str
    dsn: str  # without password
    credential: Credential | None
    where: str


@dataclass(frozen=True)
class StorageSettings:
    key_file: str | None = None
    key_env: str | None = None
    backup_dirs: tuple[str, ...] = ()
    service_user: str | None = None
    chat_endpoint: str | None = None
    search_homes: bool = True
    max_copy_mb: int = 4096
    keys: tuple[StoreKey, ...] = ()
    databases: tuple[DatabaseEntry, ...] = ()

    def key_source(self, store_path: str) -> StoreKey | None:
        """The configured key of one store: its [[storage.keys]] entry, else the default."""
        for entry in self.keys:
            if entry.matches(store_path):
                return entry
        if self.key_file or self.key_env:
            return StoreKey("*", Credential(env=self.key_env, file=self.key_file),
                            "[storage] key_file/key_env")
        return None

    def key_for(self, store_path: str) -> str | None:
        """The SQLCipher key of one store, read only when a proof needs it (and registered
        for redaction); None when none is configured for it."""
        source = self.key_source(store_path)
        return source.read() if source else None

    def has_key_for(self, store_path: str) -> bool:
        return self.key_source(store_path) is not None

    def describe_key(self, store_path: str) -> str:
        source = self.key_source(store_path)
        if source is None:
            return "no key configured"
        return f"the key of {source.where} ({source.credential.describe()})"


def parse_settings(raw: dict[str, Any]) -> StorageSettings:
    """Validate the raw table; a bad key is a config problem the auditor must see."""
    for key, value in raw.items():
        if key not in _TYPES:
            known = ", ".join(sorted(_TYPES))
            raise SettingsError("storage", key, f"unknown key (known: {known})")
        expected = _TYPES[key]
        if isinstance(value, bool) and expected is not bool or not isinstance(value, expected):
            raise SettingsError("storage", key,
                                f"expected {getattr(expected, '__name__', expected)}")
    keys = tuple(_store_key(i, entry) for i, entry in enumerate(raw.get("keys", [])))
    dirs = raw.get("backup_dirs", [])
    if not all(isinstance(d, str) and d.startswith("/") for d in dirs):
        raise SettingsError("storage", "backup_dirs", "must be a list of absolute paths")
    return StorageSettings(
        key_file=raw.get("key_file"), key_env=raw.get("key_env"),
        backup_dirs=tuple(dirs), service_user=raw.get("service_user"),
        chat_endpoint=raw.get("chat_endpoint"), search_homes=raw.get("search_homes", True),
        max_copy_mb=raw.get("max_copy_mb", 4096), keys=keys,
        databases=tuple(_database(i, e) for i, e in enumerate(raw.get("databases", []))),
    )


def _database(index: int, entry: Any) -> DatabaseEntry:
    """One [[storage.databases]] table; a password written into the DSN is refused (secrets
    are never literal in the audit config)."""
    from aiaudit.products import pg_apps
    from aiaudit.storage.pgread import is_pg_url, split_password

    name = f"databases[{index}]"
    if not isinstance(entry, dict):
        raise SettingsError("storage", name, "expected a [[storage.databases]] table")
    for key, value in entry.items():
        if key not in _DB_FIELDS:
            raise SettingsError("storage", f"{name}.{key}",
                                f"unknown key (known: {', '.join(_DB_FIELDS)})")
        if not isinstance(value, str) or not value:
            raise SettingsError("storage", f"{name}.{key}", "expected a non-empty string")
    apps = pg_apps.names()
    if entry.get("app") not in apps:
        raise SettingsError("storage", f"{name}.app", f"required: one of {', '.join(apps)}")
    dsn = entry.get("dsn", "")
    if not dsn:
        raise SettingsError("storage", f"{name}.dsn", "required: the database's "
                            "postgresql:// URI (without password)")
    if is_pg_url(dsn):
        dsn, password = split_password(dsn)
    else:
        password = "password=" in dsn.lower() and "x"
    if password:
        raise SettingsError("storage", f"{name}.dsn", "literal secrets are not allowed: "
                            "drop the password from the DSN and name it with password_env "
                            "or password_file")
    if "password_env" in entry and "password_file" in entry:
        raise SettingsError("storage", name, "needs at most one of password_env or "
                            "password_file")
    cred = (Credential(env=entry.get("password_env"), file=entry.get("password_file"))
            if "password_env" in entry or "password_file" in entry else None)
    return DatabaseEntry(entry["app"], dsn, cred, f"[[storage.databases]] {name}")


def _store_key(index: int, entry: Any) -> StoreKey:
    """One [[storage.keys]] table: a path glob and exactly one of key_file / key_env."""
    name = f"keys[{index}]"
    if not isinstance(entry, dict):
        raise SettingsError("storage", name, "expected a [[storage.keys]] table")
    for key, value in entry.items():
        if key not in _KEY_FIELDS:
            raise SettingsError("storage", f"{name}.{key}",
                                "unknown key (known: key_env, key_file, path)")
        if not isinstance(value, str) or not value:
            raise SettingsError("storage", f"{name}.{key}", "expected a non-empty string")
    if "path" not in entry or not entry["path"].startswith(("/", "*")):
        raise SettingsError("storage", f"{name}.path",
                            "required: a glob over the store's absolute path")
    if ("key_file" in entry) == ("key_env" in entry):
        raise SettingsError("storage", name, "needs exactly one of key_file or key_env")
    return StoreKey(entry["path"], Credential(env=entry.get("key_env"),
                                              file=entry.get("key_file")),
                    f"[[storage.keys]] path = {entry['path']!r}")


def settings_for(ctx: Any) -> StorageSettings:
    """The run's storage settings (parsed once; a bad section makes checks ERROR)."""
    try:
        return ctx.cached("storage:settings",
                          lambda: parse_settings(ctx.config.area_section("storage")))
    except ValueError as exc:
        raise CouldNotCheck(f"audit config: {exc}") from None
