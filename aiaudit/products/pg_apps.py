"""Apps that keep their history in PostgreSQL: the variable their database URL is read from
and the tables of their own schema that hold conversations (what dates a row, what text
it holds, whose it is). Each app's facts live in its data file's `[postgres]` section
(`aiaudit/data/<product>.toml`, with the source file of each); this module only reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from aiaudit.products import ProductData

# product name as the suite calls it -> its data file
_DATA = {"open-webui": "open_webui", "n8n": "n8n"}


@dataclass(frozen=True)
class PgTable:
    """One history table of the app's schema."""

    name: str
    dated: tuple[str, ...]  # columns that date a row (its own times, never the account's)
    unit: str  # "s" (epoch seconds), "ms", or "timestamp" (a SQL timestamp)
    text: tuple[str, ...]  # columns holding conversation text
    owner: str  # column naming the user the row belongs to ("" when none)
    order: str  # newest first, for the bounded read of texts


@dataclass(frozen=True)
class PgSchema:
    app: str
    version: str
    url_envs: tuple[str, ...]  # where the app reads its database URL
    url_parts: tuple[str, ...]  # type, user, password, host, port, name: a URL when all set
    history: tuple[PgTable, ...]
    users_table: str  # the app's accounts table ("" when none)
    source: str  # the data file naming the sources
    commands: tuple[str, ...] = ()  # regexes of the app's command line (a unit's ExecStart)
    # n8n's form: DB_TYPE=postgresdb and DB_POSTGRESDB_* parts (host, port, database, user,
    # password, schema) with their defaults
    type_env: str = ""
    type_value: str = ""
    parts: tuple[str, ...] = ()
    part_defaults: tuple[str, ...] = ()
    unread_tables: tuple[str, ...] = ()  # an app whose history tables are not known yet

    @property
    def known(self) -> bool:
        """Whether the suite reads this app's history tables (else: MANUAL naming them)."""
        return bool(self.history)

    def runs(self, command: str) -> bool:
        """Whether a unit's ExecStart starts this app (its URL variable is then its own:
        LiteLLM's proxy reads a DATABASE_URL too)."""
        return any(re.search(p, command) for p in self.commands)


def names() -> tuple[str, ...]:
    return tuple(_DATA)


def schema(app: str) -> PgSchema | None:
    """The app's PostgreSQL facts, None for an app the suite has none for."""
    name = _DATA.get(app)
    if name is None:
        return None
    data = ProductData(name)
    pg = data()["postgres"]
    tables = tuple(PgTable(t["name"], tuple(t["dated"]), t["unit"], tuple(t["text"]),
                           t.get("owner", ""), t["order"]) for t in pg.get("history", ()))
    commands = tuple(pg.get("commands", ())) or tuple(
        data().get("processes", {}).get("patterns", ()))
    return PgSchema(app, str(data()["version"]), tuple(pg.get("url_envs", ())),
                    tuple(pg.get("url_parts", ())), tables, pg.get("users_table", ""),
                    data.file, commands, pg.get("type_env", ""), pg.get("type_value", ""),
                    tuple(pg.get("parts", ())), tuple(pg.get("part_defaults", ())),
                    tuple(pg.get("unread_tables", ())))


def url_from_env(s: PgSchema, env: dict[str, str]) -> tuple[str, str] | None:
    """(the database URL the app builds from this environment, the variable(s) it came
    from), None when the environment names none. Open WebUI: its six DATABASE_* parts win
    when all are set (open_webui/env.py DB_VARS), else DATABASE_URL."""
    if s.type_env:  # n8n: DB_TYPE=postgresdb and its DB_POSTGRESDB_* parts, defaulted
        if env.get(s.type_env) != s.type_value:
            return None
        host, port, name, user, password, schema_ = (
            env.get(k) or d for k, d in zip(s.parts, s.part_defaults, strict=True))
        cred = f"{quote(user, safe='')}:{quote(password, safe='')}" if password else \
            quote(user, safe="")
        where = f"/{quote(name, safe='')}"
        if schema_ and schema_ != "public":
            where += f"?options={quote('-csearch_path=' + schema_, safe='')}"
        netloc = f"[{host}]" if ":" in host else host
        return f"postgresql://{cred}@{netloc}:{port}{where}", f"{s.type_env}={s.type_value}"
    if s.url_parts and all(env.get(k) for k in s.url_parts):
        kind, user, password, host, port, name = (env[k] for k in s.url_parts)
        return (f"{kind}://{user}:{password}@{host}:{port}/{name}",
                "/".join(s.url_parts))
    for key in s.url_envs:
        if env.get(key):
            return env[key], key
    return None
