"""STO-03's second look at a SQLite store: the values, read back through SQL.

The raw byte scan of a database file misses two things. A long message does not fit on
its page: SQLite moves the rest to overflow pages (not adjacent, each starting with a
4-byte link), so a secret that straddles the cut is never contiguous on disk. And OpenClaw
keeps larger transcript events zstd-compressed (`event_zstd`), which no byte scan can read.
So the private copy of the store is queried for the cells that can overflow (longer than
the smallest local payload of a page) and for zstd blobs, which are decompressed (bounded)
and scanned. With the SQLCipher key every text cell is read: on disk it is all ciphertext.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import IO, Any

import zstandard

from aiaudit.storage.fileformat import ZSTD_MAGIC
from aiaudit.storage.secrets.engine import Finding, scan_bytes, scan_stream
from aiaudit.storage.sqlitefacts import _columns, _quote, user_tables

MAX_INFLATED = 64 * 1024 * 1024  # per blob: a compression bomb stops here


@dataclass
class CellScan:
    cells: int = 0
    inflated: int = 0  # zstd blobs decompressed
    findings: list[Finding] = field(default_factory=list)


class _Bounded(io.RawIOBase):
    """At most `limit` bytes of a stream (the rest of a bomb is never produced)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._left = stream, limit

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(size)
        self._left -= len(data)
        return data


def min_local_payload(conn: Any) -> int:
    """Bytes of a record SQLite always keeps on the leaf page; longer records may overflow."""
    usable = conn.execute("PRAGMA page_size").fetchone()[0]
    return ((usable - 12) * 32 // 255) - 23


def _candidate_rows(conn: Any, table: str, threshold: int) -> Iterator[tuple[str, Any]]:
    columns = _columns(conn, table)
    if not columns:
        return
    lengths = " + ".join(f"coalesce(length({_quote(c)}), 0)" for c in columns)
    zstd = " OR ".join(f"substr({_quote(c)}, 1, 4) = X'28B52FFD'" for c in columns)
    select = ", ".join(_quote(c) for c in columns)
    sql = f"SELECT {select} FROM {_quote(table)} WHERE ({lengths}) > ? OR {zstd}"
    for row in conn.execute(sql, (threshold,)):
        for column, value in zip(columns, row, strict=True):
            if isinstance(value, str | bytes) and len(value) >= 8:
                yield column, value


def scan_cells(conn: Any, label: str, every_cell: bool = False) -> CellScan:
    """Findings in overflowing cells and zstd blobs of an open copy (all cells if asked)."""
    result = CellScan()
    threshold = 0 if every_cell else min_local_payload(conn)
    for table in user_tables(conn, virtual=False):  # FTS tables only copy these
        for n, (column, value) in enumerate(_candidate_rows(conn, table, threshold)):
            where = f"{label}#{table}.{column}[cell {n + 1}]"
            result.cells += 1
            if isinstance(value, bytes) and value.startswith(ZSTD_MAGIC):
                result.inflated += 1
                found = _scan_zstd(value, where + " (zstd)")
            else:
                data = value.encode("utf-8", "replace") if isinstance(value, str) else value
                found = scan_bytes(data, where)
            # a whole value: its secrets have their real extent (engine.unify)
            result.findings += [replace(f, exact=True) for f in found]
    return result


def _scan_zstd(blob: bytes, where: str) -> list[Finding]:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob))
        return list(scan_stream(_Bounded(reader, MAX_INFLATED), where))
    except zstandard.ZstdError:
        return []  # not really zstd: the raw scan has already seen these bytes


def cell_digests(conn: Any, tables: tuple[str, ...], exclude: bool = False) -> set[str]:
    """Digests of the secrets in every text cell of these tables (or of every other
    ordinary table, `exclude`): which table holds a secret the byte scan found."""
    wanted = set(tables)
    out: set[str] = set()
    for table in user_tables(conn, virtual=False):
        if (table in wanted) == exclude:
            continue
        for _, value in _candidate_rows(conn, table, 0):
            data = value if isinstance(value, bytes) else value.encode("utf-8", "replace")
            if data.startswith(ZSTD_MAGIC):
                out |= {f.digest for f in _scan_zstd(data, table)}
            else:
                out |= {f.digest for f in scan_bytes(data, table)}
    return out
