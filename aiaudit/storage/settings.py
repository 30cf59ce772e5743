"""The `[storage]` section of the audit config, validated by the area itself.

Keys (all optional):
  key_file        auditor-side file holding the SQLCipher key of the history store(s)
  key_env         or an environment variable holding it
  backup_dirs     directories on the target where backups of the stores are written
  service_user    the account the AI service runs as (default: found from the process
                  holding the store open, else the owner of the state dir)
  chat_endpoint   name of the [[endpoints]] entry STO-06 plants its canary through
                  (default: the first endpoint)
  search_homes    look for app layouts below /root and /home/* (default true)
  max_copy_mb     largest store copied to the auditor for SQL checks (default 4096)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiaudit.config import Credential, SettingsError
from aiaudit.status import CouldNotCheck

_TYPES: dict[str, type | tuple[type, ...]] = {
    "key_file": str, "key_env": str, "backup_dirs": list, "service_user": str,
    "chat_endpoint": str, "search_homes": bool, "max_copy_mb": int,
}


@dataclass(frozen=True)
class StorageSettings:
    key_file: str | None = None
    key_env: str | None = None
    backup_dirs: tuple[str, ...] = ()
    service_user: str | None = None
    chat_endpoint: str | None = None
    search_homes: bool = True
    max_copy_mb: int = 4096

    def key(self) -> str | None:
        """The SQLCipher key, read only when a proof needs it (and registered for redaction)."""
        try:
            return Credential(env=self.key_env, file=self.key_file).read()
        except OSError as exc:
            raise CouldNotCheck(f"[storage] key_file {self.key_file}: "
                                f"{exc.strerror or exc}") from None

    @property
    def has_key(self) -> bool:
        return bool(self.key_file or self.key_env)


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
    dirs = raw.get("backup_dirs", [])
    if not all(isinstance(d, str) and d.startswith("/") for d in dirs):
        raise SettingsError("storage", "backup_dirs", "must be a list of absolute paths")
    return StorageSettings(
        key_file=raw.get("key_file"), key_env=raw.get("key_env"),
        backup_dirs=tuple(dirs), service_user=raw.get("service_user"),
        chat_endpoint=raw.get("chat_endpoint"), search_homes=raw.get("search_homes", True),
        max_copy_mb=raw.get("max_copy_mb", 4096),
    )


def settings_for(ctx: Any) -> StorageSettings:
    """The run's storage settings (parsed once; a bad section makes checks ERROR)."""
    try:
        return ctx.cached("storage:settings",
                          lambda: parse_settings(ctx.config.area_section("storage")))
    except ValueError as exc:
        raise CouldNotCheck(f"audit config: {exc}") from None
