"""STO-07: a recent backup exists, restores, and sits on another filesystem or host."""

import pytest

from aiaudit.status import could_not_check, manual
from aiaudit.storage.backups import (
    default_backup_globs,
    find_backups,
    restore,
    store_rows,
    unreadable_backup_dirs,
)
from aiaudit.storage.settings import settings_for


@pytest.mark.control("STO-07")
@pytest.mark.resources(store="storage_stores")
def test_backup_recent_restorable_elsewhere(store, audit, evidence):
    if store.kind in ("mongodb", "postgres", "postgresql"):
        manual(f"{store.app} {store.server.get('database', store.path)}: check the database "
               "dumps (mongodump / pg_dump): age, a test restore and where they are kept")
    settings = settings_for(audit)
    max_age = float(audit.config.policy["backup_max_age_days"])
    backups, store_dev, store_mount = find_backups(audit, store)
    places = [*settings.backup_dirs, *default_backup_globs(store)]
    evidence.add("looked in", (", ".join(places) or "no [storage] backup_dirs configured")
                 + "; copies beside the store")
    closed = unreadable_backup_dirs(audit)
    evidence.read(backups=len(backups))
    evidence.unreadable(closed)
    if not backups and closed:
        could_not_check("; ".join(closed[:3]))
    assert backups, f"no backup of {store.path} found"
    newest = backups[0]
    evidence.add("newest backup", f"{newest.file.path} ({newest.age_days():.1f} days old, "
                 f"{newest.file.size} bytes)")
    evidence.add("filesystems", f"store on device {store_dev} ({store_mount}), backup on "
                 f"device {newest.device} ({newest.mount or '?'})")
    assert newest.age_days() <= max_age, (
        f"newest backup {newest.file.path} is {newest.age_days():.1f} days old "
        f"(policy: {max_age:g})")
    key = settings.key_for(store.path)
    result = restore(audit, newest, key, store.path,
                     store_rows(audit, store) if store.kind == "sqlite" else None)
    evidence.add("restore test", result.detail)
    evidence.read(restored_rows=result.rows)
    assert result.ok or result.encrypted, \
        f"backup {newest.file.path} does not restore: {result.detail}"
    assert newest.device != store_dev, (
        f"backup {newest.file.path} is on the same filesystem as the store "
        f"(device {store_dev}): it dies with the disk")
    if result.encrypted:
        manual(f"newest backup {newest.file.path} is {result.detail}: restore a copy with it "
               "and check it opens")
    if closed:
        could_not_check("; ".join(closed[:3]))
