"""STO-03's SQL pass on real SQLite/SQLCipher files: secrets cut by overflow pages,
zstd-compressed OpenClaw events, encrypted stores read with their key, bombs bounded."""

from __future__ import annotations

import io
import json
import os
import secrets
import sqlite3
import string
from pathlib import Path

import zstandard
from sqlcipher3 import dbapi2 as sqlcipher

from aiaudit.config import AuditConfig, DeploymentConfig
from aiaudit.context import AuditContext
from aiaudit.storage.historyscan import scan_source, store_source
from aiaudit.storage.locate import locate
from aiaudit.storage.secrets.engine import distinct, scan_stream
from aiaudit.storage.sqlcells import MAX_INFLATED, scan_cells
from aiaudit.target import parse_target

ALNUM = string.ascii_letters + string.digits
KEY = "3a" * 32


def openai_key() -> str:
    return "sk-proj-" + "".join(secrets.choice(ALNUM) for _ in range(120))


def ctx_for(state_dir: Path, **storage) -> AuditContext:
    # scoped: other processes' env overrides on a shared host are not this test's stores
    cfg = AuditConfig(deployment=DeploymentConfig(homes=(str(state_dir),)),
                      areas={"storage": {"search_homes": False, **storage}})
    return AuditContext(parse_target("local"), cfg)


def raw_digests(path: Path) -> set[str]:
    with path.open("rb") as stream:
        return {f.digest for f in scan_stream(stream, str(path))}


def hermes_home(tmp_path: Path, contents: list[str], key: str | None = None) -> Path:
    home = tmp_path / ".hermes"
    home.mkdir(mode=0o700)
    conn = sqlcipher.connect(str(home / "state.db")) if key else sqlite3.connect(
        home / "state.db")
    if key:
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT, "
                 "content TEXT, timestamp REAL)")
    conn.executemany("INSERT INTO messages (session_id, content, timestamp) VALUES ('s', ?, 0)",
                     [(c,) for c in contents])
    conn.commit()
    conn.close()
    os.chmod(home / "state.db", 0o600)
    return home


def test_secrets_cut_by_overflow_pages_are_found_through_sql(tmp_path):
    planted = [openai_key() for _ in range(60)]
    # 6,000-byte messages keep ~1,900 bytes on the leaf page and the rest on overflow pages;
    # the key sits at shifting offsets around that cut, so some keys straddle it
    contents = []
    for i, k in enumerate(planted):
        head = ("lorem ipsum " * 200)[:1500 + 13 * i] + f" my key is {k} "
        contents.append(head + ("dolor sit amet " * 400)[:6000 - len(head)])
    home = hermes_home(tmp_path, contents)
    want = {f.digest for f in distinct(scan_stream(
        io.BytesIO("\n".join(planted).encode()), "planted"))}
    assert len(want) == 60
    missed_on_disk = want - raw_digests(home / "state.db")
    assert missed_on_disk, "premise: the byte scan alone misses keys cut by overflow pages"

    ctx = ctx_for(home)
    [store] = [s for s in locate(ctx)[0] if s.kind == "sqlite"]
    result = scan_source(ctx, store_source(store))
    assert want <= {f.digest for f in result.findings}  # (plus the cut halves seen on disk)
    assert result.cells >= 60 and result.cell_note == ""


def test_openclaw_zstd_events_are_inflated_and_scanned(tmp_path):
    home = tmp_path / ".openclaw"
    agent = home / "agents" / "main" / "agent"
    agent.mkdir(parents=True)
    secret = openai_key()
    event = json.dumps({"type": "message", "role": "user",
                        "content": "deploy with " + secret + " please " + "x" * 5000})
    conn = sqlite3.connect(agent / "openclaw-agent.sqlite")
    conn.execute("CREATE TABLE transcript_events (id INTEGER PRIMARY KEY, session_id TEXT, "
                 "event_json TEXT, event_zstd BLOB, created_at INTEGER)")
    conn.execute("INSERT INTO transcript_events VALUES (1, 's', NULL, ?, 0)",
                 (zstandard.ZstdCompressor().compress(event.encode()),))
    conn.execute("INSERT INTO transcript_events VALUES (2, 's', '{\"t\":\"hi\"}', NULL, 0)")
    conn.commit()
    conn.close()
    assert raw_digests(agent / "openclaw-agent.sqlite") == set()  # compressed: unseen on disk

    ctx = ctx_for(home)
    [store] = [s for s in locate(ctx)[0] if s.path.endswith("openclaw-agent.sqlite")]
    result = scan_source(ctx, store_source(store))
    assert result.inflated == 1
    assert [f.location.rsplit("#", 1)[-1] for f in result.findings] == [
        "transcript_events.event_zstd[cell 1] (zstd)"]
    assert secret not in repr(result)


def test_encrypted_store_is_read_with_its_key_and_noted_without(tmp_path):
    secret = openai_key()
    home = hermes_home(tmp_path, ["hello there, friend", f"the key {secret}"], key=KEY)
    ctx = ctx_for(home)
    [store] = [s for s in locate(ctx)[0] if s.kind == "sqlite"]
    result = scan_source(ctx, store_source(store))
    assert result.findings == [] and "encrypted" in result.cell_note

    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    ctx = ctx_for(home, key_file=str(key_file))
    result = scan_source(ctx, store_source(store))
    assert len(result.findings) == 1 and result.findings[0].rule == "openai-api-key"
    assert result.cells == 2  # with the key every value is read, short ones too


def test_a_zstd_bomb_is_cut_at_the_bound(tmp_path):
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\0" * (MAX_INFLATED * 2))
    assert len(bomb) < 100_000
    conn = sqlite3.connect(tmp_path / "b.db")
    conn.execute("CREATE TABLE t (b BLOB)")
    conn.execute("INSERT INTO t VALUES (?)", (bomb,))
    conn.execute("INSERT INTO t VALUES (?)", (b"\x28\xb5\x2f\xfd not really zstd",))
    result = scan_cells(conn, "b.db")
    assert result.inflated == 2 and result.findings == []


def test_a_key_run_on_into_the_next_column_in_the_wal_is_one_secret(tmp_path):
    """An OpenClaw-shaped agent store whose last turn is still only in its WAL (the
    gateway holds it open): on the page, the text column ending in the key is followed by
    the next column's bytes ("Admin"), so the raw WAL bytes read the key 5 characters too
    long; read back through SQL it is the key itself: one secret, one fingerprint."""
    home = tmp_path / ".openclaw"
    agent = home / "agents" / "main" / "agent"
    agent.mkdir(parents=True)
    secret = openai_key()
    conn = sqlite3.connect(agent / "openclaw-agent.sqlite")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE session_transcript_fts_content (id INTEGER PRIMARY KEY, "
                 "text TEXT, role TEXT, timestamp INTEGER)")
    conn.commit()
    conn.execute("INSERT INTO session_transcript_fts_content (text, role, timestamp) "
                 "VALUES (?, 'Admin', 0)", (f"deploy with {secret}",))
    conn.commit()
    try:
        wal = agent / "openclaw-agent.sqlite-wal"
        assert wal.stat().st_size > 0
        with wal.open("rb") as stream:
            raw = list(scan_stream(stream, str(wal)))
        assert [f.length for f in raw] == [len(secret) + len("Admin")]  # the premise
        ctx = ctx_for(home)
        [store] = [s for s in locate(ctx)[0] if s.path.endswith("openclaw-agent.sqlite")]
        result = scan_source(ctx, store_source(store))
        want = {f.digest for f in scan_stream(io.BytesIO(secret.encode()), "planted")}
        assert {f.digest for f in distinct(result.findings)} == want
        assert {f.length for f in result.findings} == {len(secret)}
        assert any(f.location.endswith("-wal") for f in result.findings)
    finally:
        conn.close()
