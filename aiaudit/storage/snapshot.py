"""Local copies of stores for SQL checks, made without touching the live files.

SQLite must never open a live store in place (a reader can still create -shm files or
checkpoint a WAL). The store and its -wal/-journal are streamed into a private temp dir,
bounded in size and checked against free disk space, with progress for big files, and
opened there. Copies are removed when the run ends.
"""

from __future__ import annotations

import atexit
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiaudit.hostfs import HostFS
from aiaudit.status import CouldNotCheck
from aiaudit.storage.headers import file_verdict
from aiaudit.storage.progress import Progress
from aiaudit.storage.settings import settings_for
from aiaudit.storage.sqlitefacts import DB_ERRORS, checkpoint, open_copy

COPY_CHUNK = 1024 * 1024
_ROOT: Path | None = None


def _root() -> Path:
    global _ROOT
    if _ROOT is None:
        _ROOT = Path(tempfile.mkdtemp(prefix="aiaudit-storage-"))
        os.chmod(_ROOT, 0o700)  # copies of someone's conversations: private to the auditor
        atexit.register(shutil.rmtree, _ROOT, True)
    return _ROOT


@dataclass(frozen=True)
class LocalCopy:
    """A private copy of one SQLite store (with its -wal / -journal beside it)."""

    source: str
    path: Path
    copied_bytes: int
    # the copied WAL as it was, kept before the first open checkpoints it away: its frames
    # may hold rows deleted since the last checkpoint (STO-02)
    wal_frames: Path | None = None


def copy_file(fs: HostFS, source: str, dest: Path, expected: int, limit: int) -> int:
    """Stream one target file into `dest`; refuse more than `limit` bytes."""
    if expected > limit:
        raise CouldNotCheck(f"{source} is {expected / 1e6:.0f} MB, above the copy limit of "
                            f"{limit / 1e6:.0f} MB ([storage] max_copy_mb)")
    free = shutil.disk_usage(dest.parent).free
    if expected > free - 256 * 1024 * 1024:
        raise CouldNotCheck(f"not enough local disk to copy {source} "
                            f"({expected / 1e6:.0f} MB, {free / 1e6:.0f} MB free)")
    progress = Progress(f"copying {source}", expected)
    written = 0
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, fs.open(source) as stream:
        while chunk := stream.read(COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise CouldNotCheck(f"{source} grew past the copy limit while copying")
            out.write(chunk)
            progress.update(len(chunk))
    progress.done()
    return written


def copy_sqlite(fs: HostFS, files: list[tuple[str, int]], limit: int, tag: str) -> LocalCopy:
    """Copy a main file and its sidecars (`files[0]` is the main file) into a fresh dir."""
    directory = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=_root()))
    main_source = files[0][0]
    main = directory / "store.db"
    total = 0
    for source, size in files:
        suffix = source[len(main_source):] if source.startswith(main_source) else ""
        if source != main_source and suffix not in ("-wal", "-journal"):
            continue
        total += copy_file(fs, source, Path(f"{main}{suffix}"), size, limit - total)
    if not main.exists() or main.stat().st_size == 0:
        raise CouldNotCheck(f"{main_source} could not be copied (empty or unreadable)")
    wal, frames = Path(f"{main}-wal"), None
    if wal.exists() and wal.stat().st_size:
        frames = directory / "wal-frames"
        shutil.copyfile(wal, frames)
    return LocalCopy(main_source, main, total, frames)


def shared_copy(copies: dict[str, LocalCopy] | None, fs: HostFS, files: list[tuple[str, int]],
                limit: int, tag: str) -> LocalCopy:
    """The run's one local copy of a SQLite store, kept in the scope's `copies` (every area
    that reads the store gets the same copy: one stream of its bytes per audit); without a
    cache, a fresh copy."""
    if copies is None:
        return copy_sqlite(fs, files, limit, tag)
    if files[0][0] not in copies:
        copies[files[0][0]] = copy_sqlite(fs, files, limit, tag)
    return copies[files[0][0]]


def store_copy(ctx: Any, store: Any) -> LocalCopy:
    """The run's one local copy of a SQLite store (main file + -wal/-journal), shared with
    the other areas through the deployment scope."""
    from aiaudit.scope import scope_for

    def compute() -> LocalCopy:
        fs = HostFS.for_context(ctx)
        limit = settings_for(ctx).max_copy_mb * 1024 * 1024
        files = [(f.path, f.size) for f in store.all_files]
        return shared_copy(scope_for(ctx).copies, fs, files, limit,
                           posixpath.basename(store.path) or "store")

    return ctx.cached(f"storage:copy:{store.path}", compute)


class NeedsKey(CouldNotCheck):
    """The store is encrypted and no [storage] key is configured to read it."""


@dataclass(frozen=True)
class OpenedCopy:
    conn: Any
    copy: LocalCopy
    key: str | None  # the SQLCipher key it was opened with (None: plain SQLite)


@contextmanager
def opened_copy(ctx: Any, store: Any) -> Iterator[OpenedCopy]:
    """The store's private copy, open (with the key when the store is encrypted) and its
    copied WAL folded in; any database error, here or in the caller's queries, becomes
    CouldNotCheck naming the store."""
    key = None
    if file_verdict(ctx, HostFS.for_context(ctx), store.path).encrypted:
        settings = settings_for(ctx)
        if not settings.has_key_for(store.path):
            raise NeedsKey(f"{store.path} is encrypted; set a [[storage.keys]] entry (or "
                           "[storage] key_file) to read it")
        key = settings.key_for(store.path)
    copy = store_copy(ctx, store)
    try:
        conn = open_copy(copy.path, key)
        try:
            checkpoint(conn)  # our private copy: fold the copied WAL in
            yield OpenedCopy(conn, copy, key)
        finally:
            conn.close()
    except DB_ERRORS as exc:
        which = f" with {settings_for(ctx).describe_key(store.path)}" if key else ""
        raise CouldNotCheck(f"cannot read the copy of {store.path}{which}: {exc}") from None
