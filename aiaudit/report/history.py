"""Run history: one SQLite file in the report dir, one row per run and per failing case.

Schema (documented in the README; `schema` table holds the version):
  runs(id INTEGER PRIMARY KEY, target TEXT, started TEXT, finished TEXT, verdict TEXT,
       profile TEXT, report TEXT)
  area_counts(run_id INTEGER, area TEXT, status TEXT, n INTEGER)   -- controls per status
  failing_cases(run_id INTEGER, key TEXT, control TEXT, status TEXT)
The report reads it back for the trend chart (last 30 runs of the same target) and for the
date each failing case was first seen in an unbroken streak of failing runs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

HISTORY_FILE = "aiaudit-history.sqlite"
SCHEMA_VERSION = 1
TREND_RUNS = 30
_DDL = """
CREATE TABLE IF NOT EXISTS schema (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, target TEXT NOT NULL,
  started TEXT NOT NULL, finished TEXT, verdict TEXT, profile TEXT, report TEXT);
CREATE TABLE IF NOT EXISTS area_counts (run_id INTEGER NOT NULL, area TEXT NOT NULL,
  status TEXT NOT NULL, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS failing_cases (run_id INTEGER NOT NULL, key TEXT NOT NULL,
  control TEXT NOT NULL, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS failing_key ON failing_cases (key);
CREATE INDEX IF NOT EXISTS runs_target ON runs (target, started);
"""


@dataclass(frozen=True)
class TrendPoint:
    started: str
    counts: dict[str, dict[str, int]]  # area -> status -> controls


def _open(report_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(report_dir / HISTORY_FILE, timeout=30)
    conn.executescript(_DDL)
    if conn.execute("SELECT count(*) FROM schema").fetchone()[0] == 0:
        conn.execute("INSERT INTO schema VALUES (?)", (SCHEMA_VERSION,))
    return conn


def record_run(report_dir: Path, doc: dict, report_name: str) -> None:
    """Append this run (the redacted JSON document) to the history."""
    report_dir.mkdir(parents=True, exist_ok=True)
    with _open(report_dir) as conn:
        cur = conn.execute(
            "INSERT INTO runs (target, started, finished, verdict, profile, report) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (doc["target"], doc["started"], doc["finished"], doc["verdict"], doc["profile"],
             report_name))
        run_id = cur.lastrowid
        counts: dict[tuple[str, str], int] = {}
        for c in doc["controls"]:
            counts[(c["area"], c["status"])] = counts.get((c["area"], c["status"]), 0) + 1
        conn.executemany("INSERT INTO area_counts VALUES (?, ?, ?, ?)",
                         [(run_id, a, s, n) for (a, s), n in counts.items()])
        conn.executemany("INSERT INTO failing_cases VALUES (?, ?, ?, ?)", [
            (run_id, case["key"], c["id"], case["status"])
            for c in doc["controls"] for case in c["cases"]
            if case["status"] in ("FAIL", "ERROR")])
    conn.close()


def trend(report_dir: Path, target: str, limit: int = TREND_RUNS) -> list[TrendPoint]:
    """The last `limit` runs of the target, oldest first."""
    path = report_dir / HISTORY_FILE
    if not path.exists():
        return []
    conn = _open(report_dir)
    try:
        runs = conn.execute("SELECT id, started FROM runs WHERE target = ? "
                            "ORDER BY started DESC, id DESC LIMIT ?", (target, limit)).fetchall()
        points = []
        for run_id, started in reversed(runs):
            counts: dict[str, dict[str, int]] = {}
            for area, status, n in conn.execute(
                    "SELECT area, status, n FROM area_counts WHERE run_id = ?", (run_id,)):
                counts.setdefault(area, {})[status] = n
            points.append(TrendPoint(started, counts))
        return points
    finally:
        conn.close()


def first_seen(report_dir: Path, target: str, keys: list[str]) -> dict[str, str]:
    """For each key failing now: the start of the run that began its current failing streak."""
    path = report_dir / HISTORY_FILE
    if not path.exists() or not keys:
        return {}
    conn = _open(report_dir)
    try:
        runs = conn.execute("SELECT id, started FROM runs WHERE target = ? "
                            "ORDER BY started DESC, id DESC", (target,)).fetchall()
        failing: dict[int, set[str]] = {}
        for run_id, key in conn.execute(
                "SELECT f.run_id, f.key FROM failing_cases f JOIN runs r ON r.id = f.run_id "
                "WHERE r.target = ?", (target,)):
            failing.setdefault(run_id, set()).add(key)
        out = {}
        for key in keys:
            since = None
            for run_id, started in runs:  # newest first: walk back while it keeps failing
                if key not in failing.get(run_id, set()):
                    break
                since = started
            if since:
                out[key] = since
        return out
    finally:
        conn.close()
