"""Compressed and archived backups, packed by the real tools (gzip, zstd, xz, bzip2, zip, tar
CLIs): judged at rest by what they hold (STO-01: a gzip of a SQLCipher store is ciphertext,
a gzip of a plaintext one is plaintext), scanned for secrets through their layers (STO-03),
restored (STO-07), and found on their own in backup dirs and state dirs when no live store
claims them."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from aiaudit.config import AuditConfig
from aiaudit.context import AuditContext
from aiaudit.hostfs import HostFS
from aiaudit.storage.backups import Backup, find_backups, restore, standalone_backups
from aiaudit.storage.encryption import assess
from aiaudit.storage.headers import file_verdict
from aiaudit.storage.historyscan import HistorySource, scan_source
from aiaudit.storage.locate import FileInfo, locate
from aiaudit.target import parse_target

KEY = "3d" * 32
SECRET = "ghp_" + "Hq3Lm8Vt2Rw7Kp4Xz9Nc6Bd1Fg5Js0Ya3Ue8W"  # invented, GitHub classic PAT format
# packing -> shell command run in the dir holding state.db, and the file it makes
PACKINGS = {
    "gzip": ("gzip -k -n state.db", "state.db.gz"),
    "zstd": ("zstd -q state.db -o state.db.zst", "state.db.zst"),
    "xz": ("xz -k state.db", "state.db.xz"),
    "bzip2": ("bzip2 -k state.db", "state.db.bz2"),
    "zip": ("zip -q -X hermes-backup.zip state.db config.yaml", "hermes-backup.zip"),
    "tar": ("tar -cf hermes-backup.tar state.db config.yaml", "hermes-backup.tar"),
    "tar+gzip": ("tar -czf hermes-backup.tar.gz state.db config.yaml", "hermes-backup.tar.gz"),
    "tar+zstd": ("tar --zstd -cf hermes-backup.tar.zst state.db config.yaml",
                 "hermes-backup.tar.zst"),
    "tar+xz": ("tar -cJf hermes-backup.tar.xz state.db config.yaml", "hermes-backup.tar.xz"),
}
TOOLS = ("gzip", "zstd", "xz", "bzip2", "zip", "tar")


def _store(path: Path, key: str | None) -> None:
    conn = sqlcipher.connect(str(path)) if key else sqlite3.connect(path)
    if key:
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
    conn.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, started_at REAL)")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT, content TEXT, "
                 "timestamp REAL)")
    now = time.time()
    conn.execute("INSERT INTO sessions VALUES ('s1', ?)", (now,))
    for i in range(200):  # a few pages, so the packed store is more than its header
        conn.execute("INSERT INTO messages (session_id, content, timestamp) VALUES ('s1', ?, ?)",
                     (f"note {i}: " + "lorem ipsum " * 20, now))
    conn.execute("INSERT INTO messages (session_id, content, timestamp) VALUES ('s1', ?, ?)",
                 (f"use my token {SECRET} for the repo", now))
    conn.commit()
    conn.close()


def _pack(work: Path, packing: str, key: str | None) -> Path:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (bin/setup installs them)")
    work.mkdir(parents=True, exist_ok=True)
    _store(work / "state.db", key)
    (work / "config.yaml").write_text("model:\n  default: gemma\n")
    command, name = PACKINGS[packing]
    subprocess.run(["sh", "-c", command], cwd=work, check=True, capture_output=True, timeout=60)
    return work / name


def _ctx(state_dirs: list[Path], **storage) -> AuditContext:
    cfg = AuditConfig(state_dirs=[str(p) for p in state_dirs],
                      areas={"storage": {"search_homes": False, **storage}})
    return AuditContext(parse_target("local"), cfg)


def _info(path: Path) -> FileInfo:
    st = path.stat()
    return FileInfo(str(path), st.st_size, st.st_mtime, st.st_mode & 0o7777, st.st_uid, "root")


@pytest.mark.parametrize("packing", sorted(PACKINGS))
def test_packed_plaintext_store_is_plaintext_and_its_secret_is_found(tmp_path, packing):
    packed = _pack(tmp_path / "w", packing, None)
    ctx = _ctx([])
    verdict = file_verdict(ctx, HostFS.for_context(ctx), str(packed))
    assert verdict.encrypted is False and "plaintext SQLite" in verdict.kind, verdict
    assert verdict.kind.startswith(packing), verdict.kind
    result = scan_source(ctx, HistorySource("backup", (_info(packed),)))
    assert result.files == 1 and result.packed == 1
    assert [f.rule for f in result.findings] == ["github-pat-classic"]
    assert result.findings[0].location.startswith(f"{packed}!")
    restored = restore(ctx, Backup(_info(packed), "0", "/"), None, "/h/.hermes/state.db")
    assert restored.ok and restored.rows >= 201, restored.detail


@pytest.mark.parametrize("packing", ["gzip", "zstd", "xz", "zip", "tar+gzip"])
def test_packed_sqlcipher_store_is_encrypted(tmp_path, packing):
    packed = _pack(tmp_path / "w", packing, KEY)
    ctx = _ctx([])
    verdict = file_verdict(ctx, HostFS.for_context(ctx), str(packed))
    # SQLCipher's default file has no plaintext header: random bytes from byte 0
    assert verdict.encrypted is True and "of encrypted" in verdict.kind, verdict
    result = scan_source(ctx, HistorySource("backup", (_info(packed),)))
    assert result.findings == [] and result.packed == 1
    restored = restore(ctx, Backup(_info(packed), "0", "/"), KEY, "/h/.hermes/state.db")
    assert restored.ok and "with the configured key" in restored.detail, restored.detail


def test_archive_without_a_store_keeps_the_outer_verdict(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    (work / "config.yaml").write_text("a: 1\n")
    subprocess.run(["tar", "-czf", "conf.tar.gz", "config.yaml"], cwd=work, check=True)
    ctx = _ctx([])
    verdict = file_verdict(ctx, HostFS.for_context(ctx), str(work / "conf.tar.gz"))
    assert verdict.encrypted is False and verdict.kind == "gzip (compressed, not encrypted)"


def test_backups_without_a_live_store_are_found_judged_and_scanned(tmp_path):
    """A state dir whose state.db is gone but whose gzip copy stayed, and a backup dir with
    an archive named after no store: each is a case of its own for STO-01 and STO-03; a
    backup that belongs to a live store is not listed again."""
    home = tmp_path / "hermes-home"
    gz = _pack(home, "gzip", None)
    (home / "state.db").unlink()  # the store is gone, its backup is not
    (home / "config.yaml").write_text("sessions:\n  auto_prune: true\n")
    backups = tmp_path / "backups"
    archive = _pack(tmp_path / "other", "tar+zstd", None)
    backups.mkdir()
    shutil.move(archive, backups / "nightly.tar.zst")
    live = tmp_path / "live"
    live.mkdir()
    _store(live / "state.db", None)
    shutil.copy(gz, backups / "state-20261201.db.gz")  # named after the live store
    ctx = _ctx([home, live], backup_dirs=[str(backups)])
    mine = str(tmp_path)  # running deployments elsewhere on the host name their own stores
    stores = locate(ctx)[0]
    assert [s.path for s in stores if s.kind == "sqlite" and s.path.startswith(mine)
            ] == [str(live / "state.db")]
    # a file named after no store counts as a backup of each store with no named one
    # (find_backups): on a host running other deployments, theirs may claim it
    others = [s for s in stores if not s.path.startswith(mine)
              and s.kind in ("sqlite", "jsonl", "json")]
    claimed = {b.file.path for s in others for b in find_backups(ctx, s)[0]}
    found = {s.path: s for s in standalone_backups(ctx) if s.path.startswith(mine)}
    assert set(found) == {str(gz)} | ({str(backups / "nightly.tar.zst")} - claimed), found
    for store in found.values():
        assert store.kind == "backup"
        facts = assess(ctx, store)
        assert [f.role for f in facts.files] == ["backup"]
        assert facts.plaintext and "plaintext SQLite" in facts.files[0].verdict.kind
        result = scan_source(ctx, HistorySource(store.path, store.files))
        assert [f.rule for f in result.findings] == ["github-pat-classic"]
    os.unlink(backups / "state-20261201.db.gz")
