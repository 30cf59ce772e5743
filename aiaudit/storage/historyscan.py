"""STO-03 facts: secrets inside conversation history, its WAL/journal copies and logs.

Every file is streamed from the target through the secret engine: raw bytes, so text in
SQLite free pages, WAL frames and rotated logs is seen too, and memory stays flat. A SQLite
store is then read back through SQL from its private copy (`sqlcells.py`): values cut
across overflow pages, zstd-compressed events, and everything of a store with its key.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.access import denied_line
from aiaudit.hostfs import HostFS
from aiaudit.resources import safe_id
from aiaudit.status import CouldNotCheck
from aiaudit.storage.fileformat import encrypted_container
from aiaudit.storage.headers import read_head
from aiaudit.storage.locate import STAT_FMT, FileInfo, Store, stat_listing
from aiaudit.storage.packed import PACK_ERRORS, contents, packing
from aiaudit.storage.progress import Progress
from aiaudit.storage.secrets.engine import Finding, scan_stream, unify
from aiaudit.storage.settings import settings_for
from aiaudit.storage.sevenzip import EncryptedArchive

MAX_FILES = 5000


@dataclass(frozen=True)
class HistorySource:
    """Files of one store, or the deployment's log files, scanned as one case."""

    name: str
    files: tuple[FileInfo, ...]
    store: Store | None = None  # a SQLite store is also read through SQL
    owner: Store | None = None  # the store (or standalone backup) these files are of

    @property
    def case_id(self) -> str:
        return safe_id(self.name)


@dataclass
class ScanResult:
    files: int = 0
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    cells: int = 0  # database values read back through SQL
    inflated: int = 0  # zstd blobs decompressed
    cell_note: str = ""  # why the SQL pass did not run, when it did not
    packed: int = 0  # store files read out of compressed files and archives
    # files written in an encryption format (gpg, age, an encrypted 7z): read, their
    # contents not (no key is given to the audit for them)
    encrypted: list[str] = field(default_factory=list)
    no_history: list[str] = field(default_factory=list)  # archives without a history member
    own_keys: list[str] = field(default_factory=list)  # the framework's own keys, not history
    set_apart: int = 0  # credentials only the product's settings tables hold (STO-04's)
    sql_read: str = ""  # an app's database read only through SQL: what was read


def store_source(store: Store) -> HistorySource:
    return HistorySource(f"{store.app}:{store.path}", store.all_files[:MAX_FILES],
                         store if store.kind == "sqlite" else None, store)


def _stat_listing(fs: HostFS, parts: list[str]) -> list[FileInfo]:
    return stat_listing(fs, parts)[:MAX_FILES]


def log_files(fs: HostFS, configured: list[str], state_dirs: list[str]) -> list[FileInfo]:
    """Configured access logs plus `*.log*` files below the state dirs (rotations included)."""
    parts = [f"for f in {shlex.quote(p)} {shlex.quote(p)}.*; do [ -f \"$f\" ] && "
             f"stat -c '{STAT_FMT}' -- \"$f\"; done" for p in configured]
    parts += [f"[ -d {shlex.quote(d)} ] && find -H {shlex.quote(d)} -maxdepth 3 -type f "
              f"\\( -name '*.log' -o -name '*.log.*' \\) -exec stat -c '{STAT_FMT}' -- {{}} +"
              for d in state_dirs]
    return _stat_listing(fs, parts)


def upload_files(fs: HostFS, data_dirs: list[str]) -> list[FileInfo]:
    """Files users attached to chats, as Open WebUI keeps them (DATA_DIR/uploads/<id>_<name>:
    open_webui/config.py UPLOAD_DIR, routers/files.py upload_file_handler)."""
    from aiaudit.products import open_webui

    sub = open_webui.product_data()["state"]["uploads"]
    parts = [f"[ -d {shlex.quote(d + '/' + sub)} ] && find -H {shlex.quote(d + '/' + sub)} "
             f"-maxdepth 3 -type f -exec stat -c '{STAT_FMT}' -- {{}} +" for d in data_dirs]
    _, out, _ = fs.run("; ".join(parts) + "; true", timeout=60) if parts else (0, "", "")
    files = []
    for line in out.splitlines():
        try:
            files.append(FileInfo.parse(line))
        except ValueError:
            continue
    return sorted(files, key=lambda f: f.path)[:MAX_FILES]


def memory_files(fs: HostFS, homes: list[str]) -> list[FileInfo]:
    """Hermes' built-in memory files below each home (hermes.toml [home] memories)."""
    from aiaudit.products import hermes

    globs = hermes.product_data()["home"]["memories"]
    parts = [f"for f in {shlex.quote(h.rstrip('/'))}/{g}; do [ -f \"$f\" ] && "
             f"stat -c '{STAT_FMT}' -- \"$f\"; done" for h in homes for g in globs]
    return _stat_listing(fs, parts)


def scan_source(ctx: Any, source: HistorySource) -> ScanResult:
    """Stream every file of the source through the engine (progress for big sources)."""
    if source.owner is not None and source.owner.kind == "postgresql":
        return _scan_pg(ctx, source.owner)
    fs = HostFS.for_context(ctx)
    result = ScanResult()
    progress = Progress(f"scanning {source.name} for secrets", sum(f.size for f in source.files))
    limit = settings_for(ctx).max_copy_mb * 1024 * 1024
    for info in source.files:
        try:
            before = progress.done_bytes
            head = read_head(fs, info.path, 512)
            if packing(head):
                found = _scan_packed(fs, info.path, limit, result, progress)
                result.packed += found
                if not found:
                    result.no_history.append(f"{info.path} holds no store or history file "
                                              "(SQLite, JSON(L), a known app's history name)")
            else:
                with fs.open(info.path) as stream:
                    result.findings.extend(scan_stream(stream, info.path, progress.update))
                if container := encrypted_container(head):
                    result.encrypted.append(f"{info.path}: {container}")
            result.bytes += progress.done_bytes - before
            result.files += 1
        except EncryptedArchive as exc:  # copied whole to be listed: its bytes were read
            result.encrypted.append(f"{info.path}: {exc}")
            result.bytes += info.size
            result.files += 1
        except CouldNotCheck as exc:
            result.unreadable.append(str(exc))
        except PACK_ERRORS as exc:  # OSError included: a closed file names its missing right
            if isinstance(exc, OSError) and exc.strerror:
                result.unreadable.append(denied_line(info.path, exc.strerror))
            else:
                result.unreadable.append(f"{info.path}: cannot unpack: {exc}")
    progress.done()
    if result.files == 0 and source.files:
        raise CouldNotCheck(f"no file of {source.name} could be read: "
                            + "; ".join(result.unreadable[:2]))
    if source.store is not None:
        _scan_cells(ctx, source.store, result)
    result.findings = unify(result.findings)
    _drop_own_keys(ctx, source, result)
    return result


def _scan_pg(ctx: Any, store: Store) -> ScanResult:
    """An app's PostgreSQL history: every text value of its history tables (newest rows
    first, bounded) read through read-only SQL and scanned; a value cut at the read limit
    is named as not wholly read."""
    from aiaudit.storage.pgread import MAX_VALUE
    from aiaudit.storage.pgstores import TEXT_ROWS, history_texts, read_history
    from aiaudit.storage.secrets.engine import scan_text

    history = read_history(ctx, store)
    values, cut, partial = history_texts(ctx, store)
    result = ScanResult(cells=len(values))
    for where, text in values:
        result.bytes += len(text.encode("utf-8", "replace"))
        result.findings.extend(scan_text(text, where))
    result.findings = unify(result.findings)
    tables = ", ".join(f"{t} {n} row(s)" for t, n in history.rows.items()) or "none"
    result.sql_read = (f"{history.db.name}: {len(values)} text value(s) of the history "
                       f"tables ({tables}; newest {TEXT_ROWS} rows of each)")
    if history.missing and not history.rows:
        result.unreadable.append(f"{history.db.name} has none of {store.app}'s history "
                                 f"tables ({', '.join(history.missing)})")
    if partial:
        result.unreadable.append(partial)
    if cut:
        result.unreadable.append(f"{cut} value(s) of {history.db.name} longer than "
                                 f"{MAX_VALUE} characters were read only up to that length")
    if any(n > TEXT_ROWS for n in history.rows.values()):
        result.unreadable.append(f"{history.db.name}: only the newest {TEXT_ROWS} rows of each "
                                 "history table were read (" + tables + ")")
    return result


def own_key_digests(ctx: Any, app: str, state_dir: str) -> dict[str, str]:
    """{digest: "table.column"} of the key material a framework keeps in its own stores by
    design (OpenClaw's device identity in state/openclaw.sqlite), read through SQL from the
    private copies of the state dir's stores (cached per state dir)."""
    from aiaudit.products import openclaw
    from aiaudit.storage.locate import locate
    from aiaudit.storage.secrets.engine import digest_of, scan_text
    from aiaudit.storage.snapshot import NeedsKey, opened_copy
    from aiaudit.storage.sqlitefacts import DB_ERRORS

    if app != openclaw.APP or not state_dir:
        return {}

    def compute() -> dict[str, str]:
        out: dict[str, str] = {}
        for store in locate(ctx)[0]:
            if store.state_dir != state_dir or store.kind != "sqlite":
                continue
            try:
                with opened_copy(ctx, store) as opened:
                    for where, value in openclaw.own_key_values(opened.conn):
                        out.update({f.digest: where for f in scan_text(value)})
                        out[digest_of(value)] = where  # a bare token: no shape to scan
            except (NeedsKey, CouldNotCheck, *DB_ERRORS):
                continue
        return out

    return ctx.cached(f"storage:own-keys:{state_dir}", compute)


def _drop_own_keys(ctx: Any, source: HistorySource, result: ScanResult) -> None:
    """Sightings of the framework's own key material (in its store, WAL or a backup of it)
    are no secret in history: counted apart, named in the evidence."""
    owner = source.owner
    app, state_dir = (owner.app, owner.state_dir) if owner is not None else ("", "")
    own = own_key_digests(ctx, app, state_dir) if state_dir else {}
    if not own:
        return
    kept = [f for f in result.findings if f.digest not in own]
    result.own_keys = sorted({own[f.digest] for f in result.findings if f.digest in own})
    result.findings = kept


def _scan_packed(fs: HostFS, path: str, limit: int, result: ScanResult,
                 progress: Progress) -> int:
    """Stream what a packed backup holds through the engine; the number of contents."""
    count = 0
    with contents(fs, path, limit) as items:
        for item in items:
            result.findings.extend(scan_stream(item.stream, item.name, progress.update))
            count += 1
    return count


def _scan_cells(ctx: Any, store: Store, result: ScanResult) -> None:
    """The SQL pass over the private copy (with the key when the store is encrypted).
    Every cell is read when the key is needed (on disk all is ciphertext) and when the raw
    bytes held a secret: the values read back give each secret its exact extent, so a raw
    sighting that ran into the next record's bytes is folded into it (`unify`)."""
    from aiaudit.storage.snapshot import NeedsKey, opened_copy
    from aiaudit.storage.sqlcells import scan_cells

    try:
        with opened_copy(ctx, store) as opened:
            cells = scan_cells(opened.conn, store.path,
                               every_cell=opened.key is not None or bool(result.findings))
    except NeedsKey:
        result.cell_note = ("encrypted and no key configured for it ([[storage.keys]] or "
                            "[storage] key_file/key_env): its values were not read back, and "
                            "its raw bytes are ciphertext")
        return
    except CouldNotCheck as exc:
        result.cell_note = f"values not read back: {exc}"
        return
    result.cells, result.inflated = cells.cells, cells.inflated
    result.findings.extend(cells.findings)
    if result.findings:
        _set_apart_settings(ctx, store, result)


def _set_apart_settings(ctx: Any, store: Store, result: ScanResult) -> None:
    """A credential the product keeps in its own settings tables (Open WebUI's `config`
    rows and `api_key`; OpenClaw's auth-profile store, approvals and device tokens in
    state/openclaw.sqlite: STO-04 judges them) is on disk in the store's file too, so the raw
    scan sees it; it is history only when a conversation table holds it as well. Such
    findings are set apart (counted in the evidence), not reported as history."""
    from aiaudit.products import open_webui, openclaw
    from aiaudit.storage.snapshot import opened_copy
    from aiaudit.storage.sqlcells import cell_digests

    if store.app == open_webui.APP and open_webui.is_db(store.path):
        tables = open_webui.settings_tables()
    elif store.app == openclaw.APP and openclaw.is_state_store(store.path):
        tables = openclaw.settings_tables()  # its auth profiles, approvals, tokens
    else:
        return
    with opened_copy(ctx, store) as opened:
        settings = cell_digests(opened.conn, tables)
        if not settings & {f.digest for f in result.findings}:
            return
        history = cell_digests(opened.conn, tables, exclude=True)
    apart = settings - history
    kept = [f for f in result.findings if f.digest not in apart]
    result.set_apart = len({f.digest for f in result.findings} - {f.digest for f in kept})
    result.findings = kept
