"""STO-02 facts: the app's retention knob, and what the data says about retention.

Knobs (checked in the apps' sources): Hermes `config.yaml` `sessions.auto_prune` +
`sessions.retention_days` (read and defaulted by aiaudit.products.hermes); OpenClaw `openclaw.json`
`session.maintenance` `{mode: "enforce", pruneAfter: "30d"}`. Other apps have none, so only
their data is judged: the oldest record, rows hidden but kept (soft-deleted), and deleted
text still readable in SQLite free pages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import posixpath
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiaudit.access import check_access
from aiaudit.hostfs import HostFS
from aiaudit.products import open_webui, openclaw, ray
from aiaudit.products.appstore import owner_of, store_app
from aiaudit.status import CouldNotCheck
from aiaudit.storage.fileformat import ZSTD_MAGIC
from aiaudit.storage.headers import read_head
from aiaudit.storage.locate import Store
from aiaudit.storage.snapshot import NeedsKey, opened_copy
from aiaudit.storage.sqlitefacts import (
    _as_epoch,
    data_age,
    free_pages,
    live_text,
    wal_frames_with_text,
)

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
    dated: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows dated
    no_history: str = ""  # why the store holds no conversation to date (then N/A)
    free_pages: int | None = None
    free_pages_with_text: int | None = None
    wal_frames_with_text: int | None = None  # None: no WAL copied beside the store
    # the store's backups (backup_dirs, the app's default place, <store>.bak* beside it)
    # and their age by their file time: a copy holds what the store held when it was
    # taken, so a backup older than the policy keeps conversations past it
    backup_ages: dict[str, float] = field(default_factory=dict)


def _read_config(fs: Any, path: str) -> str | None:
    """The config's text; None only when it provably does not exist (the framework's
    default then applies). An unreadable config is CouldNotCheck, never "missing"."""
    access = check_access(fs, [path]).get(path)
    if access is not None and access.missing:
        return None
    if access is not None and access.unreadable:
        raise CouldNotCheck(access.reason())
    return read_head(fs, path, CONFIG_LIMIT).decode("utf-8", "replace")


def hermes_knob(config_text: str | None, where: str, managed: Any = None) -> Knob:
    """Hermes' retention as Hermes applies it (aiaudit.products.hermes): an unset key takes
    Hermes' default (auto_prune false, retention_days 90), a missing config.yaml too; the
    managed scope (/etc/hermes/config.yaml) wins over the home's keys it pins."""
    from aiaudit.products import hermes

    cfg = hermes.overlay(hermes.parse_config(posixpath.dirname(where), config_text, None),
                         managed)
    if cfg.error:
        return Knob(True, False, None, where, cfg.error)
    facts = hermes.retention(cfg)
    return Knob(True, facts.enabled, facts.days, where, facts.detail)


def openclaw_knob(cfg: openclaw.Config) -> Knob:
    """`session.maintenance` with OpenClaw's defaults for unset keys (mode enforce, 30d)."""
    if cfg.error:
        return Knob(True, False, None, cfg.path, f"cannot read the config: {cfg.error}")
    m = openclaw.maintenance(cfg)
    where = cfg.path if cfg.exists else f"{cfg.path} (absent: OpenClaw's defaults apply)"
    return Knob(True, m.enforced, m.prune_after_days, where, m.describe())


def _openclaw_config(fs: Any, state_dir: str) -> openclaw.Config:
    """The state dir's active config through OpenClaw's one reader (openclaw.json, legacy
    clawdbot.json, or the OPENCLAW_CONFIG_PATH file OpenClaw recorded; `$include`s merged);
    an unreadable one is CouldNotCheck, never "absent"."""
    cfg = openclaw.read_config(fs, state_dir)
    if cfg.unreadable:
        raise CouldNotCheck(cfg.error)
    return cfg


def knob_for(fs: Any, store: Store, managed: Any = None) -> Knob:
    root = store.state_dir
    if store.app == "hermes":
        from aiaudit.products import hermes

        # a profile's state.db is pruned by its own config.yaml, not the default home's
        path = hermes.file_in(hermes.home_of_store(store.path), "config")
        return hermes_knob(_read_config(fs, path), path,
                           managed if managed is not None else hermes.read_managed(fs))
    if store.app == openclaw.APP:
        return openclaw_knob(_openclaw_config(fs, root))
    if store.app == open_webui.APP:
        return Knob(False, False, None, "", open_webui.retention().detail)
    if store.app == ray.APP:
        return Knob(False, False, None, "", ray.RETENTION)
    app = store_app(store.app)
    if app is not None and store.kind != "sqlite" and app.log_retention():
        return Knob(False, False, None, "", app.log_retention())
    if app is not None:
        where, env = _env_files(fs, root, app.retention_env(), app.config_files())
        r = app.retention(env)
        if r.exists and app.retention_env() and not where:
            # nothing read: the app's defaults; its process or unit environment is not read
            return Knob(True, r.enabled, r.days, "", f"{r.detail} (no .env in {root} or "
                        "its parent; a service unit's or container's environment is not read)")
        return Knob(r.exists, r.enabled, r.days, where or (app.data.file if r.exists else ""),
                    r.detail)
    return Knob(False, False, None, "", f"{store.app} has no retention setting: judged by the data")


def _env_files(fs: Any, state_dir: str, names: tuple[str, ...],
               files: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The app's retention settings from the env files it loads (n8n: the `.env` dotenv
    reads from its working directory: the n8n folder or the user folder above it); the
    first file that sets a key wins. Unreadable is CouldNotCheck, never "unset"; none
    found: the app's defaults, said so in the detail."""
    env: dict[str, str] = {}
    read: list[str] = []
    if not names:
        return "", env
    for rel in files:
        if not rel.endswith(".env"):
            continue
        path = posixpath.normpath(posixpath.join(state_dir, rel))
        text = _read_config(fs, path)
        if text is None:
            continue
        read.append(path)
        for line in text.splitlines():
            key, sep, value = line.strip().removeprefix("export ").partition("=")
            if sep and key.strip() in names:
                env.setdefault(key.strip(), value.strip().strip("'\""))
    return ", ".join(read), env


# session_start / last_updated: Hermes' sessions/session_<id>.json snapshots
# (run_agent.py _save_session_log, written when sessions.write_json_snapshots is on);
# createdDate: TypeORM apps' records
RECORD_TIME_KEYS = ("timestamp", "created_at", "createdAt", "createdDate", "ts", "time", "date",
                    "send_date", "create_time", "updatedAt", "session_start", "last_updated",
                    "start_time_unix_nano")
JSON_READ_LIMIT = 64 * 1024 * 1024  # per file


def _times(node: Any, depth: int = 0) -> list[float]:
    """Record times in a parsed JSON record (its own keys and one level of nesting)."""
    out: list[float] = []
    if isinstance(node, dict) and depth <= 2:
        for key, value in node.items():
            if key in RECORD_TIME_KEYS:
                epoch = _as_epoch(value)
                if epoch is not None and epoch > 0:
                    out.append(epoch)
            elif isinstance(value, dict | list):
                out += _times(value, depth + 1)
    elif isinstance(node, list) and depth <= 2:
        for item in node[:10000]:
            out += _times(item, depth + 1)
    return out


def _csv_records(text: str) -> list[dict[str, str]]:
    """The rows of a CSV history (Gradio's flagged datasetN.csv: a header row, `timestamp`
    last) as records keyed by the header, for the record-time keys to date them."""
    import csv
    import io

    rows = csv.reader(io.StringIO(text))
    header = next(rows, [])
    return [dict(zip(header, row, strict=False)) for row in rows]


def _inflated(data: bytes) -> bytes:
    """A zstd-compressed history file (OpenClaw's .jsonl.deleted.<stamp>.zst archives)
    inflated, at most JSON_READ_LIMIT bytes; other bytes as they are."""
    if not data.startswith(ZSTD_MAGIC):
        return data
    import io

    import zstandard

    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            return reader.read(JSON_READ_LIMIT)
    except zstandard.ZstdError as exc:
        raise CouldNotCheck(f"cannot inflate zstd history: {exc}") from None


def _deleted_archives(ctx: Any, store: Store, facts: RetentionFacts) -> None:
    """OpenClaw's transcripts of deleted sessions: kept past the deletion, for
    resetArchiveRetention (unset: with no age cutoff). Counted as deleted but stored when
    nothing ages them out within the policy."""
    kept = [f for f in store.files if openclaw.is_deleted_archive(f.path)]
    if store.app != openclaw.APP or not kept:
        return
    cutoff = openclaw.maintenance(_openclaw_config(HostFS.for_context(ctx),
                                                   store.state_dir)).reset_archive_days
    policy = float(ctx.config.policy["retention_days"])
    if cutoff is None or cutoff > policy:
        why = "no age cutoff" if cutoff is None else f"kept {cutoff:g} days"
        facts.soft_deleted[f"{store.path}/*.jsonl.deleted.* (transcripts of deleted "
                           f"sessions; resetArchiveRetention: {why})"] = len(kept)


def _record_ages(fs: Any, store: Store, facts: RetentionFacts) -> RetentionFacts:
    """JSON(L) and CSV history dated by its records' own timestamps, never by file times."""
    marks: list[tuple[float, str]] = []
    for info in store.files:
        text = _inflated(read_head(fs, info.path, JSON_READ_LIMIT)).decode("utf-8", "replace")
        docs: list[Any] = []
        if store.kind == "csv":
            docs = _csv_records(text)
        elif store.kind == "jsonl":
            for line in text.splitlines():
                try:
                    docs.append(json.loads(line))
                except ValueError:
                    continue
        else:
            try:
                docs.append(json.loads(text))
            except ValueError:
                continue
        marks += [(min(times), f"{posixpath.basename(info.path)} record time")
                  for doc in docs if (times := _times(doc))]
    return _oldest_mark(facts, store, marks, "records",
                        f"{store.path}: no record in {len(store.files)} file(s) carries a "
                        "timestamp; its age cannot be read from the data")


def _oldest_mark(facts: RetentionFacts, store: Store, marks: list[tuple[float, str]],
                 kind: str, missing: str) -> RetentionFacts:
    """The store's age from the oldest (time, where) its own data carries, one mark per
    dated record or file (the first of equal times); none: CouldNotCheck, never PASS."""
    if not marks:
        raise CouldNotCheck(missing)
    oldest, facts.oldest_where = min(marks, key=lambda mark: mark[0])
    facts.oldest_days = (time.time() - oldest) / DAY
    facts.dated = {f"{store.path} {kind}": len(marks)}
    return facts


LINE_TIME = re.compile(rb"^\[?(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})", re.M)


def _stamp(date: str, hh: str, mm: str, ss: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(f"{date}T{hh}:{mm}:{ss}+00:00").timestamp()
    except ValueError:
        return None


def _log_ages(fs: Any, store: Store, facts: RetentionFacts) -> RetentionFacts:
    """Plain-text logs a job printed (Ray's session logs) dated by the times the app wrote:
    the session's start in its dir name (Ray), else the log lines' own leading times;
    never by file times. Nothing dated: CouldNotCheck, never PASS."""
    pattern = re.compile(ray.SESSION_TIME) if store.app == ray.APP else None
    marks: list[tuple[float, str]] = []
    for info in store.files:
        found = pattern.search(info.path) if pattern else None
        times = [t for t in [_stamp(*found.groups())] if t is not None] if found else []
        how = "session start in its dir name"
        if not times:
            head = read_head(fs, info.path, JSON_READ_LIMIT)
            times = [t for m in LINE_TIME.finditer(head)
                     if (t := _stamp(*(g.decode() for g in m.groups()))) is not None]
            how = "log line time"
        if times:
            marks.append((min(times), f"{posixpath.basename(info.path)} {how}"))
    return _oldest_mark(facts, store, marks, "logs",
                        f"{store.path}: none of its {len(store.files)} log file(s) carries "
                        "a time the app wrote; its age cannot be read from the data")


def _conversation_columns(store: Store) -> dict[str, tuple[str, ...]] | None:
    """The product's own conversation time columns (never account or config times; None:
    an app without a product module, dated by the usual time columns of every table)."""
    from aiaudit.products import hermes

    if store.app == openclaw.APP:
        return openclaw.conversation_time_columns()
    if store.app == "hermes":
        return hermes.conversation_time_columns()
    if store.app == open_webui.APP and open_webui.is_db(store.path):
        return open_webui.conversation_time_columns()
    app = store_app(store.app)
    if app is not None and app.is_db(store.path):
        return app.conversation_time_columns()
    return None


def _pg_ages(ctx: Any, store: Store, facts: RetentionFacts) -> RetentionFacts:
    """An app's PostgreSQL history dated by its own rows' times (aiaudit.products.pg_apps),
    read through SQL; rows hidden but kept (archived, soft-deleted) are counted."""
    from aiaudit.storage.pgstores import read_history

    history = read_history(ctx, store)
    facts.tables = len(history.rows)
    facts.rows = sum(history.dated.values())
    facts.dated = dict(history.dated)
    facts.soft_deleted = dict(history.hidden)
    if history.missing and not history.rows:
        raise CouldNotCheck(f"{history.db.name} has none of {store.app}'s history tables "
                            f"({', '.join(history.missing)}): not its database, or another "
                            "schema; its age was not read")
    if history.oldest is None:
        facts.no_history = (f"{history.db.name} holds no dated conversation row (read "
                            + ", ".join(f"{t}: {n} rows" for t, n in history.rows.items())
                            + ")")
        return facts
    facts.oldest_days = (time.time() - history.oldest) / DAY
    facts.oldest_where = f"{history.db.name} {history.oldest_where}"
    return facts


def _backup_ages(ctx: Any, store: Store) -> dict[str, float]:
    """{backup path: days since it was written} of the store's backups (STO-07 finds
    the same ones); a WAL or journal beside the store is the store itself, not a copy."""
    from aiaudit.storage.backups import find_backups
    from aiaudit.storage.layouts import FILE_KINDS

    if store.kind not in FILE_KINDS:
        return {}
    now = time.time()
    return {b.file.path: b.age_days(now) for b in find_backups(ctx, store)[0]
            if not b.file.path.endswith(("-wal", "-journal", "-shm"))}


def retention_facts(ctx: Any, store: Store) -> RetentionFacts:
    fs = HostFS.for_context(ctx)
    managed = None
    if store.app == "hermes":
        from aiaudit.products import hermes

        managed = hermes.managed_for(ctx, hermes.home_of_store(store.path))
    facts = RetentionFacts(knob_for(fs, store, managed))
    facts.config_read = bool(facts.knob.where) and "missing" not in facts.knob.detail
    facts.backup_ages = _backup_ages(ctx, store)
    if store.kind == "log":
        facts.files = len(store.files)
        return _log_ages(fs, store, facts)
    if store.kind in ("jsonl", "json", "csv"):
        facts.files = len(store.files)
        _deleted_archives(ctx, store, facts)
        return _record_ages(fs, store, facts)
    if store.kind == "postgresql":
        return _pg_ages(ctx, store, facts)
    try:
        with opened_copy(ctx, store) as opened:
            app = store_app(store.app)
            owner = owner_of(store.path, opened.conn, store.app) if app else None
            if app is not None and owner is not None and owner is not app:
                # named like another app's store, with that app's schema: judged as its
                store = dataclasses.replace(store, app=owner.app)
                facts.knob = knob_for(fs, store)
                facts.knob = dataclasses.replace(facts.knob, detail=(
                    f"{facts.knob.detail} (the store has {owner.data.service_name()}'s "
                    f"tables: {', '.join(owner.marker_tables())})"))
                facts.config_read = bool(facts.knob.where)
                app = owner
            columns = _conversation_columns(store)
            if app is not None and columns is not None and not app.owns(opened.conn):
                columns = None  # a file named like the app's store, of another schema
                facts.knob = Knob(False, False, None, "", f"{store.path} lacks "
                                  f"{app.data.service_name()}'s tables "
                                  f"({', '.join(app.marker_tables())}): another app's "
                                  "store, judged by the data of every table")
            age = data_age(opened.conn, columns)
            count = opened.conn.execute("PRAGMA freelist_count").fetchone()[0]
            frames = opened.copy.wal_frames
            live = live_text(opened.conn) if (count or frames) and opened.key is None \
                else None
    except NeedsKey:
        raise CouldNotCheck(f"{store.path} is encrypted; give its key ([[storage.keys]] or "
                            "[storage] key_file) to check the data's retention") from None
    facts.oldest_days = age.oldest_days()
    facts.oldest_where = age.where
    facts.soft_deleted = age.soft_deleted
    facts.rows, facts.tables = age.rows, age.tables
    facts.dated = age.dated
    if columns is not None and not age.dated:
        facts.no_history = (f"{store.path} has no dated conversation rows (read "
                            f"{', '.join(sorted(columns))})")
    elif columns is None and not age.time_columns:
        # An app the suite does not know, whose tables carry no time column it knows
        # (MLflow's trace_info.timestamp_ms before it was known): its age was never read.
        raise CouldNotCheck(f"{store.path}: none of its {age.tables} table(s) has a time "
                            "column the suite knows, so the age of what it keeps was not "
                            "read; name its product or check its record times by hand")
    elif columns is None and not age.dated:
        facts.no_history = (f"{store.path} holds no dated row ({age.time_columns} time "
                            f"column(s) in {age.tables} table(s), all empty)")
    facts.free_pages = count
    plain = opened.key is None  # free pages of a SQLCipher copy are ciphertext
    facts.free_pages_with_text = free_pages(opened.copy.path, live).with_text if plain else 0
    if frames is not None and plain:
        facts.wal_frames_with_text = wal_frames_with_text(frames, live)
    return facts
