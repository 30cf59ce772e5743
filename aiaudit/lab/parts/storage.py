"""Storage additions to the lab (STO-01..08): history that looks lived-in, and backups.

vulnerable: plaintext Hermes state.db with conversations far older than 90 days, a pasted
API key that still sits in the WAL, soft-deleted rows, deleted text lingering in free
pages, no retention knob, no backups (plus the base lab's 0644 files and .env key).
hardened: the same kind of history but SQLCipher-encrypted and within retention,
`sessions.auto_prune` on, and a fresh encrypted backup on a separate tmpfs mount that the
target (the sshd's mount namespace) sees; the key is referenced by file for the auditor.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from .. import proc, state
from ..fsutil import make_dir, random_alnum
from ..store import SOURCE
from . import PartContext

DAY = 86400.0
OLD_AGES_DAYS = (400, 210, 120)  # vulnerable: conversations kept far past 90 days
RECENT_AGES_DAYS = (25, 12, 3)  # hardened: within its 30-day retention
HARDENED_RETENTION_DAYS = 30
TOPICS = (
    "How do I rotate the staging database password?",
    "Summarise the incident report from last week.",
    "Draft a reply to the customer about the delayed invoice.",
)


def _connect(db: Path, key_file: Path | None) -> Any:
    """A second connection next to the running agent's (WAL mode allows it)."""
    if key_file is None:
        conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    else:
        from sqlcipher3 import dbapi2 as sqlcipher

        conn = sqlcipher.connect(str(db), isolation_level=None, timeout=10)
        conn.execute(f"PRAGMA key = \"x'{key_file.read_text().strip()}'\"")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def _session(conn: Any, user: str, started: float, ended: bool = True) -> str:
    session_id = f"{time.strftime('%Y%m%d_%H%M%S', time.gmtime(started))}_{secrets.token_hex(4)}"
    conn.execute(
        "INSERT INTO sessions (id, source, user_id, model, started_at, ended_at, title,"
        " message_count) VALUES (?, ?, ?, 'lab-agent', ?, ?, ?, 0)",
        (session_id, SOURCE, user, started, started + 600 if ended else None,
         f"{user} {time.strftime('%Y-%m-%d', time.gmtime(started))}"),
    )
    return session_id


def _message(conn: Any, session_id: str, role: str, text: str, at: float,
             active: int = 1) -> None:
    conn.execute("INSERT INTO messages (session_id, role, content, timestamp, active)"
                 " VALUES (?, ?, ?, ?, ?)", (session_id, role, text, at, active))
    conn.execute("UPDATE sessions SET message_count = message_count + 1 WHERE id = ?",
                 (session_id,))


def _plant_history(conn: Any, ages: tuple[int, ...], now: float) -> None:
    for age, topic in zip(ages, TOPICS, strict=True):
        for user in ("alice", "bob"):
            started = now - age * DAY
            sid = _session(conn, user, started)
            _message(conn, sid, "user", f"{topic} (asked by {user})", started + 5)
            _message(conn, sid, "assistant", "Here is a short answer from the lab agent.",
                     started + 9)


def _vulnerable_extras(conn: Any, now: float) -> None:
    """Soft-deleted rows, deleted text in free pages, and a pasted key left in the WAL."""
    # SQLite's default; Debian builds libsqlite3 with SECURE_DELETE on, most others do not.
    conn.execute("PRAGMA secure_delete = OFF")
    sid = _session(conn, "alice", now - 150 * DAY)
    _message(conn, sid, "user", "Please forget what I said about the merger.", now - 150 * DAY,
             active=0)
    doomed = _session(conn, "bob", now - 100 * DAY)
    for i in range(40):  # enough text to fill whole pages that then become free pages
        _message(conn, doomed, "user", f"Draft {i} of the confidential board memo: "
                 + "revenue projections and layoffs plan " * 20, now - 100 * DAY + i)
    conn.execute("DELETE FROM messages WHERE session_id = ?", (doomed,))
    conn.execute("DELETE FROM sessions WHERE id = ?", (doomed,))
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # the free pages reach the file
    sid = _session(conn, "alice", now - 95 * DAY, ended=False)
    _message(conn, sid, "user", "My deploy fails, here is my config: OPENAI_API_KEY="
             f"sk-proj-{random_alnum(64)} GITHUB_TOKEN=ghp_{random_alnum(36)}", now - 95 * DAY)
    _message(conn, sid, "assistant", "Never paste keys into a chat; rotate them now.",
             now - 95 * DAY + 4)


def _hermes_sessions_config(home: Path, retention_days: int) -> None:
    """Hermes' own retention knob (config.yaml `sessions:`), as `hermes config set` writes it."""
    config = home / "config.yaml"
    text = config.read_text()
    text += (f"sessions:\n  auto_prune: true\n  retention_days: {retention_days}\n"
             "  vacuum_after_prune: true\n")
    mode = config.stat().st_mode & 0o777
    config.write_text(text)
    os.chmod(config, mode)


def _sshd_pid(name: str) -> int:
    data = state.load(name) or {}
    return int(data["processes"]["sshd"]["pid"])


def _backup_on_separate_mount(ctx: PartContext, key_file: Path) -> Path:
    """An encrypted backup (sqlcipher_export) on a tmpfs mounted in the target's namespace."""
    staging = make_dir(ctx.lab / "backup-staging", 0o700)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    staged = staging / f"state-{stamp}.db"
    conn = _connect(ctx.hermes_home / "state.db", key_file)
    key = key_file.read_text().strip()
    conn.execute(f"ATTACH DATABASE '{staged}' AS backup KEY \"x'{key}'\"")
    conn.execute("SELECT sqlcipher_export('backup')").fetchall()
    conn.execute("DETACH DATABASE backup")
    conn.close()
    backups = make_dir(ctx.lab / "backups", 0o700)
    pid = str(_sshd_pid(ctx.name))
    target = backups / staged.name
    proc.run(["nsenter", "-t", pid, "-m", "--", "sh", "-c",
              f"mount -t tmpfs -o size=64m,mode=0700 aiaudit-backups '{backups}' && "
              f"cp '{staged}' '{target}' && chmod 600 '{target}'"])
    ctx.cleanup.append(["nsenter", "-t", pid, "-m", "--", "umount", str(backups)])
    staged.unlink()
    staging.rmdir()
    return backups


def build(ctx: PartContext) -> dict[str, Any]:
    db = ctx.hermes_home / "state.db"
    now = time.time()
    agent = json.loads((ctx.lab / "agent.json").read_text())
    key_file = Path(agent["db_key_file"]) if agent.get("db_key_file") else None
    conn = _connect(db, key_file)
    try:
        if ctx.hardened:
            _plant_history(conn, RECENT_AGES_DAYS, now)
        else:
            _plant_history(conn, OLD_AGES_DAYS, now)
            _vulnerable_extras(conn, now)
    finally:
        conn.close()
    storage: dict[str, Any] = {}
    if ctx.hardened:
        assert key_file is not None
        _hermes_sessions_config(ctx.hermes_home, HARDENED_RETENTION_DAYS)
        backups = _backup_on_separate_mount(ctx, key_file)
        storage = {"key_file": str(key_file), "backup_dirs": [str(backups)]}
    return {"storage": storage} if storage else {}
