"""The `llm` CLI's own state, as its real CLI wrote it (selftests/record_llm_fixtures.py):
llm logs every prompt and response to logs.db and keeps keys in clear in keys.json, in
`~/.config/io.datasette.llm` (aiaudit/products/llm_cli.py). The audit names the user home
only ([deployment] homes), as an auditor would, and must find llm's dir below it.

* vulnerable: as llm leaves it at umask 022 (dir 0755, logs.db 0644; keys.json 0600 as
  `llm keys set` makes it), a key pasted into a prompt, a saved key, a 200-day-old log;
* hardened: umask 077, the user dir and a backup dir on gocryptfs mounts (llm has no
  encryption of its own), no keys.json (the key comes from the environment, which llm's
  docs offer), a backup made with SQLite's online backup, today's log with no secret.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from selftests.real_expect import status_mismatches

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "llm"
USER_DIR = ".config/io.datasette.llm"
TESTS = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests_storage").glob("test_sto0*.py"))
         if not p.name.startswith("test_sto08")]  # STO-08 probes servers: llm is a CLI
EXPECTED = {
    "vulnerable": {"STO-01": "FAIL", "STO-02": "FAIL", "STO-03": "FAIL", "STO-04": "FAIL",
                   "STO-05": "FAIL", "STO-06": "NOT_APPLICABLE", "STO-07": "FAIL"},
    # STO-04 PASS: no keys.json (proven absent) and logs.db's tables hold no key
    "hardened": {"STO-01": "PASS", "STO-02": "PASS", "STO-03": "PASS", "STO-04": "PASS",
                 "STO-05": "PASS", "STO-06": "NOT_APPLICABLE", "STO-07": "PASS"},
}


def _no_mounts() -> str | None:
    if os.geteuid() != 0:
        return "needs root for the hardened state's gocryptfs mounts"
    if not shutil.which("gocryptfs") or not os.path.exists("/dev/fuse"):
        return "gocryptfs or /dev/fuse missing (bin/setup installs gocryptfs)"
    return None


def _restore(packed: Path, db: Path) -> None:
    """The logs.db the real CLI wrote (recorded gzipped)."""
    db.write_bytes(gzip.decompress(packed.read_bytes()))


def _build(state: str, root: Path) -> tuple[Path, list[str]]:
    """The state's user home and the audit config lines beyond [deployment]."""
    home = root / "home" / "someone"
    user_dir = home / USER_DIR
    src = FIXTURES / state
    extra: list[str] = []
    if state == "vulnerable":
        user_dir.mkdir(parents=True)
        os.chmod(user_dir, 0o755)
        _restore(src / "logs.db.gz", user_dir / "logs.db")
        os.chmod(user_dir / "logs.db", 0o644)
        shutil.copyfile(src / "keys.json", user_dir / "keys.json")
        os.chmod(user_dir / "keys.json", 0o600)
        return home, extra
    from aiaudit.lab.hermes_states import mount_gocryptfs

    passfile = root / "keys" / "gocryptfs.pass"
    passfile.parent.mkdir(parents=True)
    passfile.write_text(secrets.token_hex(32) + "\n")
    os.chmod(passfile, 0o600)
    mount_gocryptfs(root / "crypt" / "llm", user_dir, passfile)
    backups = root / "backup"
    mount_gocryptfs(root / "crypt" / "backup", backups, passfile)
    for path in (home / ".config", user_dir, backups):
        os.chmod(path, 0o700)
    _restore(src / "logs.db.gz", user_dir / "logs.db")
    os.chmod(user_dir / "logs.db", 0o600)
    live, copy = sqlite3.connect(user_dir / "logs.db"), sqlite3.connect(backups / "logs.db")
    try:
        live.backup(copy)
    finally:
        live.close()
        copy.close()
    os.chmod(backups / "logs.db", 0o600)
    extra += ["[storage]", f'backup_dirs = ["{backups}"]']
    return home, extra


@pytest.mark.parametrize("state", ["vulnerable", "hardened"])
def test_llm_cli_state_statuses(state, tmp_path):
    if state == "hardened" and _no_mounts():
        pytest.skip(_no_mounts())
    from aiaudit.lab.hermes_states import unmount_all

    try:
        home, extra = _build(state, tmp_path)
        toml = tmp_path / "audit.toml"
        toml.write_text("\n".join(["[deployment]", f'homes = ["{home}"]', *extra]) + "\n")
        reports = tmp_path / "reports"
        proc = subprocess.run([sys.executable, "-m", "pytest", *TESTS, "--target=local",
                               f"--audit-config={toml}", f"--report-dir={reports}", "-q",
                               "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True,
                              text=True, timeout=600)
    finally:
        unmount_all(tmp_path)
    doc = json.loads((reports / "latest.json").read_text())
    expected = {c: {"status": s} for c, s in EXPECTED[state].items()}
    wrong = status_mismatches(doc, expected, lambda control: control["cases"])
    assert not wrong, f"{state}: {wrong}\n{proc.stdout[-3000:]}"
    by_id = {c["id"]: c for c in doc["controls"]}
    store = str(home / USER_DIR / "logs.db")
    assert any(store in json.dumps(c) for c in by_id["STO-01"]["cases"])  # llm's own store
    if state == "vulnerable":
        assert "openai-api-key in logs.db" in by_id["STO-03"]["reason"]
        assert "keys.json" in by_id["STO-04"]["reason"]
        assert "200 days old" in by_id["STO-02"]["reason"] or \
            "oldest record is 2" in by_id["STO-02"]["reason"]
