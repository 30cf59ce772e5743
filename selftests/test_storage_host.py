"""Host-side storage facts on real files through the real HostFS (local target): locating
app layouts, permissions, retention data, backups that restore (or not)."""

from __future__ import annotations

import gzip
import os
import sqlite3
import time
from pathlib import Path

import pytest
import zstandard
from sqlcipher3 import dbapi2 as sqlcipher

from aiaudit.config import AuditConfig, DeploymentConfig
from aiaudit.context import AuditContext
from aiaudit.products import openclaw
from aiaudit.storage.backups import find_backups, restore
from aiaudit.storage.locate import locate
from aiaudit.storage.permissions import permission_facts
from aiaudit.storage.retention import hermes_knob, openclaw_knob
from aiaudit.storage.sqlitefacts import data_age, free_pages, live_text
from aiaudit.target import parse_target

DAY = 86400
KEY = "c7" * 32


def ctx_for(state_dirs: list[Path], **storage) -> AuditContext:
    """A deployment scoped to these dirs: other processes' env overrides on a shared host
    (a sibling's Open WebUI DATA_DIR) are not this test's stores."""
    cfg = AuditConfig(deployment=DeploymentConfig(homes=tuple(str(p) for p in state_dirs)),
                      areas={"storage": {"search_homes": False, **storage}})
    return AuditContext(parse_target("local"), cfg)


def hermes_db(path: Path, ages_days: list[float], key: str | None = None,
              deleted_text: bool = False, secure_delete: bool = False) -> None:
    conn = sqlcipher.connect(str(path)) if key else sqlite3.connect(path)
    if key:
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
    conn.execute(f"PRAGMA secure_delete = {'ON' if secure_delete else 'OFF'}")
    conn.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT, started_at REAL)")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT, content TEXT,"
                 " timestamp REAL, active INTEGER NOT NULL DEFAULT 1)")
    now = time.time()
    for i, age in enumerate(ages_days):
        conn.execute("INSERT INTO sessions VALUES (?, 'alice', ?)", (f"s{i}", now - age * DAY))
        conn.execute("INSERT INTO messages (session_id, content, timestamp) VALUES (?, ?, ?)",
                     (f"s{i}", "hello", now - age * DAY))
    if deleted_text:
        for _ in range(30):
            conn.execute("INSERT INTO messages (session_id, content, timestamp) "
                         "VALUES ('gone', ?, ?)", ("secret memo text " * 40, now))
        for _ in range(15):  # hidden from the user, still stored
            conn.execute("INSERT INTO messages (session_id, content, timestamp, active) "
                         "VALUES ('hidden', 'forget this', ?, 0)", (now,))
        conn.commit()  # the text reaches the file before it is deleted
        conn.execute("DELETE FROM messages WHERE session_id = 'gone'")
    conn.commit()
    conn.close()


@pytest.fixture
def hermes_home(tmp_path) -> Path:
    home = tmp_path / "hermes"
    home.mkdir(mode=0o700)
    hermes_db(home / "state.db", [3, 10])
    (home / "state.db-wal").write_bytes(b"")
    (home / ".env").write_text("API_SERVER_PORT=8080\n")
    os.chmod(home / ".env", 0o600)
    os.chmod(home / "state.db", 0o600)
    os.chmod(home / "state.db-wal", 0o600)
    sessions = home / "sessions"
    sessions.mkdir(mode=0o700)
    (sessions / "old.jsonl").write_text('{"role":"user","content":"hi"}\n')
    os.chmod(sessions / "old.jsonl", 0o600)
    return home


def test_locate_finds_the_hermes_layout_and_its_wal(hermes_home):
    stores, dirs = locate(ctx_for([hermes_home]))
    by_kind = {s.kind: s for s in stores}
    assert by_kind["sqlite"].app == "hermes"
    assert by_kind["sqlite"].path == str(hermes_home / "state.db")
    assert [c.path for c in by_kind["sqlite"].copies] == [str(hermes_home / "state.db-wal")]
    assert by_kind["jsonl"].path == str(hermes_home / "sessions")
    assert [d.path for d in dirs] == [str(hermes_home)]


def test_permissions_pass_when_private(hermes_home):
    facts = permission_facts(ctx_for([hermes_home], service_user=_me()), str(hermes_home))
    assert facts.problems == [] and facts.entries == 6  # dir, 3 files, sessions/, 1 jsonl


def test_permissions_flag_modes_and_escaping_symlinks(hermes_home, tmp_path):
    os.chmod(hermes_home, 0o755)
    os.chmod(hermes_home / ".env", 0o644)
    (hermes_home / "outside").symlink_to(tmp_path)
    (hermes_home / "inside").symlink_to("sessions/old.jsonl")
    facts = permission_facts(ctx_for([hermes_home], service_user=_me()), str(hermes_home))
    assert facts.problems == [
        f"dir {hermes_home} is 0755", f"file {hermes_home}/.env is 0644",
        f"symlink {hermes_home}/outside -> {tmp_path} leaves the state dir"]


def test_permissions_flag_wrong_owner(hermes_home):
    facts = permission_facts(ctx_for([hermes_home], service_user="hermes-svc"),
                             str(hermes_home))
    assert len(facts.wrong_owner) == 6


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def test_data_age_soft_deleted_and_lingering_free_pages(tmp_path):
    db = tmp_path / "state.db"
    hermes_db(db, [200, 5], deleted_text=True)
    conn = sqlite3.connect(db)
    age = data_age(conn)
    conn.close()
    assert 199 < age.oldest_days() < 201
    assert age.where in ("sessions.started_at", "messages.timestamp")
    assert age.soft_deleted == {"messages.active = 0": 15}
    pages = free_pages(db)
    assert pages.count > 0 and pages.with_text == pages.count
    conn = sqlite3.connect(db)
    live = live_text(conn)
    conn.close()
    assert free_pages(db, live).with_text == pages.count  # the memo is stored nowhere live


def test_free_pages_that_only_hold_a_stale_copy_of_live_text(tmp_path):
    """A rewritten row (OpenClaw rewrites session_nodes.entry_json every turn) frees its
    old overflow pages; their text is still stored live, so nothing deleted lingers."""
    db = tmp_path / "agent.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("CREATE TABLE session_nodes (k TEXT PRIMARY KEY, entry_json TEXT)")
    snapshot = "".join(f"<skill><name>skill-{i}</name></skill>" for i in range(400))
    conn.execute("INSERT INTO session_nodes VALUES ('main', ?)", ('{"v":1,' + snapshot + "}",))
    conn.commit()
    conn.execute("UPDATE session_nodes SET entry_json = ?", ('{"v":22,' + snapshot + "}",))
    conn.commit()
    live = live_text(conn)
    conn.close()
    pages = free_pages(db)
    assert pages.count > 0 and pages.with_text > 0
    assert free_pages(db, live).with_text == 0


def test_secure_delete_leaves_no_text_in_free_pages(tmp_path):
    db = tmp_path / "state.db"
    hermes_db(db, [1], deleted_text=True, secure_delete=True)  # Debian's libsqlite3 default
    pages = free_pages(db)
    assert pages.count > 0 and pages.with_text == 0


def test_retention_knobs():
    assert hermes_knob("sessions:\n  auto_prune: true\n  retention_days: 30\n", "c").enabled
    default = hermes_knob("model:\n  provider: custom\n", "c")
    assert not default.enabled and default.days == 90
    knob = openclaw_knob(openclaw.parse_config(
        "c", '{"session": {"maintenance": {"mode": "enforce", "pruneAfter": "720h"}}}'))
    assert knob.enabled and knob.days == 30


def test_openclaw_maintenance_defaults_as_openclaw_applies_them():
    """src/config/sessions/store-maintenance.ts: unset mode is "enforce", unset or unparsable
    pruneAfter is 30d, durations take ms|s|m|h|d (bare number = days), no weeks."""
    unset = openclaw_knob(openclaw.parse_config("c", "{}"))
    assert unset.enabled and unset.days == 30 and "mode" in unset.detail
    missing = openclaw_knob(openclaw.Config("/x/openclaw.json", None, "", exists=False))
    assert missing.enabled and missing.days == 30 and "absent" in missing.where
    warn = openclaw_knob(openclaw.parse_config(
        "c", '{session: {maintenance: {mode: "warn", pruneAfter: 7}}}'))
    assert not warn.enabled and warn.days == 7
    assert openclaw.duration_ms("1d12h") == 36 * 3_600_000
    assert openclaw.duration_ms("4w") is None and openclaw.duration_ms("soon") is None
    odd = openclaw.maintenance(openclaw.parse_config(
        "c", '{"session": {"maintenance": {"pruneAfter": "4w"}}}'))
    assert odd.prune_after_days == 30 and "pruneAfter" in odd.unset  # OpenClaw falls back
    broken = openclaw_knob(openclaw.parse_config("c", "{not json"))
    assert not broken.enabled and "cannot read" in broken.detail


@pytest.mark.parametrize("packing", ["plain", "gzip", "zstd", "sqlcipher"])
def test_backup_restores_on_a_temp_copy(tmp_path, hermes_home, packing):
    backups = tmp_path / "backups"
    backups.mkdir()
    raw = backups / "state-raw.db"
    hermes_db(raw, [1, 2], key=KEY if packing == "sqlcipher" else None)
    target = {"plain": backups / "state-1.db", "gzip": backups / "state-1.db.gz",
              "zstd": backups / "state-1.db.zst", "sqlcipher": backups / "state-1.db"}[packing]
    data = raw.read_bytes()
    raw.unlink()
    target.write_bytes(gzip.compress(data) if packing == "gzip" else
                       zstandard.ZstdCompressor().compress(data) if packing == "zstd" else data)
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    ctx = ctx_for([hermes_home], backup_dirs=[str(backups)], key_file=str(key_file))
    store = next(s for s in locate(ctx)[0] if s.kind == "sqlite")
    found, store_dev, _ = find_backups(ctx, store)
    assert [b.file.path for b in found] == [str(target)]
    assert found[0].device == store_dev  # same tmp filesystem here: STO-07 fails on this
    result = restore(ctx, found[0], KEY)
    assert result.ok and result.rows == 4, result.detail


def test_backup_that_is_not_a_database_does_not_restore(tmp_path, hermes_home):
    backups = tmp_path / "backups"
    backups.mkdir()
    (backups / "state-1.db.gz").write_bytes(gzip.compress(b"not a database at all" * 100))
    ctx = ctx_for([hermes_home], backup_dirs=[str(backups)])
    store = next(s for s in locate(ctx)[0] if s.kind == "sqlite")
    result = restore(ctx, find_backups(ctx, store)[0][0], None)
    assert not result.ok and "does not open" in result.detail


def test_hostile_state_dir_names_are_data_not_code(tmp_path, monkeypatch):
    evil = tmp_path / "it's $(touch pwned) `touch pwned2`"
    evil.mkdir()
    hermes_db(evil / "state.db", [1])
    monkeypatch.chdir(tmp_path)
    stores, _ = locate(ctx_for([evil]))
    assert [s.path for s in stores] == [str(evil / "state.db")]
    assert not list(tmp_path.glob("pwned*"))
