"""STO-01..05 and STO-07 on more stores real apps wrote (selftests/more_stores.py): Ray's
job logs, MLflow's file tracking store, the llm CLI with logging off and with fragments,
and backups made by sqlite3, tar/xz, gzip, 7z, gpg and age. Two audits as an auditor
runs them (pytest tests_storage --target=local); expected statuses:
selftests/expected/real/more_stores.toml.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests import more_stores as states
from selftests.real_expect import passes_reading_nothing, per_dir_mismatches, run_audit

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" /
                          "more_stores.toml").read_text())
TESTS = sorted(str(p.relative_to(ROOT))
               for p in (ROOT / "tests_storage").glob("test_sto0[1-57]_*.py"))
TOOLS = ("sqlite3", "7z", "gpg", "age", "age-keygen", "tar", "unshare")

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason=f"needs {', '.join(TOOLS)} (bin/setup installs them)")


@pytest.fixture(scope="module")
def audits() -> Iterator[tuple[Path, list[dict]]]:
    base = Path(tempfile.mkdtemp(prefix="aiaudit-more-"))
    try:
        homes = json.dumps([str(p) for p in states.open_states(base).values()])
        dirs, backups = states.backup_states(base)
        named = json.dumps([str(d) for d in dirs])
        yield base, [
            run_audit(base, "open", f"[deployment]\nhomes = {homes}\n", TESTS),
            run_audit(base, "backups", f'[deployment]\nhomes = {named}\n\n[storage]\n'
                      f'backup_dirs = ["{backups}"]\n', TESTS),
            run_audit(base, "units", '[deployment]\nunits = ["ray-flag", "ray-env"]\n',
                      TESTS, wrap=_bound(states.ray_units(base)))]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _bound(unit_dir: Path) -> list[str]:
    """Run the audit with `unit_dir` bound over /etc/systemd/system (a private mount
    namespace: the host's units are untouched)."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind "$1" /etc/systemd/system && shift && exec "$@"', "sh",
            str(unit_dir), "sh", "-c"]


def _cases(docs: list[dict], cid: str, where: Path) -> list[dict]:
    d = f"{where}/"
    return [c for doc in docs for control in doc["controls"] if control["id"] == cid
            for c in control["cases"] if (tail := c["case"].split(":", 1)[-1]) == str(where)
            or tail.startswith(d)]


def test_the_states_hold_what_the_apps_wrote(tmp_path):
    """The premises, on the files: the job's prompt in Ray's driver log and worker output;
    the traced prompt in MLflow's traces.json; llm's first key logged before `logs off`,
    none logged after it; the fragment's key in fragments.content."""
    import sqlite3

    opened = states.open_states(tmp_path)
    logs = [p for p in opened["ray-job"].rglob("*") if p.is_file()
            and b"sk-proj-" in p.read_bytes()]
    assert sorted(p.name.split("-")[0] for p in logs) == ["job", "worker"], logs
    assert any(b"sk-proj-" in p.read_bytes()
               for p in opened["mlflow-files"].rglob("traces.json"))

    def rows(label: str, sql: str) -> int:
        db = opened[label] / ".config" / "io.datasette.llm" / "logs.db"
        conn = sqlite3.connect(db)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()

    assert rows("llm-off-after", "SELECT count(*) FROM turns") == 1
    assert rows("llm-off-first", "SELECT count(*) FROM turns") == 0
    assert rows("llm-fragment",
                "SELECT count(*) FROM fragments WHERE content LIKE '%sk-proj-%'") == 1


def test_every_state_gets_its_expected_status(audits):
    base, docs = audits
    wrong = per_dir_mismatches(EXPECTED, lambda cid, label: _cases(docs, cid, base / label))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing(audits):
    _, docs = audits
    assert not passes_reading_nothing(docs)


def test_openclaws_deleted_session_archive_is_read_and_named(audits):
    """The transcript `openclaw sessions delete` kept (<id>.jsonl.deleted.<stamp>.<gen>.zst)
    is a store of its own: inflated and scanned (STO-03 reads it) and named by STO-02 as
    a deleted session kept with no age cutoff."""
    base, docs = audits
    sessions = base / "openclaw-deleted/pasted-secret-deleted/.openclaw/agents/main/sessions"
    sto02 = [c for doc in docs for control in doc["controls"] if control["id"] == "STO-02"
             for c in control["cases"] if str(sessions) in c["reason"]]
    assert sto02 and sto02[0]["status"] == "FAIL", sto02
    assert "resetArchiveRetention: no age cutoff" in sto02[0]["reason"], sto02
    sto03 = [c for doc in docs for control in doc["controls"] if control["id"] == "STO-03"
             for c in control["cases"]
             if c["evidence"].get("unpacked", "").startswith("1 store file")]
    assert sto03, "the zstd archive was not read out"


def test_an_encrypted_backup_is_not_taken_for_a_broken_one(audits):
    """STO-07 on Flowise's store whose backup is a gpg --symmetric copy: the restore test
    names the encryption (not 'does not open as SQLite': a broken backup) and the verdict
    rests on what was read, the backup sharing the store's filesystem."""
    base, docs = audits
    [case] = _cases(docs, "STO-07", base / "bk-gpg")
    assert "OpenPGP symmetrically encrypted message" in case["evidence"]["restore test"], case
    assert "same filesystem" in case["reason"] and "does not restore" not in case["reason"], case


def test_small_encrypted_files_are_named_by_their_header(tmp_path):
    """gpg and age output of a file smaller than the 4 KB entropy sample (a small store's
    backup) was 'unknown format'; their own headers say what they are, armored too."""
    import subprocess

    from aiaudit.storage.fileformat import classify

    plain = tmp_path / "notes.json"
    plain.write_text('{"chat": "hello"}\n')
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
           "--passphrase", "invented-passphrase", "--symmetric"]
    subprocess.run([*gpg, "-o", str(tmp_path / "n.gpg"), str(plain)], check=True)
    subprocess.run([*gpg, "--armor", "-o", str(tmp_path / "n.asc"), str(plain)], check=True)
    subprocess.run(["age-keygen", "-o", str(tmp_path / "id")], check=True, capture_output=True)
    recipient = (tmp_path / "id").read_text().split("public key: ")[1].split()[0]
    subprocess.run(["age", "-r", recipient, "-o", str(tmp_path / "n.age"), str(plain)],
                   check=True)
    kinds = {name: classify((tmp_path / name).read_bytes()) for name in
             ("n.gpg", "n.asc", "n.age", "notes.json")}
    assert kinds["n.gpg"].kind == "OpenPGP symmetrically encrypted message", kinds
    assert kinds["n.asc"].kind == "OpenPGP message (armored)", kinds
    assert kinds["n.age"].kind == "age-encrypted file", kinds
    assert [k for k, v in kinds.items() if v.encrypted] == ["n.gpg", "n.asc", "n.age"], kinds


def test_a_plain_7z_backup_restores_and_an_encrypted_one_says_so(tmp_path):
    """STO-07's restore takes the store out of a 7z with the auditor's 7z (p7zip)."""
    import sqlite3
    import subprocess

    from aiaudit.storage.backups import _unpack
    from aiaudit.storage.sevenzip import EncryptedArchive
    from selftests import app_states

    db = app_states.webui_db(tmp_path / "webui.db")
    plain, secret = tmp_path / "plain.7z", tmp_path / "secret.7z"
    subprocess.run(["7z", "a", "-bd", str(plain), str(db)], check=True, capture_output=True)
    subprocess.run(["7z", "a", "-bd", "-pinvented", "-mhe=on", str(secret), str(db)],
                   check=True, capture_output=True)
    out = _unpack(plain, "webui.db")
    conn = sqlite3.connect(out)
    try:
        assert conn.execute("SELECT count(*) FROM chat").fetchone()[0] > 0
    finally:
        conn.close()
    with pytest.raises(EncryptedArchive):
        _unpack(secret, "webui.db")
