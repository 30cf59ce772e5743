"""STO-02 facts: the app's retention knob, and what the data says about retention.

Knobs (checked in the apps' sources): Hermes `config.yaml` `sessions.auto_prune` +
`sessions.retention_days` (read and defaulted by aiaudit.products.hermes); OpenClaw `openclaw.json`
`session.maintenance` `{mode: "enforce", pruneAfter: "30d"}`. Other apps have none, so only
their data is judged: the oldest record, rows hidden but kept (soft-deleted), and deleted
text still readable in SQLite free pages.
"""

from __future__ import annotations

import json
import posixpath
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiaudit.access import check_access
from aiaudit.hostfs import HostFS
from aiaudit.status import CouldNotCheck
from aiaudit.storage.headers import read_head
from aiaudit.storage.locate import Store
from aiaudit.storage.snapshot import NeedsKey, opened_copy
from aiaudit.storage.sqlitefacts import data_age, free_pages

CONFIG_LIMIT = 1024 * 1024
DAY = 86400.0


@dataclass(frozen=True)
class Knob:
    exists: bool
    enabled: bool
    days: float | None
    where: str
    detail: str


@dataclass
class RetentionFacts:
    knob: Knob
    oldest_days: float | None = None
    oldest_where: str = ""
    soft_deleted: dict[str, int] = field(default_factory=dict)
    rows: int = 0  # dated records read
    tables: int = 0
    files: int = 0  # JSON(L) files whose times were read
    config_read: bool = False
    free_pages: int | None = None
    free_pages_with_text: int | None = None


def _read_config(fs: Any, path: str) -> str | None:
    """The config's text; None only when it provably does not exist (the framework's
    default then applies). An unreadable config is CouldNotCheck, never "missing"."""
    access = check_access(fs, [path]).get(path)
    if access is not None and access.missing:
        return None
    if access is not None and access.unreadable:
        raise CouldNotCheck(access.reason())
    return read_head(fs, path, CONFIG_LIMIT).decode("utf-8", "replace")


def parse_duration_days(text: str) -> float | None:
    """OpenClaw-style durations: "30d", "720h", "4w", "90" (days)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text))
    if not m:
        return None
    scale = {"s": 1 / DAY, "m": 60 / DAY, "h": 1 / 24, "d": 1.0, "w": 7.0, "": 1.0}
    return float(m.group(1)) * scale[m.group(2)]


def hermes_knob(config_text: str | None, where: str) -> Knob:
    """Hermes' retention as Hermes applies it (aiaudit.products.hermes): an unset key takes
    Hermes' default (auto_prune false, retention_days 90), a missing config.yaml too."""
    from aiaudit.products import hermes

    cfg = hermes.parse_config(posixpath.dirname(where), config_text, None)
    if cfg.error:
        return Knob(True, False, None, where, cfg.error)
    facts = hermes.retention(cfg)
    return Knob(True, facts.enabled, facts.days, where, facts.detail)


def openclaw_knob(config_text: str | None, where: str) -> Knob:
    if config_text is None:
        return Knob(True, False, None, where, "openclaw.json missing: no session maintenance")
    try:
        doc = json.loads(config_text)
    except ValueError:
        return Knob(True, False, None, where, "openclaw.json is not plain JSON; read it by hand")
    maintenance = ((doc.get("session") or {}).get("maintenance") or {}) if isinstance(
        doc, dict) else {}
    mode = maintenance.get("mode")
    days = parse_duration_days(maintenance.get("pruneAfter", "")) if maintenance else None
    return Knob(True, mode == "enforce", days, where,
                f"session.maintenance mode={mode}, pruneAfter={maintenance.get('pruneAfter')} "
                "(it archives; transcripts stay on disk)")


def knob_for(fs: Any, store: Store) -> Knob:
    root = store.state_dir
    if store.app == "hermes":
        from aiaudit.products import hermes

        path = hermes.file_in(root, "config")
        return hermes_knob(_read_config(fs, path), path)
    if store.app == "openclaw":
        path = posixpath.join(root, "openclaw.json")
        return openclaw_knob(_read_config(fs, path), path)
    return Knob(False, False, None, "", f"{store.app} has no retention setting: judged by the data")


def retention_facts(ctx: Any, store: Store) -> RetentionFacts:
    fs = HostFS.for_context(ctx)
    facts = RetentionFacts(knob_for(fs, store))
    facts.config_read = bool(facts.knob.where) and "missing" not in facts.knob.detail
    if store.kind in ("jsonl", "json"):
        facts.files = len(store.files)
        oldest = min(f.mtime for f in store.files)  # a file untouched this long holds
        facts.oldest_days = (time.time() - oldest) / DAY  # records at least this old
        facts.oldest_where = "oldest file modification time"
        return facts
    try:
        with opened_copy(ctx, store) as opened:
            age = data_age(opened.conn)
            count = opened.conn.execute("PRAGMA freelist_count").fetchone()[0]
    except NeedsKey:
        raise CouldNotCheck(f"{store.path} is encrypted; set [storage] key_file to "
                            "check the data's retention") from None
    facts.oldest_days = age.oldest_days()
    facts.oldest_where = age.where
    facts.soft_deleted = age.soft_deleted
    facts.rows, facts.tables = age.rows, age.tables
    facts.free_pages = count
    plain = opened.key is None  # free pages of a SQLCipher copy are ciphertext
    facts.free_pages_with_text = free_pages(opened.copy.path).with_text if plain else 0
    return facts
