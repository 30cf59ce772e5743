"""Backups of a store: where they are, how old, whether they restore, where they live.

A backup counts when it sits in one of the operator's `[storage] backup_dirs` (or next to
the store as `<store>.bak*`) and is named after the store (else any file there is tried).
Restoring means: copy it to a private temp dir, unpack gzip/zstd/xz/bzip2/zip/tar, open it
(with the key for SQLCipher), `PRAGMA integrity_check`, and count rows. Backups named after
no store found on the target are cases of their own (standalone_backups).
"""

from __future__ import annotations

import gzip
import posixpath
import re
import shlex
import shutil
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiaudit.hostfs import HostFS
from aiaudit.status import CouldNotCheck
from aiaudit.storage.fileformat import SEVEN_ZIP_MAGIC, ZSTD_MAGIC, encrypted_container
from aiaudit.storage.layouts import FILE_KINDS
from aiaudit.storage.locate import STAT_FMT, FileInfo, Store
from aiaudit.storage.settings import settings_for
from aiaudit.storage.sevenzip import EncryptedArchive
from aiaudit.storage.snapshot import copy_sqlite
from aiaudit.storage.sqlitefacts import DB_ERRORS, integrity_check, open_copy, row_counts


@dataclass(frozen=True)
class Backup:
    file: FileInfo
    device: str  # st_dev of the backup's filesystem
    mount: str  # its mount point

    def age_days(self, now: float | None = None) -> float:
        return ((now or time.time()) - self.file.mtime) / 86400


@dataclass(frozen=True)
class Restore:
    ok: bool
    detail: str
    rows: int = 0
    encrypted: bool = False  # gpg, age or an encrypted 7z: no key is given to the audit


def _list_script(dirs: list[str], store_path: str, globs: tuple[str, ...] = ()) -> str:
    """Stat the store, every file in the backup dirs, and the files matching the product's
    own default backup globs (one dir each, after the backup dirs: B<i> is its mount)."""
    parts = [f"stat -c 'D %d' -- {shlex.quote(store_path)} 2>/dev/null; "
             f"findmnt -n -o TARGET -T {shlex.quote(store_path)} 2>/dev/null | sed 's/^/M /'"]
    for i, d in enumerate(dirs):
        q = shlex.quote(d)
        parts.append(f"findmnt -n -o TARGET -T {q} 2>/dev/null | sed 's/^/B{i} /'")
        parts.append(
            f"[ -d {q} ] && find -H {q} -maxdepth 3 -type f -exec stat -c "
            f"'F %d {STAT_FMT}' -- {{}} + 2>/dev/null"
        )
    for j, glob in enumerate(globs, start=len(dirs)):
        q = shlex.quote(posixpath.dirname(glob))
        pattern = q + "/" + "*".join(shlex.quote(p) if p else ""
                                     for p in posixpath.basename(glob).split("*"))
        parts.append(f"findmnt -n -o TARGET -T {q} 2>/dev/null | sed 's/^/B{j} /'")
        parts.append(f"for f in {pattern}; do [ -f \"$f\" ] && stat -c "
                     f"'F %d {STAT_FMT}' -- \"$f\"; done 2>/dev/null")
    return "; ".join(parts) + "; true"


def default_backup_globs(store: Store) -> tuple[str, ...]:
    """Where the store's own framework writes backups when told no place (Hermes:
    `hermes backup` puts ~/hermes-backup-<stamp>.zip in the user's home; OpenClaw:
    `openclaw backup create` leaves ~/<stamp>-openclaw-backup.tar.gz there)."""
    from aiaudit.products import hermes, openclaw

    if store.app == openclaw.APP:
        return tuple(openclaw.default_backups(store.state_dir))
    if store.app != "hermes":
        return ()
    return tuple(hermes.default_backups(hermes.home_of_store(store.path)))


def unreadable_backup_dirs(ctx: Any) -> list[str]:
    """[storage] backup_dirs the audit account cannot list (their backups stay unseen)."""
    from aiaudit.access import check_access

    dirs = list(settings_for(ctx).backup_dirs)
    found = ctx.cached("storage:backup-access", lambda: check_access(
        HostFS.for_context(ctx), dirs))
    return [a.reason() for a in found.values() if a.unreadable]


def find_backups(ctx: Any, store: Store) -> tuple[list[Backup], str, str]:
    """Backups of `store` plus the store's own (device, mount point)."""

    def compute() -> tuple[list[Backup], str, str]:
        fs = HostFS.for_context(ctx)
        globs = default_backup_globs(store)
        dirs = list(settings_for(ctx).backup_dirs)
        _, out, _ = fs.run(_list_script(dirs, store.path, globs), timeout=60)
        dirs += [posixpath.dirname(g) for g in globs]
        store_dev = store_mount = ""
        found: list[Backup] = []
        mounts: dict[int, str] = {}
        for line in out.splitlines():
            tag, _, rest = line.partition(" ")
            if tag == "D":
                store_dev = rest.strip()
            elif tag == "M":
                store_mount = rest.strip()
            elif tag.startswith("B") and tag[1:].isdigit():
                mounts[int(tag[1:])] = rest.strip()
            elif tag == "F":
                device, _, stat = rest.partition(" ")
                try:
                    info = FileInfo.parse(stat)
                except ValueError:
                    continue
                index = next((i for i, d in enumerate(dirs)
                              if info.path.startswith(d.rstrip("/") + "/")), -1)
                found.append(Backup(info, device, mounts.get(index, "?")))
        stem = posixpath.basename(store.path).split(".", 1)[0].lower()
        named = [b for b in found if stem and stem in posixpath.basename(b.file.path).lower()]
        chosen = named or [b for b in found if not _names_other_store(b, store)]
        for copy in store.copies:  # <store>.bak* beside the store: same filesystem
            if copy.path.endswith(("-wal", "-journal")):
                continue
            chosen.append(Backup(copy, store_dev, store_mount))
        chosen.sort(key=lambda b: b.file.mtime, reverse=True)
        return chosen, store_dev, store_mount

    return ctx.cached(f"storage:backups:{store.path}", compute)


# Backups kept in a state dir itself (beside a store, or left after the store is gone):
# packed copies of a store and backup archives. Files in [storage] backup_dirs all count.
STATE_DIR_BACKUPS = ("*.db.gz", "*.db.zst", "*.db.xz", "*.db.bz2", "*.sqlite.gz",
                     "*.sqlite.zst", "*.sqlite.xz", "*.sqlite3.gz", "*.db.zip", "*backup*.tar",
                     "*backup*.tar.*", "*backup*.tgz", "*backup*.zip", "backups/*", "backup/*")


def _standalone_script(backup_dirs: list[str], state_dirs: list[str]) -> str:
    parts = [f"[ -d {shlex.quote(d)} ] && find -H {shlex.quote(d)} -maxdepth 3 -type f -exec "
             f"stat -c 'F\t{i}\t{STAT_FMT}' -- {{}} +" for i, d in enumerate(backup_dirs)]
    for i, d in enumerate(state_dirs):
        root = shlex.quote(d.rstrip("/") or "/")
        globs = " ".join(f"{root}/{g}" for g in STATE_DIR_BACKUPS)
        parts.append(f"for f in {globs}; do [ -f \"$f\" ] && "
                     f"stat -c 'S\t{i}\t{STAT_FMT}' -- \"$f\"; done")
    return "; ".join([*parts, "true"])


def standalone_backups(ctx: Any) -> list[Store]:
    """Backups that belong to no store found on the target (its store is gone, or it is
    not named after it), from [storage] backup_dirs and the state dirs: each is judged at
    rest (STO-01) and scanned for secrets (STO-03) on its own."""
    from aiaudit.storage.locate import locate

    def compute() -> list[Store]:
        stores, dirs = locate(ctx)
        backup_dirs = list(settings_for(ctx).backup_dirs)
        out = ""
        if backup_dirs or dirs:  # else nothing to look in: no round trip to run `true`
            _, out, _ = HostFS.for_context(ctx).run(
                _standalone_script(backup_dirs, [d.path for d in dirs]), timeout=60)
        taken = {f.path for s in stores for f in s.all_files}
        for store in stores:
            if store.kind in FILE_KINDS:
                taken |= {b.file.path for b in find_backups(ctx, store)[0]}
        found: dict[str, Store] = {}
        for line in out.splitlines():
            tag, index, stat = (line.split("\t", 2) + ["", ""])[:3]
            try:
                info = FileInfo.parse(stat)
                i = int(index)
            except ValueError:
                continue
            if info.path in taken or info.path in found or info.size == 0:
                continue
            if tag == "F":
                app, root, by = "backup", backup_dirs[i], f"[storage] backup_dirs {backup_dirs[i]}"
            elif tag == "S":
                app, root = dirs[i].app, dirs[i].path
                by = f"backup in the state dir {root}"
            else:
                continue
            found[info.path] = Store(app, "backup", info.path, root, (info,), (), by)
        return sorted(found.values(), key=lambda s: s.path)

    return ctx.cached("storage:standalone-backups", compute)


def exposed_backups(ctx: Any, state_dir: str) -> list[str]:
    """Backups the framework dropped in its default place outside the state dir that
    other local users can read: the file is o+r and every dir above it o+x (a `hermes
    backup` zip left 0644 in a 0755 user home holds state.db and .env). Copies beside a
    store are judged with the state dir itself; [storage] backup_dirs are the operator's."""
    from aiaudit.storage.locate import locate

    stores, _ = locate(ctx)
    files = {}
    for s in stores:
        if s.state_dir != state_dir or s.kind not in FILE_KINDS:
            continue
        places = [posixpath.dirname(g) + "/" for g in default_backup_globs(s)]
        files.update({b.file.path: b.file for b in find_backups(ctx, s)[0]
                      if any(b.file.path.startswith(p) for p in places)})
    readable = {p: f for p, f in files.items() if f.mode & 0o004}
    if not readable:
        return []
    above = sorted({a for p in readable for a in _ancestors(p)})
    _, out, _ = HostFS.for_context(ctx).run(
        "stat -c '%a %n' -- " + " ".join(shlex.quote(a) for a in above) + " 2>/dev/null; true",
        timeout=30)
    modes = {}
    for line in out.splitlines():
        mode, _, path = line.partition(" ")
        try:
            modes[path] = int(mode, 8)
        except ValueError:
            continue
    return [f"backup {p} is {f.mode & 0o7777:04o} in {posixpath.dirname(p)} "
            f"({modes[posixpath.dirname(p)]:04o}): every local user can read this copy of "
            "the store" for p, f in sorted(readable.items())
            if all(a in modes and modes[a] & 0o001 for a in _ancestors(p))]


def _ancestors(path: str) -> list[str]:
    out, d = [], posixpath.dirname(path)
    while d and d != "/":
        out.append(d)
        d = posixpath.dirname(d)
    return out


def _names_other_store(backup: Backup, store: Store) -> bool:
    """A backup named after another store, of the same app (Open WebUI's `webui.db` backup
    beside its chroma.sqlite3) or of another app (`webui.db.xz` in the backup dir a
    Langflow store shares), is that store's, never this one's."""
    from aiaudit.storage.layouts import LAYOUTS

    name = posixpath.basename(backup.file.path).lower()
    if re.search(r"\.(tar|tgz|zip)(\.|$)", name):
        return False  # an archive may hold every store (openclaw backup create, hermes backup)
    own = posixpath.basename(store.path).lower()
    names = {posixpath.basename(g.glob).lower() for layout in LAYOUTS for g in layout.stores}
    return any("*" not in other and other != own and other in name for other in names)


def _unpack(path: Path, store_name: str = "") -> Path:
    """gzip / zstd backups are unpacked next to the copy (streamed); from a zip (Hermes'
    `hermes backup` archives the whole home) the member named like the store is taken, else
    the first SQLite-looking member."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":
        out = path.with_suffix(".unpacked")
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        return out
    if magic == ZSTD_MAGIC:
        import zstandard

        out = path.with_suffix(".unpacked")
        with open(path, "rb") as src, open(out, "wb") as dst:
            zstandard.ZstdDecompressor().copy_stream(src, dst)
        return out
    if magic.startswith((b"\xfd7zX", b"BZh")):  # xz, bzip2
        import bz2
        import lzma

        out = path.with_suffix(".unpacked")
        opener = lzma.open if magic.startswith(b"\xfd7zX") else bz2.open
        with opener(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        return out
    if magic == b"PK\x03\x04":
        return _from_zip(path, store_name)
    if magic == SEVEN_ZIP_MAGIC[:4]:
        return _from_seven_zip(path, store_name)
    return path


def _from_seven_zip(path: Path, store_name: str) -> Path:
    """The member named like the store (else the first SQLite-looking one) out of a 7z, by
    the auditor's 7z; an encrypted one raises EncryptedArchive."""
    from aiaudit.storage import sevenzip

    found = sevenzip.listing(path)
    if found.encrypted:
        raise EncryptedArchive(found.detail)
    named = [m for m in found.members if posixpath.basename(m) == store_name]
    dbs = [m for m in found.members if m.endswith((".db", ".sqlite", ".sqlite3"))]
    chosen = (named or dbs or [None])[0]
    if chosen is None:
        return path
    out = path.with_suffix(".unpacked")
    with sevenzip.member(path, chosen) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    return out


def _from_zip(path: Path, store_name: str) -> Path:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            named = [m for m in members if posixpath.basename(m.filename) == store_name]
            dbs = [m for m in members if m.filename.endswith((".db", ".sqlite", ".sqlite3"))
                   and not posixpath.basename(m.filename).startswith(".")]
            chosen = (named or dbs or [None])[0]
            if chosen is None:
                return path
            out = path.with_suffix(".unpacked")
            with archive.open(chosen) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            return out
    except (zipfile.BadZipFile, OSError, RuntimeError):  # RuntimeError: encrypted member
        return path


def _member_of(archive: Path, store_path: str) -> tuple[Path | None, str]:
    """The store's copy inside a tar archive (OpenClaw's `openclaw backup create` keeps
    absolute paths under `<name>/payload/posix/`), extracted next to the archive."""
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        tail = store_path.lstrip("/")
        exact = [m for m in members if m.name.endswith("/" + tail) or m.name == tail]
        # by name only when the archive keeps no full paths (a same-named store of another
        # deployment in a full-path archive is not this store's backup)
        base = [m for m in members if m.name.strip("/").count("/") <= 1
                and posixpath.basename(m.name) == posixpath.basename(store_path)]
        pick = (exact or base or [None])[0]
        if pick is None:
            return None, f"the archive ({len(members)} files) holds no copy of {store_path}"
        out = archive.with_name(archive.name + ".member")
        src = tar.extractfile(pick)
        if src is None:
            return None, f"{pick.name} cannot be read from the archive"
        with src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        return out, f"archive member {pick.name}"


def restore(ctx: Any, backup: Backup, key: str | None, store_path: str = "",
            store_rows: int | None = None) -> Restore:
    """Restore a backup into a private temp dir and check it opens and holds rows.

    `store_path` (the store's path, or its file name) picks the store out of an archive:
    a zip (Hermes' `hermes backup`) by name, a tar (OpenClaw's `openclaw backup create`,
    plain or gzip/zstd) by its full path."""

    def compute() -> Restore:
        fs = HostFS.for_context(ctx)
        limit = settings_for(ctx).max_copy_mb * 1024 * 1024
        # A backup the audit account cannot copy was not tested: ERROR, not "does not restore".
        copy = copy_sqlite(fs, [(backup.file.path, backup.file.size)], limit, "backup")
        with open(copy.path, "rb") as fh:
            container = encrypted_container(fh.read(512))
        if container:
            return Restore(False, f"{container}: its restore needs a key the audit is not "
                           "given (gpg/age passphrase or identity)", encrypted=True)
        try:
            db = _unpack(copy.path, posixpath.basename(store_path))
        except EncryptedArchive as exc:
            return Restore(False, f"{exc}: its restore needs the archive's password",
                           encrypted=True)
        source = ""
        if tarfile.is_tarfile(db):
            member, source = _member_of(db, store_path)
            if member is None:
                return Restore(False, source)
            db, source = member, f" ({source})"
        errors = []
        for attempt_key in ([None, key] if key else [None]):
            try:
                conn = open_copy(db, attempt_key)
            except (*DB_ERRORS, OSError) as exc:
                errors.append(str(exc))
                continue
            try:
                integrity = integrity_check(conn)
                counts = row_counts(conn)
            except DB_ERRORS as exc:
                errors.append(str(exc))
                continue
            finally:
                conn.close()
            rows = sum(counts.values())
            how = "with the configured key" if attempt_key else "as plain SQLite"
            if integrity != "ok":
                return Restore(False, f"opened {how} but integrity_check: {integrity}", rows)
            if counts and rows == 0 and store_rows == 0:
                return Restore(True, f"opened {how}{source}; integrity_check ok; "
                               f"{len(counts)} table(s), no rows, as in the store itself")
            if not counts or rows == 0:
                return Restore(False, f"opened {how} but it holds no rows", rows)
            top = ", ".join(f"{t}={n}" for t, n in sorted(counts.items())[:6])
            return Restore(True, f"opened {how}{source}; integrity_check ok; rows: {top}", rows)
        return Restore(False, "does not open as SQLite" + (
            " (nor with the configured key)" if key else " (no [storage] key_file to try)")
            + (f": {errors[-1]}" if errors else ""))

    return ctx.cached(f"storage:restore:{backup.file.path}:{store_path}:{store_rows}", compute)


def store_rows(ctx: Any, store: Store) -> int | None:
    """Rows the store itself holds now (None when it cannot be read)."""
    from aiaudit.storage.snapshot import NeedsKey, opened_copy

    try:
        with opened_copy(ctx, store) as opened:
            return sum(row_counts(opened.conn).values())
    except (NeedsKey, CouldNotCheck):
        return None
