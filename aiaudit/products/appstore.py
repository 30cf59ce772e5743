"""Apps that keep conversation history in a SQLite store of their own (Langflow, ...):
one reader of their data files (`aiaudit/data/<app>.toml`, every fact with its source)
for the storage controls. Each app's module (`aiaudit/products/langflow.py`, ...) is one
`StoreApp`; what differs between apps is data, not code.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from aiaudit.products import ProductData


@dataclass(frozen=True)
class Retention:
    """The app's own retention of conversations, as its source applies it."""

    exists: bool  # a setting that ages conversations out exists
    enabled: bool
    days: float | None
    detail: str


class StoreApp:
    """An app's state dir, stores, secret files and history schema, from its data file."""

    def __init__(self, app: str, data: str):
        self.app = app
        self.data = ProductData(data)

    def _state(self) -> dict:
        return self.data()["state"]

    def state_env(self) -> str | None:
        return self._state().get("env")

    def home_dirs(self) -> tuple[str, ...]:
        return tuple(self._state().get("home_dirs", ()))

    def abs_dirs(self) -> tuple[str, ...]:
        return tuple(self._state().get("abs_dirs", ()))

    def dbs(self) -> tuple[str, ...]:
        """Store globs relative to the state dir."""
        return tuple(self._state()["dbs"])

    def config_files(self) -> tuple[str, ...]:
        """Files relative to the state dir that may hold secrets (read by STO-04)."""
        return tuple(self._state().get("config_files", ()))

    def is_db(self, path: str) -> bool:
        from fnmatch import fnmatch

        return any(fnmatch(posixpath.basename(path), posixpath.basename(g))
                   for g in self.dbs())

    def marker_tables(self) -> tuple[str, ...]:
        """Tables every store of the app has: a file of the same name without them (n8n's
        database.sqlite is named like Flowise's) is another app's, judged generically."""
        return tuple(self._state().get("tables", ()))

    def owns(self, conn: Any) -> bool:
        """Whether an open store copy has the app's schema (its marker tables)."""
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = "
                                            "'table'")}
        return all(t in names for t in self.marker_tables())

    def conversation_time_columns(self) -> dict[str, tuple[str, ...]]:
        """{table: columns} that date a conversation in the app's own schema."""
        return self.data.columns("history", "conversation_times")

    def config_tables(self) -> tuple[str, ...]:
        """Tables the app keeps user-set variables or credentials in (STO-04 reads them)."""
        return tuple(self.data().get("credentials", {}).get("tables", ()))

    def not_secret_columns(self) -> tuple[str, ...]:
        """"table.column"s with secret-like names that the app's source shows hold none."""
        return tuple(self.data().get("credentials", {}).get("not_secret", ()))

    def encrypted_columns(self) -> dict[str, tuple[str, ...]]:
        """{table: columns} the app encrypts before it writes them (its source says so)."""
        return self.data.columns("credentials", "encrypted_columns") \
            if "encrypted_columns" in self.data().get("credentials", {}) else {}

    def retention(self) -> Retention:
        r = self.data()["retention"]
        if r["setting"] == "none":
            return Retention(False, False, None,
                             f"{self.data.service_name()} {self.data()['version']} has no "
                             f"setting that ages conversations out ({self.data.file} "
                             "[retention] cites the source): judged by the data")
        return Retention(True, bool(r.get("enabled")), r.get("days"), str(r.get("detail", "")))


def store_apps() -> dict[str, StoreApp]:
    """Every app described this way, by its app name (the layouts' `app`)."""
    from aiaudit.products import flowise, langflow, llm_cli, mlflow_traces

    return {p.app: p for p in (langflow.PRODUCT, flowise.PRODUCT, mlflow_traces.PRODUCT,
                               llm_cli.PRODUCT)}


def store_app(app: str) -> StoreApp | None:
    return store_apps().get(app)
