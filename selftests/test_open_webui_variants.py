"""The suite's exact verdicts on 10 recorded Open WebUI 0.12.4 deployments it was not built
around (selftests/fixtures/open_webui/variants/, written by the real server through its own
API: aiaudit/lab/open_webui_variants.py), audited the way the README says: `[deployment]
homes` naming the data dir, and where a user would name something else, the user's home or
the venv (a pip install keeps DATA_DIR in the package's own dir), or the data dir alone when
webui.db lives elsewhere (DATABASE_URL).

Expected statuses, with the Open WebUI source each follows from, are in
selftests/expected/real/open_webui_variants.toml (written before the suite ran on them).
Each audit runs in a network namespace of its own (loopback only) and a mount namespace
where the variant's systemd unit dir is /etc/systemd/system (EXP-01 reads the configured
bind as on a real host). Chat times are moved forward by the time since recording.
`AIAUDIT_OWUI_VARIANTS=ROOT` audits a live build (`python3 -m aiaudit.lab.open_webui_variants
build ROOT`) instead of the fixtures.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

from aiaudit.results import READ_KEY, read_nothing
from selftests.isolation import loopback_netns
from selftests.real_expect import status_mismatches

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "open_webui" / "variants"
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" /
                          "open_webui_variants.toml").read_text())
VARIANTS = sorted(k for k in EXPECTED if "@" not in k)
LIVE = os.environ.get("AIAUDIT_OWUI_VARIANTS")
CONSTANT = {"STO-06": "NOT_APPLICABLE", "STO-08": "NOT_APPLICABLE",
            "SUP-01": "NOT_APPLICABLE", "SUP-02": "NOT_APPLICABLE",
            "SUP-05": "NOT_APPLICABLE", "SUP-07": "NOT_APPLICABLE"}
TESTS = ["tests_storage", "tests_supply_chain/test_sup01_provenance.py",
         "tests_supply_chain/test_sup02_integrity.py", "tests_supply_chain/test_sup05_sandbox.py",
         "tests_supply_chain/test_sup07_mcp_baseline.py",
         "tests_exposure/test_exp01_loopback_binding.py"]
# what dates a conversation and its copies (models/chats.py, chat_messages.py, shared_chats.py)
TIMES = {"chat": ("created_at", "updated_at", "last_read_at"),
         "chat_message": ("created_at", "updated_at"),
         "shared_chat": ("created_at", "updated_at")}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"),
    reason="needs root (network and mount namespaces)")


def shift_chats(db: Path, seconds: float) -> None:
    """Move Open WebUI's own chat times forward (in place: same-size integers, so the free
    pages a deleted chat left keep their text)."""
    mode = db.stat().st_mode & 0o7777
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for table, cols in TIMES.items():
            have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            use = [c for c in cols if c in have]
            if use:
                sets = ", ".join(f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE {c} + ? END"
                                 for c in use)
                conn.execute(f"UPDATE {table} SET {sets}", (int(seconds),) * len(use))
    db.chmod(mode)


def extract(name: str, dest: Path) -> dict:
    """One variant with its modes, and its variant.json (paths relative to its base)."""
    if LIVE:
        base = Path(LIVE) / name
    else:
        with tarfile.open(FIXTURES / f"{name}.tar.gz") as tar:
            tar.extractall(dest, filter="tar")  # "tar" keeps the modes
        base = dest / name
    meta = json.loads((base / "variant.json").read_text())
    meta["base"] = base
    if not LIVE:
        shift_chats(base / meta["db"], time.time() - meta["recorded_at"])
        unit = base / "systemd" / "open-webui.service"
        if unit.exists():  # recorded with its paths relative to the variant's dir
            unit.write_text(unit.read_text().replace("@VARIANT_BASE@", str(base)))
    (base / "systemd").mkdir(exist_ok=True)  # no unit: an empty /etc/systemd/system
    return meta


def audit_toml(meta: dict, scope: str, out: Path) -> Path:
    base = meta["base"]
    homes = ", ".join(f'"{base / p}"' for p in meta["scopes"][scope])
    lines = ["[deployment]", f"homes = [{homes}]"]
    if meta["unit"] and not scope.endswith("-nounit"):  # its systemd unit, named
        lines.append('units = ["open-webui"]')
    lines.append("")
    if meta["backup_dirs"]:
        lines += ["[storage]", "backup_dirs = [" + ", ".join(
            f'"{base / b}"' for b in meta["backup_dirs"]) + "]", ""]
    lines += ["[supply_chain]", f'baseline_file = "{out / "supply-chain-baseline.json"}"', ""]
    path = out / f"audit-{scope}.toml"
    path.write_text("\n".join(lines))
    return path


def run_audit(netns: str, meta: dict, toml: Path, reports: Path) -> dict:
    inner = 'mount --bind "$1" /etc/systemd/system && shift && exec "$@"'
    argv = ["ip", "netns", "exec", netns, "unshare", "-m", "--propagation", "private",
            "sh", "-c", inner, "sh", str(meta["base"] / "systemd"),
            sys.executable, "-m", "pytest", *TESTS, "--target=local",
            f"--audit-config={toml}", f"--report-dir={reports}", "-p", "no:cacheprovider",
            "-q"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    latest = reports / "latest.json"
    assert latest.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(latest.read_text())


def expected_for(name: str, scope: str) -> dict[str, dict[str, str]]:
    want = {**{k: {"status": v} for k, v in CONSTANT.items()}, **EXPECTED[name]}
    return {**want, **EXPECTED.get(f"{name}@{scope}", {})}


@pytest.fixture(scope="module")
def netns():
    with loopback_netns("aiaudit-owvar") as name:
        yield name


@pytest.fixture(scope="module")
def unpacked():
    # below /tmp itself, 0755: what other local users can reach is part of the verdicts
    dest = Path(tempfile.mkdtemp(prefix="aiaudit-owvar-", dir="/tmp"))
    dest.chmod(0o755)
    done: dict[str, dict] = {}

    def get(name: str) -> dict:  # unpacked once, when a case needs it
        if name not in done:
            done[name] = extract(name, dest)
        return done[name]
    try:
        yield get
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _cases() -> list[tuple[str, str]]:
    out = []
    for name in VARIANTS:
        scopes = ["data"]
        if LIVE or (FIXTURES / f"{name}.tar.gz").exists():
            with contextlib.suppress(OSError, KeyError, tarfile.TarError):
                scopes = list(_scopes(name))
        out += [(name, s) for s in scopes]
    return out


def _scopes(name: str) -> dict[str, list[str]]:
    if LIVE:
        return json.loads((Path(LIVE) / name / "variant.json").read_text())["scopes"]
    with tarfile.open(FIXTURES / f"{name}.tar.gz") as tar:
        f = tar.extractfile(f"{name}/variant.json")
        return json.loads(f.read())["scopes"] if f else {"data": []}


@pytest.fixture(scope="module")
def audit(unpacked, netns, tmp_path_factory):
    """The report of one variant audited with one scope (each audit runs once)."""
    done: dict[tuple[str, str], dict] = {}

    def get(name: str, scope: str) -> dict:
        if (name, scope) not in done:
            meta = unpacked(name)
            out = tmp_path_factory.mktemp(f"audit-{name}-{scope}")
            done[(name, scope)] = run_audit(netns, meta, audit_toml(meta, scope, out),
                                            out / "reports")
        return done[(name, scope)]
    return get


def _cases_of(doc: dict, cid: str) -> list[dict]:
    return next(c for c in doc["controls"] if c["id"] == cid)["cases"]


@pytest.mark.parametrize("name,scope", _cases())
def test_exact_status_per_control(unpacked, audit, name, scope):
    meta = unpacked(name)
    doc = audit(name, scope)
    mismatches = status_mismatches(doc, expected_for(name, scope),
                                   lambda control: control["cases"])
    assert not mismatches, json.dumps(mismatches, indent=1)
    for control in doc["controls"]:  # nothing unread is PASS
        for case in control["cases"]:
            if case["status"] == "PASS":
                assert not read_nothing(case["evidence"]), (control["id"], case["case"],
                                                            case["evidence"].get(READ_KEY))
    text = json.dumps(doc)
    planted = [v for v in meta["planted"].values() if v.startswith("sk-")]
    assert not [k for k in planted if k[12:40] in text], "a planted key reached the report"


def test_what_was_read_where(unpacked, audit):
    """The evidence behind some verdicts: the uploaded file is scanned in uploads/ itself; a
    provider key only the config table holds is STO-04's, set apart from history; a pip
    install's key file in the home is read (STO-04) and judged by its mode (STO-05)."""
    sto03 = _cases_of(audit("upload-secret", "data"), "STO-03")
    assert [c for c in sto03 if c["case"].endswith("/uploads") and c["status"] == "FAIL"], sto03
    sto03 = _cases_of(audit("env-key-persistent", "data"), "STO-03")
    assert any("set apart" in c["evidence"] for c in sto03), sto03
    sto04 = _cases_of(audit("env-key-persistent", "data"), "STO-04")
    assert any(c["status"] == "FAIL" for c in sto04), sto04
    home = str(unpacked("pip-default")["base"] / "home")
    sto05 = json.dumps(_cases_of(audit("pip-default", "home"), "STO-05"))
    assert f"{home}/.webui_secret_key 0644" in sto05, sto05
    sto04 = json.dumps(_cases_of(audit("pip-default", "home"), "STO-04"))
    assert f"{home}/.webui_secret_key" in sto04, sto04


OTHER_UID = 54321  # an account that owns the data dir; it need not exist
DROP = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c"]
UNREAD = ("STO-01", "STO-02", "STO-03", "STO-04", "STO-05", "STO-07", "SUP-01", "SUP-02",
          "SUP-07")


@pytest.mark.skipif(shutil.which("capsh") is None, reason="capsh (libcap2-bin) missing")
def test_a_data_dir_the_audit_cannot_read_is_never_pass(netns, tmp_path):
    """The no-auth deployment's DATA_DIR (0700) handed to another account, audited as root
    without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (an unprivileged SSH audit account): every
    control that reads the data dir is ERROR naming it and the missing right; EXP-01 still
    reads the unit (readable to all)."""
    dest = tmp_path / "owned"
    dest.mkdir()
    dest.chmod(0o755)
    meta = extract("no-auth", dest) if not LIVE else pytest.skip("fixture mode only")
    data = meta["base"] / meta["data_dir"]
    subprocess.run(["chown", "-R", f"{OTHER_UID}:{OTHER_UID}", str(data.parent)], check=True)
    toml = audit_toml(meta, "data", tmp_path)
    inner = 'mount --bind "$1" /etc/systemd/system && shift && exec "$@"'
    pytest_argv = " ".join([sys.executable, "-m", "pytest", *TESTS, "--target=local",
                            f"--audit-config={toml}", f"--report-dir={tmp_path / 'r'}",
                            "-p", "no:cacheprovider", "-q"])
    subprocess.run(["ip", "netns", "exec", netns, "unshare", "-m", "--propagation", "private",
                    "sh", "-c", inner, "sh", str(meta["base"] / "systemd"), *DROP,
                    pytest_argv], cwd=ROOT, capture_output=True, text=True, timeout=600,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    doc = json.loads((tmp_path / "r" / "latest.json").read_text())
    want = {cid: {"status": "ERROR"} for cid in UNREAD} | {"EXP-01": {"status": "PASS"}}
    mismatches = status_mismatches(doc, want, lambda control: control["cases"])
    assert not mismatches, json.dumps(mismatches, indent=1)
    for cid in UNREAD:
        cases = _cases_of(doc, cid)
        assert all(c["status"] != "PASS" for c in cases), cid
        assert any(str(data) in c["reason"] and "lacks the" in c["reason"]
                   for c in cases if c["status"] == "ERROR"), (cid, [c["reason"] for c in cases])
