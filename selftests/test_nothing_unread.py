"""Meta self-test: nothing unread is PASS, and no NOT_APPLICABLE rests on an unreadable path.

All 27 controls run (the real suite in a subprocess, `--profile quick`) against
(a) an empty scope, (b) a config naming the wrong directory, (c) a SQLCipher store without
its key and with a wrong key, (d) a real Hermes Agent home the auditor cannot read: as root
with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped, and as an unprivileged account over
SSH. Every report is checked case by case from its JSON: a PASS needs a `read` count above
zero and no `unreadable`; a NOT_APPLICABLE may not name a path it could not read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aiaudit.access import check_access
from aiaudit.hostfs import HostFS
from aiaudit.results import READ_KEY, UNREADABLE_KEY, read_nothing
from aiaudit.status import CouldNotCheck
from selftests import unread_deploy as deploy
from selftests.real_expect import run_audit

ROOT = Path(__file__).resolve().parent.parent
CLOSED = re.compile(r"permission denied|cannot tell whether|lacks the (read|search)", re.I)
RIGHT = re.compile(r"lacks the (search \(x\)|read \(r\))")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (accounts, chown, sshd)")


def audit(base: Path, name: str, target: str, config: str, wrap: list[str] | None = None
          ) -> dict:
    """One audit run of all 27 controls; the JSON report."""
    doc = run_audit(base, name, config, target=target, wrap=wrap)
    assert len(doc["controls"]) == 27
    return doc


def violations(doc: dict, closed_paths: tuple[str, ...] = ()) -> list[str]:
    """Every PASS that read nothing and every NOT_APPLICABLE resting on an unreadable path."""
    out = []
    for control in doc["controls"]:
        for case in control["cases"]:
            where = f"{control['id']} [{case['case']}]"
            evidence = case["evidence"]
            text = case["reason"] + " " + " ".join(evidence.values())
            if case["status"] == "PASS" and read_nothing(evidence):
                out.append(f"{where}: PASS with nothing read ({READ_KEY}: "
                           f"{evidence.get(READ_KEY, 'absent')})")
            if case["status"] == "PASS" and evidence.get(UNREADABLE_KEY):
                out.append(f"{where}: PASS although {evidence[UNREADABLE_KEY]}")
            if case["status"] == "NOT_APPLICABLE" and (
                    CLOSED.search(text) or any(p in text for p in closed_paths)):
                out.append(f"{where}: NOT_APPLICABLE on an unreadable path: {case['reason']}")
    return out


def status(doc: dict, cid: str) -> dict:
    return next(c for c in doc["controls"] if c["id"] == cid)


def names_path_and_right(control: dict, path: str) -> bool:
    return any(c["status"] == "ERROR" and path in c["reason"] and RIGHT.search(c["reason"])
               for c in control["cases"])


@pytest.fixture(scope="module")
def base():
    base = deploy.new_base()
    yield base
    deploy.remove(base)


def scoped(base: Path, state_dir: str, home: str, extra: str = "") -> str:
    """Audit config that confines discovery to one home and one state dir."""
    return (f'[paths]\nstate_dirs = ["{state_dir}"]\n'
            f'[storage]\nsearch_homes = false\n{extra}'
            f'[supply_chain]\nhome_dirs = ["{home}"]\n'
            f'baseline_file = "{base}/baseline.json"\n'
            # this deployment runs no agent: other agents on the host are out of scope
            f'agent_process = ["^aiaudit-unread-no-agent$"]\n'
            f'skill_process = ["^aiaudit-unread-no-agent$"]\n')


def test_empty_scope_passes_nothing(base):
    empty = base / "empty-home"
    empty.mkdir()
    config = (f'[storage]\nsearch_homes = false\n[supply_chain]\nhome_dirs = ["{empty}"]\n'
              f'baseline_file = "{base}/baseline.json"\n')
    doc = audit(base, "empty", "local", config)
    assert violations(doc) == []
    for cid in ("SUP-01", "SUP-03", "SUP-07"):
        assert status(doc, cid)["status"] == "NOT_APPLICABLE", status(doc, cid)
    # Stores named by env overrides of processes running on this host are the host's own.
    others = [c for c in status(doc, "STO-01")["cases"]
              if c["status"] != "NOT_APPLICABLE" and "found by env" not in str(c["evidence"])]
    assert others == []


def test_wrong_directory_is_error_not_pass(base):
    wrong = base / "srv-data"  # exists, readable, holds no framework state
    wrong.mkdir()
    (wrong / "notes.txt").write_text("not a framework dir\n")
    doc = audit(base, "wrong", "local", scoped(base, str(wrong), str(base / "empty-home")))
    assert violations(doc) == []
    for cid in ("STO-04", "STO-05"):
        [case] = [c for c in status(doc, cid)["cases"] if str(wrong) in c["case"]]
        assert case["status"] == "ERROR", (cid, case)
        assert "not a framework's state dir" in case["reason"], (cid, case)


@pytest.fixture(scope="module")
def encrypted(base):
    key = os.urandom(32).hex()
    state = base / "enc" / ".hermes"
    deploy.sqlcipher_store(state, key)
    wrong = base / "wrong.key"
    wrong.write_text(os.urandom(32).hex() + "\n")
    wrong.chmod(0o600)
    return state


@pytest.mark.parametrize("key", ["none", "wrong"])
def test_encrypted_store_without_its_key_is_never_pass(base, encrypted, key):
    extra = f'key_file = "{base / "wrong.key"}"\n' if key == "wrong" else ""
    doc = audit(base, f"enc-{key}", "local",
                scoped(base, str(encrypted), str(base / "empty-home"), extra))
    assert violations(doc) == []
    words = "does not open" if key == "wrong" else "key_file"
    for cid in ("STO-01", "STO-02", "STO-03"):
        [case] = [c for c in status(doc, cid)["cases"] if str(encrypted) in c["case"]]
        assert case["status"] == "ERROR", (cid, case)
        if cid == "STO-01":
            assert words in case["reason"], case


@pytest.fixture(scope="module")
def closed_hermes(base):
    """A real Hermes home owned by another account, 0700/0600, and the SSH audit login."""
    deploy.ensure_hermes()
    home = base / "owner-home"
    home.mkdir(mode=0o755)
    deploy.ensure_user(deploy.OWNER, home)
    auditor_home = base / "auditor-home"
    auditor_home.mkdir(mode=0o755)
    deploy.ensure_user(deploy.AUDITOR, auditor_home)
    shutil.chown(auditor_home, deploy.AUDITOR)
    hermes_home = deploy.build_hermes_home(home)
    deploy.make_private(hermes_home, deploy.OWNER)
    yield home, hermes_home


UNREADABLE_CONTROLS = ("STO-01", "STO-02", "STO-03", "STO-04", "STO-05",
                       "SUP-01", "SUP-02", "SUP-03", "SUP-04", "SUP-05", "SUP-06", "SUP-07")


def _check_closed(doc: dict, hermes_home: Path) -> None:
    """Each control that reads the Hermes home is ERROR naming it and the missing right
    (FAIL only when something else on the host fails it: never PASS, never N/A)."""
    assert violations(doc, (str(hermes_home),)) == []
    wrong = {cid: (status(doc, cid)["status"], status(doc, cid)["reason"])
             for cid in UNREADABLE_CONTROLS
             if not names_path_and_right(status(doc, cid), str(hermes_home))
             or status(doc, cid)["status"] not in ("ERROR", "FAIL")}
    assert wrong == {}, "not ERROR naming the Hermes home and the missing right"


@pytest.mark.skipif(shutil.which("capsh") is None, reason="capsh (libcap2-bin) missing")
def test_root_without_dac_capabilities_cannot_pass_a_closed_hermes_home(base, closed_hermes):
    home, hermes_home = closed_hermes
    doc = audit(base, "capsh", "local", scoped(base, str(hermes_home), str(home)),
                wrap=["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c"])
    _check_closed(doc, hermes_home)


def test_unprivileged_ssh_account_cannot_pass_a_closed_hermes_home(base, closed_hermes):
    home, hermes_home = closed_hermes
    login = deploy.start_sshd(base)
    try:
        config = (f'[ssh]\nconfig_file = "{login.ssh_config}"\n'
                  f'identity_file = "{login.identity}"\n'
                  + scoped(base, str(hermes_home), str(home)))
        doc = audit(base, "ssh", login.target, config)
        _check_ssh_reads(base, login, home, hermes_home)
    finally:
        login.stop()
    _check_closed(doc, hermes_home)


def _check_ssh_reads(base: Path, login: deploy.SshLogin, home: Path, hermes_home: Path) -> None:
    """The primitives under every verdict, as the audit account sees them over SSH."""
    fs = HostFS("ssh", "127.0.0.1", deploy.AUDITOR, login.port, str(login.ssh_config),
                str(login.identity))
    paths = [str(home), str(hermes_home), str(hermes_home / ".env"), str(base / "no" / "x")]
    got = check_access(fs, paths)
    assert [got[p].state for p in paths] == ["ok", "nosearch", "hidden", "missing"]
    assert got[str(hermes_home / ".env")].blocker == str(hermes_home)
    with pytest.raises(CouldNotCheck, match=r"lacks the search \(x\) right"):
        with fs.open(str(hermes_home / ".env")) as stream:
            stream.read()
    with fs.open(str(login.ssh_config)) as stream:  # readable: the bytes, no status byte
        assert stream.read().startswith(b"Host 127.0.0.1")
    denied: list[str] = []
    assert [e.path for e in fs.tree(str(home), denied)] == []  # tar leaves it out ...
    assert denied == [".hermes"]  # ... and says so


def test_the_same_home_read_by_root_finds_the_literal_keys(base, closed_hermes):
    """The closed home is a real finding once readable: the ERRORs above hide FAILs."""
    home, hermes_home = closed_hermes
    doc = audit(base, "root", "local", scoped(base, str(hermes_home), str(home)))
    assert violations(doc) == []
    sto04 = status(doc, "STO-04")
    assert sto04["status"] == "FAIL" and "literal secret" in sto04["reason"], sto04
    assert status(doc, "STO-03")["status"] == "FAIL"


GUARDED = '''
import pytest

@pytest.mark.control("STO-04")
def test_reads_nothing(evidence):
    evidence.add("config files read", "none found")

@pytest.mark.control("STO-05")
def test_reads_part(evidence):
    evidence.read(entries=3)
    evidence.unreadable(["cannot read /srv/x: permission denied"])

@pytest.mark.control("STO-01")
def test_reads_something(evidence):
    evidence.read(files=2, bytes=0)
'''


def test_plugin_withholds_a_pass_that_read_nothing_or_not_all(tmp_path):
    """The guard behind every control: the test body passed, the report does not."""
    (tmp_path / "tests_storage").mkdir()
    (tmp_path / "tests_storage" / "test_guard.py").write_text(GUARDED)
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p",
                    "aiaudit.plugin", "--target=local", f"--rootdir={tmp_path}",
                    f"--report-dir={tmp_path / 'r'}", "tests_storage"], cwd=tmp_path,
                   capture_output=True, text=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    doc = json.loads((tmp_path / "r" / "latest.json").read_text())
    got = {c["id"]: (c["status"], c["reason"]) for c in doc["controls"]
           if c["id"] in ("STO-01", "STO-04", "STO-05")}
    assert got["STO-01"][0] == "PASS"
    assert got["STO-04"][0] == "ERROR" and "without reading anything" in got["STO-04"][1]
    assert got["STO-05"][0] == "ERROR" and "/srv/x: permission denied" in got["STO-05"][1]
    assert status(doc, "STO-01")["cases"][0]["evidence"][READ_KEY] == "files=2 bytes=0"
