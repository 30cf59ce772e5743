"""Conversation stores kept in PostgreSQL by the apps that support it (Open WebUI's
`DATABASE_URL=postgresql://...`): found where the app reads its URL, read with bounded,
read-only SQL on the app's own schema (aiaudit/storage/pgread.py).

Where a database comes from: a `[[storage.databases]]` entry (DSN without password, the
password from the auditor's env or a file), or the `Environment=` of a deployment unit
(`[deployment] units`) that sets the app's URL variable; the password of such a URL is the
app's own and is used only to read, never printed (registered for redaction).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiaudit.hostfs import HostFS
from aiaudit.products import pg_apps
from aiaudit.status import CouldNotCheck
from aiaudit.storage.locate import Store
from aiaudit.storage.pgread import (
    MAX_VALUE,
    PgDatabase,
    is_pg_url,
    query,
    quote_ident,
    split_password,
    tables,
)
from aiaudit.storage.settings import settings_for

KIND = "postgresql"
HIDDEN = {"archived", "deleted", "is_deleted"}  # flags that hide a row and keep it
TEXT_ROWS = 2000  # newest rows of each history table whose text is scanned
TEXT_BATCH = 200  # rows per query (each answer at most 200 x MAX_VALUE per column)
TEXT_BUDGET = 512 * 2**20  # characters of history text read in all


def databases(ctx: Any) -> list[PgDatabase]:
    """Every app database of the deployment (cached per run), the configured ones first."""

    def compute() -> list[PgDatabase]:
        from aiaudit.scope import scope_for, unit_settings

        found: dict[tuple[str, str], PgDatabase] = {}
        for entry in settings_for(ctx).databases:
            db = PgDatabase(entry.app, entry.dsn, entry.where, entry.credential)
            found.setdefault((db.app, db.dsn), db)
        scope = scope_for(ctx)
        schemas = [s for app in pg_apps.names() if (s := pg_apps.schema(app))]
        units: dict[str, dict[str, str]] = {}
        for unit, key, value in unit_settings(scope.fs, scope.units):
            units.setdefault(unit, {})[key] = value  # a later Environment= line wins
        envs = [(s, env, f"unit {unit}") for unit, env in units.items() for s in schemas
                if s.runs(env.get("ExecStart", ""))]  # not another program's DATABASE_URL
        envs += [(s, env, f"pid {pid}") for pid, s, env in _process_envs(scope, schemas)]
        for s, env, whose in envs:
            got = pg_apps.url_from_env(s, env)
            if got is None or not is_pg_url(got[0]):
                continue
            dsn, password = split_password(got[0])
            db = PgDatabase(s.app, dsn, f"{got[1]} in the environment of {whose}",
                            app_password=password)
            found.setdefault((db.app, db.dsn), db)
        return list(found.values())

    return ctx.cached("storage:pg-databases", compute)


def _process_envs(scope: Any, schemas: list[pg_apps.PgSchema]
                  ) -> list[tuple[int, pg_apps.PgSchema, dict[str, str]]]:
    """(pid, app, its database variables) of the deployment's running app processes, from
    /proc/PID/environ (readable to root or the process's own account; a closed one names
    no database here, and the process itself is reported by the areas that list it)."""
    import shlex

    from aiaudit.scope import processes

    names = sorted({n for s in schemas for n in (*s.url_envs, *s.url_parts)})
    mine = [(p, s) for p in processes(scope.fs) if p.env_read and scope.owns_process(p)
            for s in schemas if s.runs(p.cmdline)]
    if not mine:
        return []
    pattern = shlex.quote("^(" + "|".join(names) + ")=")
    script = "; ".join(
        f"printf '#%s\\n' {p.pid}; tr '\\0' '\\n' < /proc/{p.pid}/environ 2>/dev/null "
        f"| grep -E {pattern} | head -n 20" for p, _ in mine) + "; true"
    _, out, _ = scope.fs.run(script, timeout=30)
    envs: dict[int, dict[str, str]] = {}
    pid = 0
    for line in out.splitlines():
        if line.startswith("#") and line[1:].isdigit():
            pid = int(line[1:])
            envs[pid] = {}
        elif pid and "=" in line:
            key, _, value = line.partition("=")
            envs[pid][key] = value
    return [(p.pid, s, envs.get(p.pid, {})) for p, s in mine]


def pg_stores(ctx: Any) -> list[Store]:
    """One store per app database, judged by STO-01/02/03/07 like a file store."""
    return [Store(db.app, KIND, db.dsn, "", (), (), db.found_by, {"database": db.name})
            for db in databases(ctx)]


def database_of(ctx: Any, store: Store) -> PgDatabase:
    for db in databases(ctx):
        if (db.app, db.dsn) == (store.app, store.path):
            return db
    raise CouldNotCheck(f"{store.path}: no database entry for it (internal)")


def known_schema(db: PgDatabase) -> pg_apps.PgSchema:
    """The app's schema facts; an app whose tables the suite does not read yet (n8n on
    PostgreSQL) is MANUAL naming the tables to check, never an empty PASS."""
    from aiaudit.storage.pgread import PgUnavailable

    s = pg_apps.schema(db.app)
    if s is None or not s.known:
        tables_ = ", ".join(s.unread_tables) if s else "its history tables"
        raise PgUnavailable(f"{db.name} is {db.app}'s PostgreSQL database ({db.found_by}); "
                            f"this suite does not read {db.app}'s PostgreSQL schema yet: "
                            f"check {tables_} by hand")
    return s


@dataclass
class PgHistory:
    """What the app's history tables hold, as read through SQL."""

    db: PgDatabase
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows it holds
    dated: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows dated
    oldest: float | None = None  # epoch seconds
    oldest_where: str = ""
    owners: dict[str, int] = field(default_factory=dict)  # user id -> history rows
    users: int = 0  # accounts in the app's users table
    missing: list[str] = field(default_factory=list)  # history tables not in the schema
    hidden: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows archived
    # or soft-deleted: hidden from the user, still stored

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _epoch(column: str, unit: str) -> str:
    if unit == "ms":
        return f"min({column}) / 1000.0"
    if unit == "timestamp":
        return f"extract(epoch FROM min({column}))"
    return f"min({column})::float8"


def read_history(ctx: Any, store: Store) -> PgHistory:
    """Row counts, the oldest time and the rows per owner of every history table (cached)."""

    def compute() -> PgHistory:
        db = database_of(ctx, store)
        schema = known_schema(db)
        fs = HostFS.for_context(ctx)
        out = PgHistory(db)
        have = tables(fs, db)
        if not have:
            raise CouldNotCheck(f"{db.name}: the connecting role sees no table in its "
                                "current schema (wrong database, or no USAGE on the schema)")
        for t in schema.history if schema else ():
            if t.name not in have:
                out.missing.append(t.name)
                continue
            cols = [c for c in t.dated if c in have[t.name]]
            parts = ["count(*) AS n"] + [
                f"{_epoch(quote_ident(c), t.unit)} AS {quote_ident('min_' + c)}" for c in cols]
            parts += [f"count({quote_ident(c)}) AS {quote_ident('n_' + c)}" for c in cols]
            row = query(fs, db, f"SELECT {', '.join(parts)} FROM {quote_ident(t.name)}")[0]
            out.rows[t.name] = int(row["n"])
            for c in cols:
                out.dated[f"{t.name}.{c}"] = int(row[f"n_{c}"])
                value = row[f"min_{c}"]
                if value is not None and (out.oldest is None or float(value) < out.oldest):
                    out.oldest, out.oldest_where = float(value), f"{t.name}.{c}"
            for c in HIDDEN & have[t.name]:
                n = int(query(fs, db, f"SELECT count(*) AS n FROM {quote_ident(t.name)} "
                              f"WHERE {quote_ident(c)}::text IN ('true', '1')")[0]["n"])
                if n:
                    out.hidden[f"{t.name}.{c}"] = n
            if t.owner and t.owner in have[t.name]:
                for r in query(fs, db, f"SELECT {quote_ident(t.owner)} AS u, count(*) AS n "
                               f"FROM {quote_ident(t.name)} GROUP BY 1"):
                    key = str(r["u"])
                    out.owners[key] = out.owners.get(key, 0) + int(r["n"])
        if schema and schema.users_table in have:
            out.users = int(query(fs, db, "SELECT count(*) AS n FROM "
                                  f"{quote_ident(schema.users_table)}")[0]["n"])
        return out

    return ctx.cached(f"storage:pg-history:{store.path}", compute)


def history_texts(ctx: Any, store: Store) -> tuple[list[tuple[str, str]], int, str]:
    """(location, text) of the newest TEXT_ROWS rows of each history table (each value cut
    at MAX_VALUE characters), how many values were cut, and why the read stopped early
    ("" when it did not)."""
    db = database_of(ctx, store)
    schema = known_schema(db)
    fs = HostFS.for_context(ctx)
    have = tables(fs, db)
    values: list[tuple[str, str]] = []
    cut = 0
    budget = TEXT_BUDGET
    for t in schema.history if schema else ():
        cols = [c for c in t.text if c in have.get(t.name, set())]
        if not cols:
            continue
        key = "id" if "id" in have[t.name] else "ctid"
        picks = ", ".join(f"left({quote_ident(c)}::text, {MAX_VALUE}) AS {quote_ident(c)}, "
                          f"length({quote_ident(c)}::text) AS {quote_ident('len_' + c)}"
                          for c in cols)
        order = t.order if t.order in have[t.name] else key
        for offset in range(0, TEXT_ROWS, TEXT_BATCH):  # batches bound each answer's size
            rows = query(fs, db, f"SELECT {key}::text AS k, {picks} FROM "
                         f"{quote_ident(t.name)} ORDER BY {quote_ident(order)} DESC NULLS "
                         f"LAST, {key} LIMIT {TEXT_BATCH} OFFSET {offset}")
            for r in rows:
                for c in cols:
                    if r.get(c):
                        values.append((f"{db.name}/{t.name}[{r['k']}].{c}", str(r[c])))
                        budget -= len(str(r[c]))
                        cut += int((r.get(f"len_{c}") or 0) > MAX_VALUE)
            if len(rows) < TEXT_BATCH or budget <= 0:
                break
        if budget <= 0:
            return values, cut, (f"{db.name}: its history text exceeds "
                                 f"{TEXT_BUDGET // 2**20} MiB (read up to {t.name}): not "
                                 "wholly read")
    return values, cut, ""


def age_days(epoch: float) -> float:
    return (time.time() - epoch) / 86400.0


_LOCAL_HOSTS = ("", "localhost", "127.0.0.1", "::1")


def data_dir_of(ctx: Any, store: Store) -> tuple[str, str]:
    """(the data directory of the server holding the database, how it was told): the
    server's own `data_directory` setting (superuser or pg_read_all_settings), else the one
    PostgreSQL server running on the target when the DSN reaches a local server."""
    from urllib.parse import parse_qs, urlsplit

    from aiaudit.storage.dbservers import running_servers
    from aiaudit.storage.pgread import PgUnavailable

    db = database_of(ctx, store)
    fs = HostFS.for_context(ctx)
    parts = urlsplit(db.dsn)
    host = parts.hostname or parse_qs(parts.query).get("host", [""])[0]
    local = host in _LOCAL_HOSTS or host.startswith("/")
    refused = ""
    try:
        row = query(fs, db, "SELECT current_setting('data_directory') AS d")[0]
        if local:
            return str(row["d"]), f"data_directory of the server holding {db.name}"
        raise PgUnavailable(f"{db.name}: the server is on {host}, its data directory "
                            f"{row['d']} is there: judge that host's disk encryption (audit "
                            "it as a target of its own)")
    except CouldNotCheck as exc:
        if "pg_read_all_settings" not in str(exc) and "superuser" not in str(exc):
            raise
        refused = "the connecting role may not read data_directory (pg_read_all_settings)"
    servers = [s for s in running_servers(ctx) if s.kind == "postgres"]
    if local and len(servers) == 1:
        server = servers[0]
        return server.path, (f"{refused}; the only PostgreSQL server running on the target "
                             f"({server.found_by}, data dir from its -D)")
    where = "" if local else f" (the database is on {host})"
    raise PgUnavailable(f"{db.name}: {refused}, and {len(servers)} PostgreSQL server(s) run "
                        f"on the target{where}: tell whether its data directory is on an "
                        "encrypted disk, or grant the audit role pg_read_all_settings")


def sqlite_copy(ctx: Any, store: Store, wanted: dict[str, list[str]],
                max_rows: int = 20_000, max_cell: int = 1024 * 1024) -> Any:
    """A private in-memory SQLite copy of some tables of an app's PostgreSQL database
    ({table: columns}, every value as text, bounded), so the suite's SQLite readers of the
    same app schema (config tables, Open WebUI's plugin rows) judge it by one logic."""
    import sqlite3

    from aiaudit.storage.sqlitefacts import _quote

    db = database_of(ctx, store)
    fs = HostFS.for_context(ctx)
    mem = sqlite3.connect(":memory:")
    for table, cols in sorted(wanted.items()):
        if not cols:
            continue
        picks = ", ".join(f"left({quote_ident(c)}::text, {max_cell}) AS {quote_ident(c)}"
                          for c in cols)
        rows = query(fs, db, f"SELECT {picks} FROM {quote_ident(table)} LIMIT {max_rows}")
        mem.execute(f"CREATE TABLE {_quote(table)} ("
                    + ", ".join(f"{_quote(c)} TEXT" for c in cols) + ")")
        mem.executemany(f"INSERT INTO {_quote(table)} VALUES ("
                        + ", ".join("?" for _ in cols) + ")",
                        [tuple(r.get(c) for c in cols) for r in rows])
    return mem


def schema_tables(ctx: Any, store: Store) -> dict[str, set[str]]:
    """{table: columns} of an app's PostgreSQL database (cached per run)."""
    return ctx.cached(f"storage:pg-tables:{store.path}",
                      lambda: tables(HostFS.for_context(ctx), database_of(ctx, store)))


def config_table_facts(ctx: Any, store: Store) -> Any:
    """STO-04's config tables of an app's PostgreSQL database, judged by the same logic as
    a SQLite store's (configtables.table_facts on the same tables): config-like tables
    whole and secret-named columns of any table, plus the product's columns kept in clear."""
    from aiaudit.products import open_webui
    from aiaudit.storage.configtables import (
        CONFIG_TABLE,
        MAX_CELL,
        MAX_ROWS,
        plaintext_credentials,
        secret_named,
        table_facts,
    )

    db = database_of(ctx, store)
    known_schema(db)  # an app whose tables are not known: MANUAL, not a generic guess
    clear = open_webui.plaintext_credential_columns() if db.app == open_webui.APP else {}
    wanted = {t: sorted(cols) if CONFIG_TABLE.search(t) else sorted(
        c for c in cols if secret_named(c) or c in clear.get(t, ()))
        for t, cols in schema_tables(ctx, store).items()}
    mem = sqlite_copy(ctx, store, wanted, MAX_ROWS, MAX_CELL)
    try:
        found = table_facts(mem, db.name)
        if clear:
            plaintext_credentials(mem, db.name, clear, found)
    finally:
        mem.close()
    return found


@dataclass(frozen=True)
class ServerCoverage:
    """Which databases of a PostgreSQL server (seen as a process) the audit read as app
    databases, and which it did not."""

    read: tuple[str, ...]  # "dbname (app)"
    unread: tuple[str, ...]
    via: str  # the database whose connection listed them ("" when none reaches the server)


def server_coverage(ctx: Any, server: Store) -> ServerCoverage:
    """The server's databases (pg_database, readable to every role) against the app
    databases read on it; the maintenance database `postgres` is left out (it holds no
    app's history unless an app was pointed at it, which then names it)."""
    from aiaudit.storage.pgread import PgUnavailable

    fs = HostFS.for_context(ctx)
    on_it = []
    for store in pg_stores(ctx):
        try:
            if data_dir_of(ctx, store)[0].rstrip("/") == server.path.rstrip("/"):
                on_it.append(database_of(ctx, store))
        except (CouldNotCheck, PgUnavailable):
            continue
    # only a database whose history tables the suite reads counts as read (n8n's: not yet)
    on_it.sort(key=lambda d: not (pg_apps.schema(d.app) and pg_apps.schema(d.app).known))
    if not on_it:
        return ServerCoverage((), (), "")
    names = [str(r["d"]) for r in query(fs, on_it[0], "SELECT datname AS d FROM pg_database "
                                        "WHERE NOT datistemplate ORDER BY 1")]
    read = {db.name.split("@", 1)[0]: db.app for db in on_it
            if (s := pg_apps.schema(db.app)) is not None and s.known}
    return ServerCoverage(tuple(f"{n} ({read[n]})" for n in names if n in read),
                          tuple(n for n in names if n not in read and n != "postgres"),
                          on_it[0].name)
