"""Reading the first bytes of target files (enough to judge their format)."""

from __future__ import annotations

from typing import Any

from aiaudit.status import CouldNotCheck
from aiaudit.storage.fileformat import FileVerdict, classify

HEAD_BYTES = 64 * 1024
WAL_HEAD_BYTES = 256 * 1024  # a few WAL frames, whatever the page size


def read_head(fs: Any, path: str, limit: int) -> bytes:
    try:
        with fs.open(path) as stream:
            data = b""
            while len(data) < limit:
                chunk = stream.read(limit - len(data))
                if not chunk:
                    break
                data += chunk
            return data
    except CouldNotCheck:
        raise
    except OSError as exc:
        raise CouldNotCheck(f"cannot read {path}: {exc}") from None


def file_verdict(ctx: Any, fs: Any, path: str) -> FileVerdict:
    """The format verdict of one target file (cached per run); a packed file (gzip, zstd,
    xz, bzip2, zip, tar) is judged by the stores it holds (packed.py)."""
    limit = WAL_HEAD_BYTES if path.endswith("-wal") else HEAD_BYTES

    def compute() -> FileVerdict:
        head = read_head(fs, path, limit)
        verdict = classify(head)
        from aiaudit.storage.packed import packed_verdict, packing

        if packing(head):
            from aiaudit.storage.settings import settings_for

            copy_limit = settings_for(ctx).max_copy_mb * 1024 * 1024
            verdict = packed_verdict(fs, path, verdict, copy_limit)
        return verdict

    return ctx.cached(f"storage:verdict:{path}", compute)
