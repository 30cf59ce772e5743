"""STO-01..05 on stores the audit reaches through a read-only mount: the stores a crash
left mid-write (selftests/journal_states.py: a hot rollback journal, uncommitted bytes, a
WAL with deleted rows) bind-mounted read-only (`mount -o remount,bind,ro` in a private
mount namespace), as a backup host or a container volume mounted `:ro` shows them. Nothing
may be written beside a store there (no -shm, no rollback in place): the audit reads
private copies, so every verdict is the one the writable mount gets
(selftests/expected/real/journal_stores.toml), never ERROR for the mount, never PASS
unread.
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
from selftests.real_expect import passes_reading_nothing, per_dir_mismatches, run_audit

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = {label: want for label, want in tomllib.loads(
    (Path(__file__).parent / "expected" / "real" / "journal_stores.toml").read_text()).items()
    if not label.startswith("journal-closed")}
TESTS = sorted(str(p.relative_to(ROOT))
               for p in (ROOT / "tests_storage").glob("test_sto0[1-5]_*.py"))
RO_BIND = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                reason="needs root (a mount namespace)")


@pytest.fixture(scope="module")
def audit() -> Iterator[tuple[Path, dict, dict[str, bytes]]]:
    base = Path(tempfile.mkdtemp(prefix="aiaudit-readonly-"))
    try:
        stores = base / "stores"
        dirs = states.build(stores)
        before = {str(f): f.read_bytes() for d in dirs.values() for f in d.iterdir()}
        wrap = ["unshare", "-m", "--propagation", "private", "sh", "-c", RO_BIND, "sh",
                str(stores), "sh", "-c"]
        homes = json.dumps([str(d) for d in dirs.values()])
        doc = run_audit(base, "ro", f"[deployment]\nhomes = {homes}\n", TESTS, wrap=wrap)
        yield stores, doc, before
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cases(docs: list[dict] | dict, cid: str, where: Path) -> list[dict]:
    """The control's cases of the stores below `where` (ids up to 200 chars are whole)."""
    docs = docs if isinstance(docs, list) else [docs]
    d = f"{where}/"
    return [c for doc in docs for control in doc["controls"] if control["id"] == cid
            for c in control["cases"] if (tail := c["case"].split(":", 1)[-1]) == str(where)
            or tail.startswith(d)]


def test_every_state_gets_its_writable_status(audit):
    stores, doc, _ = audit
    wrong = per_dir_mismatches(EXPECTED, lambda cid, label: _cases(doc, cid, stores / label))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing_and_no_read_only_error(audit):
    _, doc, _ = audit
    assert not passes_reading_nothing([doc])
    errors = [c["reason"] for control in doc["controls"] for c in control["cases"]
              if c["status"] == "ERROR"]
    assert not [r for r in errors if "read-only" in r.lower()], errors


def test_the_stores_are_left_as_they_were(audit):
    """Not a byte changed, no file added (the hot journal is not rolled back in place)."""
    stores, _, before = audit
    after = {str(f): f.read_bytes() for f in stores.rglob("*") if f.is_file()
             and "/src/" not in str(f) and "/rows/" not in str(f)}
    assert after == before


def test_the_mount_is_read_only(tmp_path):
    """The premise: under the same wrapper nothing can be created in the stores' dir."""
    import subprocess

    (tmp_path / "stores").mkdir()
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", RO_BIND,
                           "sh", str(tmp_path / "stores"), "touch",
                           str(tmp_path / "stores" / "probe")],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "Read-only" in proc.stderr, (proc.returncode, proc.stderr)
    assert not (tmp_path / "stores" / "probe").exists()
