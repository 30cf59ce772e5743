"""SQLite stores left mid-write, for selftests/test_storage_journal.py: a real app's store
(Langflow 1.13.0's recorded langflow.db, app_states.langflow_state) with a writer of the
real sqlite3 library killed (SIGKILL) inside a transaction, as a crash leaves it.

* journal-delete: the planted session's rows deleted in an open transaction (what
  DELETE /api/v1/monitor/messages/session/<id> runs) with a cache of one page, so SQLite
  spills (the same transaction rewrites the flows: more pages than the cache): it writes
  the original pages to `langflow.db-journal` and the changed ones (the key's cells zeroed:
  Debian's SQLite has secure_delete on) into langflow.db, then the writer dies. The key
  is no longer in langflow.db's bytes, only in the hot journal; the next opener rolls it
  back, so the store still holds it (STO-03 FAIL). A reader that
  skips the journal, or opens the file immutable, sees it gone.
* journal-insert: the clean store; the planted message row inserted in an open
  transaction, spilled, the writer killed: the key is in langflow.db's bytes but was never
  committed (the journal holds the pages before it). Its bytes are on disk (STO-03 FAIL
  on the raw scan), no row holds it after the rollback.
* wal-deleted: the clean store in WAL mode, the planted row inserted and committed, then
  deleted and committed, no checkpoint (the writer killed before it closes): the main file
  never held the key, every frame with it is in langflow.db-wal (STO-03 FAIL).
Dirs 0700, files 0600 (STO-05 PASS): only the history is the point.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from selftests import app_states

# the key typed into Langflow's planted session (record_app_stores.PLANTED)
PLANTED = "sk-proj-" + "Q7vX2mN9pL4kR8sT1wY6zB3cF5hJ0dG" + "aE2iO9uK7nM4qW1xZ"

WRITER = r"""
import sqlite3, sys, time
db, mode, row = sys.argv[1], sys.argv[2], sys.argv[3:]
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("PRAGMA cache_size = 1")        # spill changed pages before the commit
conn.execute("PRAGMA cache_spill = 1")
if mode in ("delete", "insert"):
    conn.execute("BEGIN")
    if mode == "delete":
        conn.execute("DELETE FROM message WHERE session_id != 'aiaudit-clean'")
    else:
        conn.execute(row[0], row[1:])
    # the same transaction goes on to rewrite the flows (as saving a flow does): more
    # pages than the cache holds, so the message page is spilled to the store
    conn.execute("UPDATE flow SET data = data || ''")
elif mode == "wal":
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute(row[0], row[1:])
    conn.execute("DELETE FROM message WHERE session_id != 'aiaudit-clean'")
print("ready", flush=True)
time.sleep(60)
"""


def _kill_writer(db: Path, mode: str, row: list[str] | None = None) -> None:
    """Run the writer until it says ready (its transaction open, pages spilled), then
    SIGKILL it: no rollback, no checkpoint, the files as a crash leaves them."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), mode, *(row or [])],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError(f"writer of {db} did not get ready: {line!r}")
        time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _planted_row(root: Path) -> list[str]:
    """The planted message row as Langflow wrote it (from the recorded vulnerable store),
    as an INSERT statement and its values."""
    src = app_states.langflow_state(root / "src", "vulnerable") / "langflow.db"
    conn = sqlite3.connect(src)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(message)")]
    row = conn.execute("SELECT * FROM message WHERE text LIKE ?",
                       (f"%{PLANTED[:20]}%",)).fetchone()
    conn.close()
    sql = f"INSERT INTO message ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    return [sql, *(str(v) if v is not None else "" for v in row)]


def _private(cfg: Path) -> None:
    cfg.chmod(0o700)
    for f in cfg.iterdir():
        f.chmod(0o600)
    (cfg / ".env").unlink(missing_ok=True)  # the .env's key is STO-04's, not this point


def closed_journal(root: Path, owner: str) -> Path:
    """journal-delete again, its hot journal handed to `owner` (0600): the store readable
    to the audit, the journal that holds the key not."""
    import pwd

    cfg = app_states.langflow_state(root / "journal-closed", "vulnerable")
    conn = sqlite3.connect(cfg / "langflow.db")
    conn.execute("UPDATE message SET timestamp = datetime('now')")
    conn.commit()
    conn.close()
    _kill_writer(cfg / "langflow.db", "delete")
    _private(cfg)
    cfg.chmod(0o755)  # the other account's journal must be reachable to be listed
    uid = pwd.getpwnam(owner).pw_uid
    os.chown(cfg / "langflow.db-journal", uid, uid)
    return cfg


def build(root: Path) -> dict[str, Path]:
    """{label: Langflow config dir} of the three states."""
    out: dict[str, Path] = {}
    cfg = app_states.langflow_state(root / "journal-delete", "vulnerable")
    conn = sqlite3.connect(cfg / "langflow.db")  # today's times: the age is not the point
    conn.execute("UPDATE message SET timestamp = datetime('now')")
    conn.commit()
    conn.close()
    _kill_writer(cfg / "langflow.db", "delete")
    out["journal-delete"] = cfg
    row = _planted_row(root / "rows")
    cfg = app_states.langflow_state(root / "journal-insert", "hardened")
    _kill_writer(cfg / "langflow.db", "insert", row)
    out["journal-insert"] = cfg
    cfg = app_states.langflow_state(root / "wal-deleted", "hardened")
    _kill_writer(cfg / "langflow.db", "wal", row)
    out["wal-deleted"] = cfg
    for d in out.values():
        _private(d)
    return out
