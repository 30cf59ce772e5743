"""STO-03: no secrets inside conversation history, logs or WAL files."""

import pytest

from aiaudit.status import could_not_check, manual, not_applicable
from aiaudit.storage.historyscan import scan_source
from aiaudit.storage.secrets.engine import distinct


@pytest.mark.control("STO-03")
@pytest.mark.resources(source="storage_history_sources")
def test_no_secrets_in_history_logs_or_wal(source, audit, evidence):
    result = scan_source(audit, source)
    if source.files or not result.sql_read:
        evidence.add("scanned", f"{result.files} file(s), {result.bytes / 1e6:.1f} MB")
    if result.sql_read:
        evidence.add("read through SQL (read-only)", result.sql_read)
    elif source.store is not None:
        evidence.add("read back through SQL", result.cell_note or
                     f"{result.cells} value(s), {result.inflated} of them zstd-inflated")
    if result.packed:
        evidence.add("unpacked", f"{result.packed} store file(s) read out of compressed "
                     "backups and archives")
    if result.own_keys:
        evidence.add("the framework's own keys (not history)",
                     ", ".join(result.own_keys) + " (its device identity, by design)")
    if result.set_apart:
        evidence.add("set apart", f"{result.set_apart} credential(s) that only the store's "
                     "settings tables hold (judged by STO-04, not history)")
    for i, note in enumerate(result.encrypted[:5]):
        evidence.add(f"encrypted {i + 1}", note)
    evidence.read(files=result.files, bytes=result.bytes, values=result.cells)
    evidence.unreadable(result.unreadable[:5])
    if not result.bytes and not result.cells and not result.unreadable \
            and not result.encrypted:
        # a fresh Hermes home's empty logs/agent.log: read, and nothing there to hold a secret
        not_applicable(result.sql_read or "; ".join(result.no_history[:3])
                       or f"{source.name}: {result.files} file(s) read, all empty")
    secrets = distinct(result.findings)
    for i, f in enumerate(secrets[:10]):
        seen = sum(1 for g in result.findings if g.digest == f.digest)
        evidence.add(f"secret {i + 1}", f"{f.line()} (seen {seen}x)")
    assert not secrets, (
        f"{len(secrets)} secret(s) in {source.name}: "
        + "; ".join(f"{f.rule} in {f.location.rsplit('/', 1)[-1]} ({f.masked})"
                    for f in secrets[:4])
    )
    if result.unreadable:
        could_not_check("; ".join(result.unreadable[:3]))
    if result.encrypted:
        # its bytes were read (no secret in them), what they hold cannot be: no key for
        # gpg, age or 7z is given to the audit
        manual(f"{len(result.encrypted)} encrypted file(s) whose contents the audit cannot "
               f"read ({'; '.join(result.encrypted[:3])}): decrypt a copy and scan it")
    if source.store is not None and result.cell_note:
        could_not_check(f"{source.store.path}: {result.cell_note}")
