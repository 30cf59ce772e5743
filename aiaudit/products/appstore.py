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

    def env_subdir(self) -> str:
        """The state dir below the env's folder ("" : the env names the state dir itself;
        n8n's N8N_USER_FOLDER names the folder that holds .n8n)."""
        return str(self._state().get("env_subdir", ""))

    def home_dirs(self) -> tuple[str, ...]:
        return tuple(self._state().get("home_dirs", ()))

    def abs_dirs(self) -> tuple[str, ...]:
        return tuple(self._state().get("abs_dirs", ()))

    def pip_dirs(self) -> tuple[str, ...]:
        """Globs, relative to a named dir (a venv, or a home holding one), of the app's
        package dir in a pip install, where the app keeps its store by default (Langflow's
        langflow.db): each one holding a store is a state dir of the app."""
        return tuple(self._state().get("pip_dirs", ()))

    def is_package_dir(self, path: str) -> bool:
        """Whether a dir is the app's package dir in a pip install (lib/python3.X/
        site-packages/<pkg>, the tail every `pip_dirs` glob ends in)."""
        from fnmatch import fnmatchcase

        parts = posixpath.normpath(path).split("/")
        for glob in self.pip_dirs():
            tail = glob.split("/")[-4:]
            if len(parts) >= len(tail) and all(
                    fnmatchcase(p, t) for p, t in zip(parts[-len(tail):], tail, strict=True)):
                return True
        return False

    def owns_file_in_package(self, name: str) -> bool:
        """Whether a file in the app's package dir is its store or a copy of it
        (langflow.db, langflow.db-wal, langflow.db.bak): the rest is the package's code."""
        return any(name.startswith(posixpath.basename(g)) for g in self.dbs())

    def dbs(self) -> tuple[str, ...]:
        """Store globs relative to the state dir."""
        return tuple(self._state()["dbs"])

    def db_url_env(self) -> str | None:
        """The env variable whose database URL puts the store anywhere (Langflow's
        LANGFLOW_DATABASE_URL), if the app has one."""
        return self._state().get("db_url_env")

    def env_file_flag(self) -> str | None:
        """The command-line flag naming an env file the app loads over its environment."""
        return self._state().get("env_file_flag")

    def sqlite_path(self, url: str) -> str | None:
        """The absolute store file a sqlite URL names (sqlite:////abs, sqlite+driver:///),
        None for another database or a path relative to an unknown working dir."""
        scheme, sep, rest = url.strip().partition(":///")
        if not sep or scheme.split("+")[0] != "sqlite":
            return None
        path = rest.split("?", 1)[0]
        return posixpath.normpath(path) if path.startswith("/") else None

    def config_files(self) -> tuple[str, ...]:
        """Files relative to the state dir that may hold secrets (read by STO-04)."""
        return tuple(self._state().get("config_files", ()))

    def pip_key_files(self, package_dir: str) -> list[str]:
        """Where the app keeps its own key files when its store is in its pip package dir
        (Langflow: the ~/.cache/langflow of the home holding the venv)."""
        if not self.is_package_dir(package_dir):
            return []
        return [posixpath.normpath(posixpath.join(package_dir, rel, name))
                for rel in self._state().get("pip_config_dirs", ())
                for name in self.key_files()]

    def key_files(self) -> tuple[str, ...]:
        """The app's own generated key store (n8n's `config` with its encryptionKey): read
        and named by STO-04, not a literal secret in config (the app writes it and needs it
        beside its data, as Langflow's secret_key); STO-05 judges who may read it."""
        return tuple(self._state().get("key_files", ()))

    def json_stores(self) -> tuple[str, ...]:
        """JSON history files relative to the state dir (MLflow's file store traces)."""
        return tuple(self._state().get("json_stores", ()))

    def logs(self) -> tuple[str, ...]:
        """JSON-lines history files relative to the state dir (n8n's event log)."""
        return tuple(self._state().get("logs", ()))

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

    def history_routes(self) -> tuple[str, ...]:
        """Read-only routes of the app's API that list conversations (STO-08)."""
        return tuple(self.data().get("history", {}).get("routes", ()))

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

    def retention(self, env: dict[str, str] | None = None) -> Retention:
        """The app's retention; `env`: the app's environment as the audit could read it
        (settings the app takes from its environment, n8n's EXECUTIONS_DATA_*)."""
        r = self.data()["retention"]
        if r["setting"] == "env":
            return self._env_retention(r, env or {})
        if r["setting"] == "none":
            return Retention(False, False, None,
                             f"{self.data.service_name()} {self.data()['version']} has no "
                             f"setting that ages conversations out ({self.data.file} "
                             "[retention] cites the source): judged by the data")
        return Retention(True, bool(r.get("enabled")), r.get("days"), str(r.get("detail", "")))

    def _env_retention(self, r: dict, env: dict[str, str]) -> Retention:
        name = f"{self.data.service_name()} {self.data()['version']}"
        unit = " hours" if r.get("age_unit_hours") else " days"

        def shown(var: str, default: object, suffix: str = "") -> str:
            return f"{var}={env[var]}{suffix}" if var in env else \
                f"{var} unset ({name} default {default}{suffix}, {self.data.file})"

        on_raw = env.get(r["enabled_env"])
        enabled = bool(r["enabled_default"]) if on_raw is None else \
            on_raw.strip().lower() in ("true", "1", "yes")
        prune = shown(r["enabled_env"], str(r["enabled_default"]).lower())
        if not enabled:
            return Retention(True, False, None, f"{prune}: {r['covers']} never pruned")
        raw = env.get(r["age_env"], str(r["age_default"]))
        try:
            age = float(raw)
        except ValueError:
            return Retention(True, False, None, f"{r['age_env']}={raw!r} is not a number")
        days = age / 24 if r.get("age_unit_hours") else age
        return Retention(True, True, days, f"{prune}, {shown(r['age_env'], r['age_default'], unit)}"
                         f": {r['covers']} pruned after {days:g} days")

    def log_retention(self) -> str:
        """How the app's JSON-lines logs age out, when its retention setting does not cover
        them ("" : the setting covers every store)."""
        r = self.data()["retention"]
        return (f"{self.data.service_name()} {self.data()['version']}: {r['logs']} "
                f"({self.data.file} [retention] cites the source): judged by the data"
                if r.get("logs") else "")

    def retention_env(self) -> tuple[str, ...]:
        """The environment variables the app's retention reads."""
        r = self.data()["retention"]
        return (r["enabled_env"], r["age_env"]) if r["setting"] == "env" else ()


def store_apps() -> dict[str, StoreApp]:
    """Every app described this way, by its app name (the layouts' `app`)."""
    from aiaudit.products import flowise, langflow, llm_cli, mlflow_traces, n8n

    return {p.app: p for p in (langflow.PRODUCT, flowise.PRODUCT, mlflow_traces.PRODUCT,
                               llm_cli.PRODUCT, n8n.PRODUCT)}


def store_app(app: str) -> StoreApp | None:
    return store_apps().get(app)


def owner_of(path: str, conn: Any, listed: str) -> StoreApp | None:
    """The app whose store this is, by its schema: the app it was listed under when its
    marker tables are there, else another app that names its store alike and whose tables
    are (n8n's and Flowise's are both `database.sqlite`; a copy in a dir named neither
    `.n8n` nor `.flowise` is listed under the first; a store a database URL names is
    listed under its app whatever its name); None: no app's schema."""
    # the app it was listed under counts whatever the file's name: a database URL setting
    # (LANGFLOW_DATABASE_URL) may name the store anything
    apps = [a for a in store_apps().values() if a.is_db(path) or a.app == listed]
    apps.sort(key=lambda a: a.app != listed)
    return next((a for a in apps if a.owns(conn)), None)
