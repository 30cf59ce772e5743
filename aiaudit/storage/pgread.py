"""Read-only SQL on an app's own PostgreSQL database, with `psql` on the target.

Why psql on the target (through HostFS) and not a driver on the auditor: an app's database
listens where the app runs (a unix socket, loopback, a private network), so the audit asks
it from there, over the same SSH connection as every other host check, and needs no driver
on the auditor. Every session is read-only by construction: `default_transaction_read_only`
and an explicit `BEGIN TRANSACTION READ ONLY` ... `ROLLBACK`, `statement_timeout`,
`lock_timeout`, `idle_in_transaction_session_timeout`, `application_name=aiaudit`, and every
query bounds its rows and the bytes of each value. The password never appears in an argv:
it is written to the remote shell's stdin and exported to psql there (PGPASSWORD), and it
is registered for redaction before anything is printed.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from aiaudit.config import Credential
from aiaudit.redact import register_secret
from aiaudit.resources import safe_id
from aiaudit.status import CouldNotCheck, ManualCheck

SESSION_OPTIONS = ("-c default_transaction_read_only=on -c statement_timeout=20000 "
                   "-c lock_timeout=2000 -c idle_in_transaction_session_timeout=30000")
QUERY_TIMEOUT_S = 60.0
MAX_ROWS = 5000  # rows one query may return
MAX_VALUE = 262_144  # characters kept of one value (chat JSON can be large)
_SCHEMES = ("postgresql", "postgres")


class PgUnavailable(ManualCheck):
    """The database cannot be read for want of what the operator must supply (credentials,
    a psql on the target): the case is MANUAL naming it, never PASS."""

    def __init__(self, reason: str):
        super().__init__(msg=f"MANUAL: {reason}", pytrace=False)
        self.reason = reason


def _split_scheme(url: str) -> str | None:
    scheme, sep, rest = url.partition("://")
    base = scheme.split("+", 1)[0].lower()  # postgresql+psycopg2, +asyncpg, +psycopg
    return f"postgresql://{rest}" if sep and base in _SCHEMES else None


def is_pg_url(url: str) -> bool:
    return _split_scheme(url.strip()) is not None


def split_password(url: str) -> tuple[str, str | None]:
    """(the libpq URI without its password, the password or None); SQLAlchemy driver
    suffixes (`postgresql+psycopg2://`) are dropped, as libpq does not know them."""
    uri = _split_scheme(url.strip())
    if uri is None:
        raise ValueError("not a postgresql:// URL")
    rest = uri.removeprefix("postgresql://")
    netloc, sep, tail = rest.partition("/")
    if "?" in netloc:  # postgresql://host?dbname=x
        netloc, _, query = netloc.partition("?")
        tail, sep = f"?{query}{tail}", "/"
    userinfo, at, hostport = netloc.rpartition("@")
    password = None
    if at:
        user, colon, pw = userinfo.partition(":")
        if colon:
            password = unquote(pw)
        userinfo = user
    path, qmark, query_ = tail.partition("?")
    if qmark:  # libpq also takes ?password=...: it leaves the DSN too
        kept = [kv for kv in query_.split("&") if kv.split("=", 1)[0].lower() != "password"]
        dropped = [kv.split("=", 1)[1] for kv in query_.split("&")
                   if kv.split("=", 1)[0].lower() == "password" and "=" in kv]
        password = password or (unquote(dropped[0]) if dropped else None)
        tail = path + ("?" + "&".join(kept) if kept else "")
    clean = f"postgresql://{userinfo}{at}{hostport}{sep}{tail}"
    return clean, password or None


@dataclass(frozen=True)
class PgDatabase:
    """One app's PostgreSQL database as the audit reaches it."""

    app: str  # the product whose schema it holds (aiaudit.products)
    dsn: str  # libpq URI without password
    found_by: str
    credential: Credential | None = None  # [[storage.databases]] password_env / _file
    app_password: str | None = field(default=None, repr=False, compare=False)  # from the
    # app's own environment (unit Environment=, /proc/PID/environ), registered for redaction

    @property
    def name(self) -> str:
        """`dbname@host` for messages."""
        parts = urlsplit(self.dsn)
        query = parse_qs(parts.query)
        db = parts.path.lstrip("/") or query.get("dbname", [""])[0] or parts.username or "?"
        host = parts.hostname or query.get("host", ["the default socket"])[0]
        port = f":{parts.port}" if parts.port else ""
        return f"{db}@{host}{port}"

    @property
    def case_id(self) -> str:
        return safe_id(f"{self.app}:postgresql:{self.name}")

    def password(self) -> str | None:
        """The password to send (registered for redaction), None when none is known."""
        if self.credential is not None:
            try:
                secret = self.credential.read()
            except OSError as exc:
                raise CouldNotCheck(f"the password of {self.name} ({self.credential.describe()})"
                                    f" cannot be read: {exc.strerror or exc}") from None
            if not secret:
                raise PgUnavailable(f"the password of {self.name} is configured as "
                                    f"{self.credential.describe()}, which is empty or unset")
            return secret
        register_secret(self.app_password)
        return self.app_password

    def where_password(self) -> str:
        if self.credential is not None:
            return self.credential.describe()
        return "the app's own DATABASE_URL" if self.app_password else "none"


def _script(dsn: str, sql: str) -> str:
    return (
        "IFS= read -r PGPASSWORD || true; "
        'if [ -n "$PGPASSWORD" ]; then export PGPASSWORD; else unset PGPASSWORD; fi; '
        "command -v psql >/dev/null 2>&1 || { echo 'aiaudit: psql: not found' >&2; exit 127; }; "
        f"PGAPPNAME=aiaudit PGCONNECT_TIMEOUT=10 PGOPTIONS={shlex.quote(SESSION_OPTIONS)} "
        f"exec psql -X -w -q -t -A -v ON_ERROR_STOP=1 -d {shlex.quote(dsn)} "
        "-c 'BEGIN TRANSACTION READ ONLY' "
        f"-c {shlex.quote(sql)} -c 'ROLLBACK'"
    )


def classify_error(db: PgDatabase, rc: int, stderr: str) -> BaseException:
    """psql's failure as the status it means: what the operator must supply is MANUAL
    (PgUnavailable), a wrong password or a refused read is ERROR (CouldNotCheck)."""
    text = " ".join(stderr.split())[:400]
    if rc == 127 or "psql: not found" in text:
        return PgUnavailable(f"{db.name}: psql is not installed on the target (Debian: "
                             "postgresql-client), so the database cannot be read")
    if "no password supplied" in text:
        return PgUnavailable(f"{db.name} asks for a password and none is configured: name "
                             "it in a [[storage.databases]] entry (password_env or "
                             "password_file)")
    if "password authentication failed" in text:
        return CouldNotCheck(f"{db.name}: the password from {db.where_password()} is refused "
                             f"(wrong password?): {text}")
    return CouldNotCheck(f"{db.name}: psql failed (exit {rc}): {text or 'no message'}")


def query(fs: Any, db: PgDatabase, sql: str, timeout: float = QUERY_TIMEOUT_S
          ) -> list[dict[str, Any]]:
    """Rows of one SELECT, as JSON objects (the SELECT must bound itself: LIMIT, left())."""
    wrapped = (f"SELECT coalesce(json_agg(q), '[]'::json) FROM "
               f"(SELECT * FROM ({sql}) s LIMIT {MAX_ROWS}) q")
    secret = db.password()
    rc, out, err = fs.run(_script(db.dsn, wrapped), timeout=timeout,
                          input=((secret or "") + "\n").encode())
    if rc != 0:
        raise classify_error(db, rc, err)
    try:
        rows = json.loads(out.strip() or "[]")
    except json.JSONDecodeError:
        raise CouldNotCheck(f"{db.name}: psql's answer is not the JSON asked for: "
                            f"{out[:120]!r}") from None
    return rows if isinstance(rows, list) else []


def tables(fs: Any, db: PgDatabase) -> dict[str, set[str]]:
    """{table: columns} of the schemas the connecting role can see (public first)."""
    rows = query(fs, db, "SELECT table_name AS t, column_name AS c FROM "
                 "information_schema.columns WHERE table_schema = current_schema()")
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(str(r["t"]), set()).add(str(r["c"]))
    return out


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
