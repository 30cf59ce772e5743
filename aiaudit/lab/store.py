"""Conversation history in the Hermes Agent layout (``$HERMES_HOME/state.db``).

Storing history the way a real self-hosted agent does lets the storage audits (file modes,
encryption at rest, cross-user leakage) run against a realistic database rather than an
invented one. The table definitions are copied from Hermes Agent 0.19.0,
``hermes_state.py`` (``SCHEMA_SQL``, schema version 22) in the ``hermes-agent`` wheel on
PyPI; only the ``sessions`` and ``messages`` tables (and their indexes) are mirrored.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

HERMES_SCHEMA_VERSION = 22
SOURCE = "api_server"  # Hermes' name for its OpenAI-compatible API platform

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    user_id TEXT,
    session_key TEXT,
    chat_id TEXT,
    chat_type TEXT,
    thread_id TEXT,
    display_name TEXT,
    origin_json TEXT,
    expiry_finalized INTEGER DEFAULT 0,
    model TEXT,
    model_config TEXT,
    system_prompt TEXT,
    parent_session_id TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    end_reason TEXT,
    message_count INTEGER DEFAULT 0,
    tool_call_count INTEGER DEFAULT 0,
    input_tokens INTEGER DEFAULT 0,
    output_tokens INTEGER DEFAULT 0,
    cache_read_tokens INTEGER DEFAULT 0,
    cache_write_tokens INTEGER DEFAULT 0,
    reasoning_tokens INTEGER DEFAULT 0,
    cwd TEXT,
    git_branch TEXT,
    git_repo_root TEXT,
    billing_provider TEXT,
    billing_base_url TEXT,
    billing_mode TEXT,
    estimated_cost_usd REAL,
    actual_cost_usd REAL,
    cost_status TEXT,
    cost_source TEXT,
    pricing_version TEXT,
    title TEXT,
    api_call_count INTEGER DEFAULT 0,
    handoff_state TEXT,
    handoff_platform TEXT,
    handoff_error TEXT,
    compression_failure_cooldown_until REAL,
    compression_failure_error TEXT,
    compression_fallback_streak INTEGER NOT NULL DEFAULT 0,
    profile_name TEXT,
    rewind_count INTEGER NOT NULL DEFAULT 0,
    archived INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (parent_session_id) REFERENCES sessions(id)
);

CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    role TEXT NOT NULL,
    content TEXT,
    tool_call_id TEXT,
    tool_calls TEXT,
    tool_name TEXT,
    effect_disposition TEXT,
    timestamp REAL NOT NULL,
    token_count INTEGER,
    finish_reason TEXT,
    reasoning TEXT,
    reasoning_content TEXT,
    reasoning_details TEXT,
    codex_reasoning_items TEXT,
    codex_message_items TEXT,
    platform_message_id TEXT,
    observed INTEGER DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    compacted INTEGER NOT NULL DEFAULT 0,
    api_content TEXT
);

CREATE INDEX IF NOT EXISTS idx_sessions_source ON sessions(source);
CREATE INDEX IF NOT EXISTS idx_sessions_source_id ON sessions(source, id);
CREATE INDEX IF NOT EXISTS idx_sessions_parent ON sessions(parent_session_id);
CREATE INDEX IF NOT EXISTS idx_sessions_started ON sessions(started_at DESC);
CREATE INDEX IF NOT EXISTS idx_messages_session ON messages(session_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_messages_session_active
    ON messages(session_id, active, timestamp);
CREATE INDEX IF NOT EXISTS idx_sessions_gateway_peer
    ON sessions(source, user_id, chat_id, chat_type, thread_id, started_at DESC);
"""

SESSION_COLUMNS = ("id", "source", "user_id", "model", "started_at", "ended_at", "title",
                   "message_count")
MESSAGE_COLUMNS = ("id", "session_id", "role", "content", "timestamp", "finish_reason")


def _connect(path: Path, key_hex: str | None) -> Any:
    """Plain sqlite3, or SQLCipher keyed with a raw 256-bit key when ``key_hex`` is given."""
    if key_hex is None:
        return sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    from sqlcipher3 import dbapi2 as sqlcipher  # optional dependency, checked by the caller

    conn = sqlcipher.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{key_hex}'\"")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fails on a wrong key
    return conn


class HistoryStore:
    """Thread-safe access to sessions/messages; one session per user and day."""

    def __init__(self, path: Path, key_hex: str | None = None, system_prompt: str = "",
                 model: str = "lab-agent") -> None:
        self.path = path
        self.system_prompt = system_prompt
        self.model = model
        self._lock = threading.Lock()
        self._conn = _connect(path, key_hex)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA_SQL)
        if self._conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
            self._conn.execute("INSERT INTO schema_version (version) VALUES (?)",
                               (HERMES_SCHEMA_VERSION,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def session_for(self, user: str) -> str:
        """Today's session of ``user``, created on first use (Hermes-style id)."""
        day_start = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
        with self._lock:
            row = self._conn.execute(
                "SELECT id FROM sessions WHERE source = ? AND user_id = ? AND started_at >= ?"
                " AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1",
                (SOURCE, user, day_start),
            ).fetchone()
            if row:
                return str(row[0])
            now = time.time()
            session_id = f"{time.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(4)}"
            self._conn.execute(
                "INSERT INTO sessions (id, source, user_id, model, system_prompt, started_at,"
                " title) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, SOURCE, user, self.model, self.system_prompt, now,
                 f"{user} {time.strftime('%Y-%m-%d')}"),
            )
            return session_id

    def add(self, session_id: str, role: str, content: str, token_count: int | None = None,
            finish_reason: str | None = None) -> None:
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "INSERT INTO messages (session_id, role, content, timestamp, token_count,"
                " finish_reason) VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, role, content, time.time(), token_count, finish_reason),
            )
            self._conn.execute(
                "UPDATE sessions SET message_count = message_count + 1 WHERE id = ?",
                (session_id,),
            )
            self._conn.execute("COMMIT")

    def recent(self, user: str | None, limit: int, *, since: float = 0.0,
               exclude: str | None = None) -> list[tuple[str, str]]:
        """Last ``limit`` (role, content) pairs at or after ``since``, oldest first;
        ``user=None`` means everyone's, ``exclude`` leaves one user's messages out."""
        query = ("SELECT m.role, m.content FROM messages m JOIN sessions s ON s.id = m.session_id"
                 " WHERE m.active = 1 AND m.timestamp >= ?")
        args: list[Any] = [since]
        if user is not None:
            query += " AND s.user_id = ?"
            args.append(user)
        if exclude is not None:
            query += " AND s.user_id IS NOT ?"
            args.append(exclude)
        query += " ORDER BY m.id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._conn.execute(query, args).fetchall()
        return [(str(role), str(content or "")) for role, content in reversed(rows)]

    def sessions(self, user: str | None) -> list[dict[str, Any]]:
        query = f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions"
        args: tuple[Any, ...] = ()
        if user is not None:
            query += " WHERE user_id = ?"
            args = (user,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY started_at", args).fetchall()
        return [dict(zip(SESSION_COLUMNS, row, strict=True)) for row in rows]

    def messages(self, session_id: str, user: str | None) -> list[dict[str, Any]] | None:
        """Messages of a session; None when it does not exist or (``user`` given) is not theirs."""
        with self._lock:
            owner = self._conn.execute(
                "SELECT user_id FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if owner is None or (user is not None and owner[0] != user):
                return None
            rows = self._conn.execute(
                f"SELECT {', '.join(MESSAGE_COLUMNS)} FROM messages WHERE session_id = ?"
                " ORDER BY id",
                (session_id,),
            ).fetchall()
        return [dict(zip(MESSAGE_COLUMNS, row, strict=True)) for row in rows]
