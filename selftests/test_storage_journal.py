"""STO-01..05 on stores a crash left mid-write (selftests/journal_states.py): a hot
rollback journal holding the only copy of a key, uncommitted bytes in the store, deleted
rows still in the WAL, and a hot journal the audit cannot read. Two audits as an auditor
runs them (pytest tests_storage --target=local; the closed one as root without
CAP_DAC_*); expected statuses: selftests/expected/real/journal_stores.toml.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests import journal_states as states
from selftests import unread_deploy
from selftests.real_expect import passes_reading_nothing, per_dir_mismatches, run_audit

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" /
                          "journal_stores.toml").read_text())
TESTS = sorted(str(p.relative_to(ROOT))
               for p in (ROOT / "tests_storage").glob("test_sto0[1-5]_*.py"))
NO_DAC = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("capsh") is None,
                                reason="needs root (chown to another account) and capsh")


@pytest.fixture(scope="module")
def audits() -> Iterator[tuple[Path, list[dict]]]:
    base = Path(tempfile.mkdtemp(prefix="aiaudit-journal-"))
    base.chmod(0o755)
    try:
        dirs = states.build(base)
        unread_deploy.ensure_user(unread_deploy.OWNER, base / "owner-home")
        closed = states.closed_journal(base, unread_deploy.OWNER)
        homes = json.dumps([str(d) for d in dirs.values()])
        yield base, [run_audit(base, "open", f"[deployment]\nhomes = {homes}\n", TESTS),
                     run_audit(base, "closed", f'[deployment]\nhomes = ["{closed}"]\n',
                               TESTS, wrap=NO_DAC)]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cases(docs: list[dict] | dict, cid: str, where: Path) -> list[dict]:
    """The control's cases of the stores below `where` (ids up to 200 chars are whole)."""
    docs = docs if isinstance(docs, list) else [docs]
    d = f"{where}/"
    return [c for doc in docs for control in doc["controls"] if control["id"] == cid
            for c in control["cases"] if (tail := c["case"].split(":", 1)[-1]) == str(where)
            or tail.startswith(d)]


def test_the_states_are_what_a_crash_leaves(tmp_path):
    """The premise, on the files: the key only in the hot journal (journal-delete), only in
    the store's uncommitted bytes (journal-insert), only in the WAL (wal-deleted)."""
    dirs = states.build(tmp_path)
    key = states.PLANTED.encode()

    def has(label: str, name: str) -> bool:
        return key in (dirs[label] / name).read_bytes()

    assert has("journal-delete", "langflow.db-journal")
    assert not has("journal-delete", "langflow.db")
    assert has("journal-insert", "langflow.db")
    assert not has("journal-insert", "langflow.db-journal")
    assert has("wal-deleted", "langflow.db-wal") and not has("wal-deleted", "langflow.db")


def test_every_state_gets_its_expected_status(audits):
    base, docs = audits
    wrong = per_dir_mismatches(EXPECTED, lambda cid, label: _cases(docs, cid, base / label))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing(audits):
    _, docs = audits
    assert not passes_reading_nothing(docs)


def test_the_closed_journal_is_named(audits):
    base, docs = audits
    journal = base / "journal-closed/langflow/vulnerable/langflow.db-journal"
    for case in _cases(docs, "STO-03", base / "journal-closed"):
        if case["status"] == "ERROR":
            assert str(journal) in case["reason"] or "journal" in case["reason"], case
