"""The audit run as a user sees it: usage errors, unreachable hosts, network-only targets,
waivers and exit codes. Each case runs the real suite in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path = ROOT, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def report(report_dir: Path) -> dict:
    return json.loads((report_dir / "latest.json").read_text())


@pytest.mark.parametrize("args, words", [
    ([], "--target=SPEC is required"),
    (["--target=ssh://"], "ssh target needs a host"),
    (["--target=http://x"], "unsupported scheme"),
    (["--target=local", "--profile=bogus"], "invalid choice"),
], ids=["no-target", "empty-ssh", "bad-scheme", "bad-profile"])
def test_usage_errors_are_one_line_without_traceback(args, words, tmp_path):
    proc = run([*args, f"--report-dir={tmp_path}"])
    assert proc.returncode == 4
    err = proc.stderr.strip().splitlines()
    assert any(words in line for line in err), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert len([line for line in err if line.startswith("ERROR")]) == 1


def test_broken_config_names_file_line_and_key(tmp_path):
    cfg = tmp_path / "audit.toml"
    cfg.write_text('[policy]\nretention_days = "forever"\n')
    proc = run(["--target=local", f"--audit-config={cfg}", f"--report-dir={tmp_path}"])
    assert proc.returncode == 4
    assert f"{cfg}:2: policy.retention_days: expected int or float" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unreachable_ssh_host_is_error_never_pass(tmp_path):
    proc = run(["--target=ssh://nobody@127.0.0.1:1", f"--report-dir={tmp_path}"])
    doc = report(tmp_path)
    exp01 = next(c for c in doc["controls"] if c["id"] == "EXP-01")
    assert exp01["status"] == "ERROR"
    assert "cannot reach ssh://nobody@127.0.0.1:1" in exp01["reason"]
    assert "Connection refused" in exp01["reason"] or "port 1" in exp01["reason"]
    assert proc.returncode == 1 and "Traceback" not in proc.stdout
    assert doc["verdict"] == "INCOMPLETE"


def test_network_only_target_makes_host_checks_not_applicable(tmp_path):
    proc = run(["--target=127.0.0.1", f"--report-dir={tmp_path}"])
    exp01 = next(c for c in report(tmp_path)["controls"] if c["id"] == "EXP-01")
    assert exp01["status"] == "NOT_APPLICABLE" and "no host access" in exp01["reason"]
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stdout


FAILING_TEST = textwrap.dedent('''
    import pytest

    @pytest.mark.control("EXP-04")
    def test_firewall(evidence):
        evidence.add("policy", "accept")
        assert False, "INPUT policy is accept"
''')


@pytest.mark.parametrize("expires, status, code", [
    ("2099-12-31", "WAIVED", 0), ("2020-01-01", "FAIL", 1)], ids=["valid", "expired"])
def test_waivers(tmp_path, expires, status, code):
    (tmp_path / "tests_exposure").mkdir()
    (tmp_path / "tests_exposure" / "test_fw.py").write_text(FAILING_TEST)
    cfg = tmp_path / "audit.toml"
    cfg.write_text(f'[[waivers]]\ncontrol = "EXP-04"\njustification = "perimeter firewall"\n'
                   f"expires = {expires}\n")
    proc = run(["-p", "aiaudit.plugin", "--target=local", f"--audit-config={cfg}",
                f"--rootdir={tmp_path}", f"--report-dir={tmp_path / 'r'}", "tests_exposure"],
               cwd=tmp_path)
    exp04 = next(c for c in report(tmp_path / "r")["controls"] if c["id"] == "EXP-04")
    assert exp04["status"] == status
    assert ("expired" in exp04["reason"]) == (status == "FAIL")
    assert "perimeter firewall" in exp04["reason"]
    assert proc.returncode == code, proc.stdout[-1500:]


def test_test_without_control_marker_is_rejected(tmp_path):
    (tmp_path / "tests_storage").mkdir()
    (tmp_path / "tests_storage" / "test_x.py").write_text("def test_unbound():\n    pass\n")
    proc = run(["-p", "aiaudit.plugin", "--target=local", f"--rootdir={tmp_path}",
                f"--report-dir={tmp_path / 'r'}", "tests_storage"], cwd=tmp_path)
    assert proc.returncode == 4
    assert "lack exactly one @pytest.mark.control(ID)" in proc.stderr
