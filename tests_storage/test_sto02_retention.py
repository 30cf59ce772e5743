"""STO-02: retention is configured within policy and the data agrees."""

import pytest

from aiaudit.status import manual, not_applicable
from aiaudit.storage.pgstores import server_coverage
from aiaudit.storage.retention import retention_facts

GRACE_DAYS = 1.0  # pruning runs about daily (Hermes: min_interval_hours 24)


@pytest.mark.control("STO-02")
@pytest.mark.resources(store="storage_stores")
def test_retention_within_policy_and_data_agrees(store, audit, evidence):
    if store.kind == "postgres":
        covered = server_coverage(audit, store)
        evidence.read(databases=len(covered.read) + len(covered.unread))
        if covered.read and not covered.unread:
            not_applicable(f"every database of this server is judged as an app's own case: "
                           f"{', '.join(covered.read)} (listed through {covered.via}; the "
                           "maintenance database postgres is not an app's)")
        manual(f"PostgreSQL server {store.path}: "
               + (f"its databases {', '.join(covered.unread)} were not read ("
                  f"{', '.join(covered.read)} were)" if covered.via else
                  "none of its databases was read")
               + ": name each app's database in [[storage.databases]] (or its unit in "
               "[deployment] units) so its history's age is read")
    if store.kind == "mongodb":
        manual(f"{store.app}: read retention in the database (LibreChat: a TTL index on "
               "messages.expiredAt / interface.retentionMode) and the oldest "
               "messages.createdAt")
    policy = float(audit.config.policy["retention_days"])
    facts = retention_facts(audit, store)
    knob = facts.knob
    evidence.read(config_files=int(facts.config_read), tables=facts.tables,
                  dated_rows=facts.rows, files=facts.files, backups=len(facts.backup_ages))
    evidence.add("policy", f"retention_days <= {policy:g}")
    evidence.add("retention setting", f"{knob.where}: {knob.detail}" if knob.exists and
                 knob.where else knob.detail)
    problems = []
    if knob.exists and not knob.enabled:
        problems.append(f"retention is not enforced ({knob.detail})")
    elif knob.exists and (knob.days is None or knob.days > policy):
        problems.append(f"retention of {knob.days} days exceeds the policy's {policy:g}")
    # no history yet: the setting alone decides (a store that will keep everything fails
    # before its first conversation); without a setting to read, nothing to judge
    assert not (facts.no_history and problems), "; ".join(problems) + \
        f" (the store holds no conversation yet: {facts.no_history})"
    if facts.no_history:
        not_applicable(facts.no_history)
    if facts.dated:
        evidence.add("rows dated", ", ".join(f"{k}: {n}" for k, n in facts.dated.items()))
    if facts.oldest_days is not None:
        evidence.add("oldest record", f"{facts.oldest_days:.0f} days old ({facts.oldest_where})")
        if facts.oldest_days > policy + GRACE_DAYS:
            problems.append(f"oldest record is {facts.oldest_days:.0f} days old "
                            f"({facts.oldest_where})")
    if facts.backup_ages:
        oldest_backup = max(facts.backup_ages, key=facts.backup_ages.__getitem__)
        evidence.add("backups dated", f"{len(facts.backup_ages)} (oldest {oldest_backup}, "
                     f"{facts.backup_ages[oldest_backup]:.0f} days old by its file time)")
    for path, days in sorted(facts.backup_ages.items()):
        if days > policy + GRACE_DAYS:
            problems.append(f"backup {path} is {days:.0f} days old: it keeps what the store "
                            "held then past the policy")
    for where, n in facts.soft_deleted.items():
        evidence.add(f"soft-deleted {where}", n)
        problems.append(f"{n} soft-deleted row(s) still stored ({where})")
    if facts.free_pages is not None:
        evidence.add("free pages", f"{facts.free_pages} ({facts.free_pages_with_text} still "
                     "holding readable text)")
        if facts.free_pages_with_text:
            problems.append(f"{facts.free_pages_with_text} free page(s) still hold deleted text "
                            "(VACUUM or secure_delete)")
    if facts.wal_frames_with_text is not None:
        evidence.add("WAL frames", f"{facts.wal_frames_with_text} still holding text no live "
                     "row holds")
        if facts.wal_frames_with_text:
            problems.append(f"{facts.wal_frames_with_text} WAL frame(s) still hold deleted text "
                            "(not checkpointed since the deletion)")
    assert not problems, "; ".join(problems)
