"""Backups packed in compression layers (gzip, zstd, xz, bzip2) and archives (tar, zip).

A compressed file is not an encrypted one, but what is compressed may be: `gzip state.db`
of a SQLCipher store is still ciphertext, the same of a plaintext store is plaintext. So a
packed file is judged (STO-01) and scanned (STO-03) by what it holds: the layers are undone
as streams (memory stays flat, nothing is written for gzip/zstd/xz/bzip2/tar), and of an
archive only the members that are stores (SQLite files, their WAL/journal, JSON(L)
history) count here; a backup of a whole home also holds its configs (`.env`,
`config.yaml`, `openclaw.json`), which STO-04 reads out of it the same way (`want`).
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import posixpath
import re
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import IO, Any

from aiaudit.storage import sevenzip
from aiaudit.storage.fileformat import SEVEN_ZIP_MAGIC, ZSTD_MAGIC, FileVerdict, classify
from aiaudit.storage.sevenzip import EncryptedArchive

LAYERS = (("gzip", b"\x1f\x8b"), ("zstd", ZSTD_MAGIC), ("xz", b"\xfd7zXZ\x00"), ("bzip2", b"BZh"))
PACKINGS = ("gzip", "zstd", "xz", "bzip2", "zip", "tar", "7z")
MAX_LAYERS = 3  # a gzip of a gzip of a tar is as deep as backups go
HEAD = 64 * 1024
STORE_MEMBER = re.compile(r"(?i)\.(?:db|sqlite3?|jsonl)(?:-wal|-journal)?$|"
                          r"\.(?:db|sqlite3?)\.(?:bak[.\d]*|backup|old|orig)$")


class _Joined:
    """Bytes already read put back in front of the rest of a stream (read() only)."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n is None or n < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            if len(out) < n:
                out += self._rest.read(n - len(out))
            return out
        return self._rest.read(n)

    def readable(self) -> bool:
        return True


def _read_upto(stream: Any, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _undo(name: str, stream: Any) -> Any:
    if name == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if name == "xz":
        return lzma.LZMAFile(stream)
    if name == "bzip2":
        return bz2.BZ2File(stream)
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(stream)


def packing(head: bytes) -> str | None:
    """The outermost packing of a file by its first bytes (None: not packed)."""
    for name, magic in LAYERS:
        if head.startswith(magic):
            return name
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(SEVEN_ZIP_MAGIC):
        return "7z"
    if head[257:262] == b"ustar":
        return "tar"
    return None


@dataclass(frozen=True)
class Content:
    """One thing a packed file holds: its name (path!member), how it was packed, a stream."""

    name: str
    how: str  # e.g. "gzip", "tar+zstd", "zip"
    stream: Any


def store_member(name: str) -> bool:
    """An archive member that is a store: a SQLite file, its WAL/journal, JSON(L) history,
    or a file named as a known app names its history (MLflow's traces.json, Gradio's
    datasetN.csv, Hermes' session_<id>.json, ...: the layouts' store globs)."""
    base = posixpath.basename(name)
    if base.startswith("._"):
        return False
    return bool(STORE_MEMBER.search(name)) or any(fnmatch(base, g) for g in _history_names())


@cache
def _history_names() -> tuple[str, ...]:
    """File-name globs of the known apps' JSON, CSV and log history (not SQLite: those
    are matched by their suffix above); a bare `*.json` (text-generation-webui's chat
    logs) would take every config file for history, so only named globs count."""
    from aiaudit.storage.layouts import LAYOUTS

    names = {posixpath.basename(g.glob) for layout in LAYOUTS for g in layout.stores
             if g.kind != "sqlite"}
    return tuple(sorted(n for n in names if not re.fullmatch(r"\*\.[a-z]+", n)))


@contextmanager
def contents(fs: Any, path: str, limit: int, want: Callable[[str], bool] = store_member
             ) -> Iterator[Iterator[Content]]:
    """What a packed file holds, as streams (an iterator, valid inside the with block):
    the archive members `want` names (stores by default), or the one content of a
    compressed file that is no archive (only when stores are wanted). A zip needs random
    access: it is copied into a private temp file first (at most `limit` bytes, the
    [storage] max_copy_mb bound)."""
    with ExitStack() as stack:
        stream: Any = stack.enter_context(fs.open(path))
        layers: list[str] = []
        head = _read_upto(stream, 512)
        while (kind := packing(head)) in ("gzip", "zstd", "xz", "bzip2") \
                and len(layers) < MAX_LAYERS:
            layers.append(kind)
            stream = _undo(kind, _Joined(head, stream))
            head = _read_upto(stream, 512)
        stream = _Joined(head, stream)
        yield _members(stack, path, layers, packing(head), stream, limit, want)


def _how(layers: list[str]) -> str:
    """Packings innermost first, as file suffixes read: tar+gzip for a .tar.gz."""
    return "+".join(reversed(layers))


def _members(stack: ExitStack, path: str, layers: list[str], kind: str | None, stream: Any,
             limit: int, want: Callable[[str], bool]) -> Iterator[Content]:
    how = _how(layers)
    if kind == "tar":
        tar = stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
        for member in tar:
            if member.isfile() and want(member.name):
                src = tar.extractfile(member)
                if src is not None:
                    yield Content(f"{path}!{member.name}", _how([*layers, "tar"]), src)
        return
    if kind in ("zip", "7z"):
        local = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aiaudit-zip-")))
        copy = local / f"archive.{kind}"
        written = 0
        with open(copy, "wb") as out:
            while chunk := stream.read(1024 * 1024):
                written += len(chunk)
                if written > limit:
                    raise ValueError(f"{path} holds more than {limit / 1e6:.0f} MB "
                                     "([storage] max_copy_mb)")
                out.write(chunk)
        if kind == "7z":
            yield from _seven_zip_members(stack, path, layers, copy, want)
            return
        archive = stack.enter_context(zipfile.ZipFile(copy))
        for info in archive.infolist():
            if not info.is_dir() and want(info.filename):
                yield Content(f"{path}!{info.filename}", _how([*layers, "zip"]),
                              stack.enter_context(archive.open(info)))
        return
    if layers and want is store_member:
        yield Content(f"{path}!{how}", how, stream)


def _seven_zip_members(stack: ExitStack, path: str, layers: list[str], copy: Path,
                       want: Callable[[str], bool]) -> Iterator[Content]:
    """A 7z's wanted members, read by the auditor's 7z from the private copy; an
    encrypted one raises EncryptedArchive (its contents cannot be read)."""
    found = sevenzip.listing(copy)
    if found.encrypted:
        raise EncryptedArchive(found.detail)
    for name in found.members:
        if want(name):
            yield Content(f"{path}!{name}", _how([*layers, "7z"]),
                          stack.enter_context(sevenzip.member(copy, name)))


PACK_ERRORS = (OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile,
               lzma.LZMAError, RuntimeError)


def packed_verdict(fs: Any, path: str, outer: FileVerdict, limit: int) -> FileVerdict:
    """The verdict of what a packed file holds: plaintext when any store in it is, encrypted
    when every store in it is; the outer verdict when it holds no store (or cannot be
    unpacked: then the reason is said)."""
    seen: list[tuple[Content, FileVerdict]] = []
    try:
        with contents(fs, path, limit) as items:
            for item in items:
                seen.append((item, classify(_read_upto(item.stream, HEAD))))
    except EncryptedArchive as exc:
        return FileVerdict(True, "encrypted archive", str(exc), outer.entropy)
    except PACK_ERRORS as exc:
        if outer.kind.startswith("7z"):  # whether it is encrypted is in what was not read
            return FileVerdict(None, "7z (not read)", f"cannot unpack: {exc}", outer.entropy)
        return FileVerdict(outer.encrypted, outer.kind, f"{outer.detail}; cannot unpack: "
                           f"{exc}", outer.entropy)
    judged = [(c, v) for c, v in seen if v.encrypted is not None]
    if not judged:
        return outer
    plain = [(c, v) for c, v in judged if v.encrypted is False]
    content, verdict = (plain or judged)[0]
    inner = posixpath.basename(content.name.split("!", 1)[1]) if content.how.endswith(
        ("tar", "zip")) else "its content"
    return FileVerdict(
        not plain, f"{content.how} of {verdict.kind}",
        f"{len(judged)} store file(s) inside; {inner}: {verdict.detail}", verdict.entropy)
