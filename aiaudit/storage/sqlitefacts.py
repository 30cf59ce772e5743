"""Facts from a private copy of a SQLite / SQLCipher store: does the key open it, is it
intact, how many rows, how old is the oldest record, what was deleted but kept."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Compared case-insensitively; TypeORM apps (Flowise, n8n) name them createdDate/createdAt.
TIME_COLUMNS = ("timestamp", "timestamp_ms", "created_at", "createdat", "createddate",
                "started_at", "startedat", "updated_at", "updateddate", "send_date",
                "create_time", "creation_time", "ts", "time", "date")
# (column, SQL condition) pairs that mark a row as deleted/hidden but still stored.
SOFT_DELETED = (("active", "= 0"), ("include", "= 0"), ("deleted_at", "IS NOT NULL"),
                ("deleted", "= 1"), ("is_deleted", "= 1"), ("archived", "= 1"))
PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{24,}")


def _db_errors() -> tuple[type[Exception], ...]:
    try:
        from sqlcipher3 import dbapi2
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, dbapi2.Error)


DB_ERRORS = _db_errors()  # sqlcipher3 raises its own classes, not sqlite3's


@dataclass(frozen=True)
class CipherProof:
    opened: bool
    detail: str
    integrity: str | None = None
    cipher_version: str | None = None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key_pragmas(key: str) -> list[str]:
    """Ways a key is given to SQLCipher: a raw hex key (with or without salt) or a passphrase."""
    pragmas = []
    if re.fullmatch(r"[0-9a-fA-F]{64}|[0-9a-fA-F]{96}", key):
        pragmas.append(f"PRAGMA key = \"x'{key}'\"")
    pragmas.append("PRAGMA key = '" + key.replace("'", "''") + "'")
    return pragmas


def open_sqlcipher(path: Path, key: str) -> Any:
    """Open a SQLCipher copy with `key`; raises sqlite errors when no form of the key works."""
    from sqlcipher3 import dbapi2 as sqlcipher

    last: Exception | None = None
    for header in (None, 32):
        for pragma in _key_pragmas(key):
            conn = sqlcipher.connect(str(path))
            try:
                conn.execute(pragma)
                if header:
                    conn.execute(f"PRAGMA cipher_plaintext_header_size = {header}")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlcipher.Error as exc:
                last = exc
                conn.close()
    raise sqlite3.DatabaseError(f"the configured key does not open it ({last})")


def prove_sqlcipher(path: Path, key: str) -> CipherProof:
    """Open with the key and run `PRAGMA cipher_integrity_check` (HMAC of every page)."""
    try:
        conn = open_sqlcipher(path, key)
    except sqlite3.DatabaseError as exc:
        return CipherProof(False, str(exc))
    try:
        version = conn.execute("PRAGMA cipher_version").fetchone()
        problems = [r[0] for r in conn.execute("PRAGMA cipher_integrity_check").fetchall()]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:
        conn.close()
    integrity = "ok" if not problems else "; ".join(str(p) for p in problems[:3])
    return CipherProof(True, f"opened with the configured key ({tables} schema entries)",
                       integrity, version[0] if version else None)


def _octet_length(value: Any) -> int | None:
    """SQLite 3.43's octet_length(): bytes of the value's UTF-8 text (or of the blob)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return len(value)
    return len(str(value).encode("utf-8", "surrogatepass"))


def add_functions(conn: Any) -> Any:
    """SQL functions newer schemas use in CHECK constraints (OpenClaw's agent store:
    octet_length) that an older libsqlite3 lacks: integrity_check evaluates them."""
    conn.create_function("octet_length", 1, _octet_length, deterministic=True)
    return conn


def open_copy(path: Path, key: str | None) -> Any:
    """A connection to a private copy: plain sqlite3, or SQLCipher when a key is given."""
    if key:
        return add_functions(open_sqlcipher(path, key))
    conn = add_functions(sqlite3.connect(str(path)))
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # raises on non-SQLite
    return conn


def integrity_check(conn: Any) -> str:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
    return "ok" if rows == ["ok"] else "; ".join(str(r) for r in rows[:3])


def user_tables(conn: Any, virtual: bool = True) -> list[str]:
    """The app's tables, without SQLite's own and the shadow tables of virtual (FTS) ones;
    `virtual=False` leaves the virtual tables out too (they only copy ordinary tables)."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtuals = {n for n, sql in rows if sql and sql.upper().startswith("CREATE VIRTUAL")}
    shadow = {n for n in (r[0] for r in rows) if any(n.startswith(v + "_") for v in virtuals)}
    skip = shadow if virtual else shadow | virtuals
    return sorted(n for n, _ in rows if not n.startswith("sqlite_") and n not in skip)


def row_counts(conn: Any) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0]
            for t in user_tables(conn)}


def _columns(conn: Any, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({_quote(table)})").fetchall()]


def _as_epoch(value: Any) -> float | None:
    """Epoch seconds from seconds, milliseconds or an ISO date string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value > 1e17:  # nanoseconds (MLflow's spans.start_time_unix_nano)
            return value / 1e9
        if value > 1e14:  # microseconds
            return value / 1e6
        return value / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.timestamp()
    return None


@dataclass(frozen=True)
class DataAge:
    oldest_epoch: float | None
    where: str  # table.column holding the oldest record
    soft_deleted: dict[str, int]  # "table.column cond" -> rows
    rows: int = 0  # dated rows read (summed over every time column)
    tables: int = 0  # user tables looked at
    time_columns: int = 0  # time columns found in them (dated or empty)
    dated: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows with a time

    def oldest_days(self, now: float | None = None) -> float | None:
        if self.oldest_epoch is None:
            return None
        return ((now or time.time()) - self.oldest_epoch) / 86400


def data_age(conn: Any, columns: dict[str, tuple[str, ...]] | None = None) -> DataAge:
    """Oldest record over the time columns, and rows kept although deleted.

    `columns` ({table: (column, ...)}) names the tables that date a conversation in a
    product's own schema (OpenClaw: sessions, windows, transcript events); without it every
    table's usual time columns count.
    """
    oldest: float | None = None
    where = ""
    deleted: dict[str, int] = {}
    dated: dict[str, int] = {}
    rows = tables = time_columns = 0
    for table in user_tables(conn):
        if columns is not None and table not in columns:
            continue
        tables += 1
        cols = _columns(conn, table)
        lowered = {c.lower(): c for c in cols}
        names = columns[table] if columns is not None else TIME_COLUMNS
        for name in names:
            col = lowered.get(name.lower())
            if col is None:
                continue
            time_columns += 1
            value, n = conn.execute(
                f"SELECT min({_quote(col)}), count(*) FROM {_quote(table)} "
                f"WHERE {_quote(col)} IS NOT NULL AND {_quote(col)} != ''"
            ).fetchone()
            rows += n
            if n:
                dated[f"{table}.{col}"] = n
            epoch = _as_epoch(value)
            if epoch is not None and epoch > 0 and (oldest is None or epoch < oldest):
                oldest, where = epoch, f"{table}.{col}"
        for name, cond in SOFT_DELETED:
            col = lowered.get(name)
            if col is None:
                continue
            n = conn.execute(
                f"SELECT count(*) FROM {_quote(table)} WHERE {_quote(col)} {cond}"
            ).fetchone()[0]
            if n:
                deleted[f"{table}.{col} {cond}"] = n
    return DataAge(oldest, where, deleted, rows, tables, dated=dated, time_columns=time_columns)


@dataclass(frozen=True)
class FreePages:
    count: int
    with_text: int  # free pages still holding readable text (deleted data lingers)


LIVE_TEXT_LIMIT = 256 * 1024 * 1024  # larger stores keep "any text" as the test


def live_text(conn: Any, limit: int = LIVE_TEXT_LIMIT) -> bytes | None:
    """Every text and blob value the store holds now, read through SQL (None past `limit`):
    what free-page text is compared with to tell deleted text from stale copies."""
    parts: list[bytes] = []
    size = 0
    for table in user_tables(conn):
        try:
            rows = conn.execute(f"SELECT * FROM {_quote(table)}")
        except sqlite3.DatabaseError:
            continue
        for row in rows:
            for value in row:
                if isinstance(value, str):
                    value = value.encode("utf-8", "surrogatepass")
                if isinstance(value, bytes) and len(value) >= 24:
                    parts.append(value)
                    size += len(value)
                    if size > limit:
                        return None
    return b"\0".join(parts)


def free_pages(path: Path, live: bytes | None = None, limit: int = 200_000) -> FreePages:
    """Walk the freelist of a plaintext SQLite file and count pages holding deleted text.

    With `live` (the store's current values, `live_text`), text counts only when most of
    it is stored nowhere live any more: a rewritten row leaves its old overflow pages on the
    freelist with text the store still holds (OpenClaw rewrites `session_nodes.entry_json`
    on every turn), which is not data kept past its deletion.
    """
    with open(path, "rb") as fh:
        header = fh.read(100)
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            return FreePages(0, 0)
        page_size = struct.unpack(">H", header[16:18])[0]
        page_size = 65536 if page_size == 1 else page_size
        trunk, total = struct.unpack(">II", header[32:40])

        def page(number: int) -> bytes:
            fh.seek((number - 1) * page_size)
            return fh.read(page_size)

        seen = 0
        texts: list[list[bytes]] = []  # the printable runs of each free page with text
        while trunk and seen < min(total, limit):
            data = page(trunk)
            seen += 1
            runs = PRINTABLE_RUN.findall(data[8 + 4 * struct.unpack(">I", data[4:8])[0]:])
            if runs:
                texts.append(runs)
            nxt, leaves = struct.unpack(">II", data[:8])
            for i in range(min(leaves, (page_size - 8) // 4)):
                if seen >= limit:
                    break
                leaf = struct.unpack(">I", data[8 + 4 * i: 12 + 4 * i])[0]
                seen += 1
                runs = PRINTABLE_RUN.findall(page(leaf))
                if runs:
                    texts.append(runs)
            trunk = nxt
    if live is None:
        return FreePages(total, len(texts))
    return FreePages(total, sum(1 for runs in texts if _mostly_gone(runs, live)))


WAL_HEADER, WAL_FRAME_HEADER = 32, 24


def wal_frames_with_text(path: Path, live: bytes | None, limit: int = 200_000) -> int:
    """Frames of a (copied, not yet checkpointed) WAL whose text is mostly stored nowhere
    live any more: a row deleted after the last checkpoint is gone from the store's pages
    but its earlier frames still hold it, until the WAL is checkpointed and overwritten."""
    with open(path, "rb") as fh:
        header = fh.read(WAL_HEADER)
        if len(header) < WAL_HEADER or header[:4] not in (b"\x37\x7f\x06\x82",
                                                          b"\x37\x7f\x06\x83"):
            return 0
        page_size = struct.unpack(">I", header[8:12])[0]
        page_size = 65536 if page_size == 1 else page_size
        found = 0
        for _ in range(limit):
            frame = fh.read(WAL_FRAME_HEADER + page_size)
            if len(frame) < WAL_FRAME_HEADER + page_size:
                break
            runs = PRINTABLE_RUN.findall(frame[WAL_FRAME_HEADER:])
            if runs and (live is None or _mostly_gone(runs, live)):
                found += 1
    return found


def _mostly_gone(runs: list[bytes], live: bytes, chunk: int = 48) -> bool:
    """True when most of a free page's text is found in no live value."""
    pieces = [run[i:i + chunk] for run in runs for i in range(0, len(run) - chunk + 1, chunk)]
    sample = (pieces or runs)[:64]
    return sum(piece not in live for piece in sample) * 2 > len(sample)


def checkpoint(conn: Any) -> None:
    """Fold a copied WAL into the copy (only ever called on the private copy)."""
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    except sqlite3.DatabaseError:
        pass
