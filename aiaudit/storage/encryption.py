"""STO-01 facts: is every file of a store (and every copy and backup) encrypted at rest?

A file counts as encrypted at rest when its own bytes are (SQLCipher, by the decision order
in fileformat.py) or when the filesystem under it is (mounts.py). With a key configured, a
SQLCipher verdict is proved by opening a private copy and checking every page's HMAC.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from aiaudit.hostfs import HostFS
from aiaudit.status import CouldNotCheck
from aiaudit.storage.backups import find_backups
from aiaudit.storage.fileformat import FileVerdict
from aiaudit.storage.headers import HEAD_BYTES, WAL_HEAD_BYTES, file_verdict
from aiaudit.storage.locate import Store
from aiaudit.storage.mounts import MountFacts, mount_facts
from aiaudit.storage.settings import settings_for
from aiaudit.storage.snapshot import store_copy
from aiaudit.storage.sqlitefacts import CipherProof, prove_sqlcipher

JSON_SAMPLE = 20  # files of a JSON(L) store judged (they share one format)


@dataclass(frozen=True)
class FileAtRest:
    path: str
    role: str  # "store", "copy", "backup"
    verdict: FileVerdict
    mount: MountFacts

    @property
    def encrypted(self) -> bool | None:
        if self.mount.encrypted:
            return True
        return self.verdict.encrypted

    def line(self) -> str:
        if self.mount.encrypted:
            return f"{self.role} {self.path}: on an encrypted mount ({self.mount.how})"
        return f"{self.role} {self.path}: {self.verdict.line()}"


@dataclass
class StoreEncryption:
    store: Store
    files: list[FileAtRest] = field(default_factory=list)
    proof: CipherProof | None = None
    server_setting: str | None = None  # database servers: their encryption-at-rest setting
    unread: list[str] = field(default_factory=list)  # files that could not be read
    key_source: str = ""  # which configured key the proof used
    bytes_read: int = 0
    data_dir_from: str = ""  # an app's PostgreSQL database: how its data dir was told

    @property
    def plaintext(self) -> list[FileAtRest]:
        return [f for f in self.files if f.encrypted is False]

    @property
    def judged(self) -> list[FileAtRest]:
        return [f for f in self.files if f.encrypted is not None]

    @property
    def needs_proof(self) -> bool:
        """SQLCipher by its bytes (not by the mount), which a configured key can prove."""
        main = self.files[0] if self.files else None
        return bool(main and self.store.kind == "sqlite" and not main.mount.encrypted
                    and main.verdict.encrypted)


def _server_data_dir(ctx: Any, fs: HostFS, result: StoreEncryption, engine: str,
                     data_dir: str, setting: str) -> None:
    """A database server's files at rest: its own encryption setting, else the mount of
    its data dir (one logic for MongoDB, PostgreSQL seen as a process, an app's database)."""
    result.server_setting = setting
    mount = mount_facts(ctx, fs, data_dir)
    verdict = FileVerdict(setting == "true", f"{engine} data dir",
                          f"encryption at rest: {setting}", 0.0)
    result.files.append(FileAtRest(data_dir, "store", verdict, mount))


def assess(ctx: Any, store: Store) -> StoreEncryption:
    fs = HostFS.for_context(ctx)
    result = StoreEncryption(store)
    if store.kind in ("mongodb", "postgres"):
        _server_data_dir(ctx, fs, result, store.kind, store.path,
                         store.server.get("encryption_at_rest", ""))
        return result
    if store.kind == "postgresql":  # an app's database: its server's data dir decides
        from aiaudit.storage.dbservers import postgres_settings
        from aiaudit.storage.pgstores import data_dir_of

        data_dir, how = data_dir_of(ctx, store)
        result.data_dir_from = how
        _server_data_dir(ctx, fs, result, "postgres", data_dir,
                         postgres_settings("")["encryption_at_rest"])
        return result
    if store.kind == "backup":  # a backup of no store found: judged on its own
        files = [("backup", f) for f in store.files]
    else:
        files = [("store", f) for f in store.files[:JSON_SAMPLE]]
        files += [("copy", f) for f in store.copies if f.path.endswith(("-wal", "-journal"))]
        backups, _, _ = find_backups(ctx, store)
        files += [("backup", b.file) for b in backups]
    for role, info in files:
        mount = mount_facts(ctx, fs, posixpath.dirname(info.path) or "/")
        try:
            verdict = file_verdict(ctx, fs, info.path)
        except CouldNotCheck as exc:
            result.unread.append(str(exc))
            continue
        if verdict.encrypted is None and verdict.kind.endswith("(not read)"):
            result.unread.append(f"{info.path}: {verdict.detail}")  # never judged unseen
        result.files.append(FileAtRest(info.path, role, verdict, mount))
        result.bytes_read += min(info.size, WAL_HEAD_BYTES if info.path.endswith("-wal")
                                 else HEAD_BYTES)
    settings = settings_for(ctx)
    if result.needs_proof and settings.has_key_for(store.path):
        key = settings.key_for(store.path)
        result.key_source = settings.describe_key(store.path)
        if key:
            copy = store_copy(ctx, store)
            result.proof = ctx.cached(f"storage:proof:{store.path}",
                                      lambda: prove_sqlcipher(copy.path, key))
    return result
