"""The audit run as a user sees it: usage errors, unreachable hosts, network-only targets,
waivers and exit codes. Each case runs the real suite in a subprocess."""

from __future__ import annotations

import json
import re
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


# Exception text that must never reach an auditor as a reason: class names such as
# `AttributeError`, tracebacks, and Python's own phrasing.
EXCEPTION_TEXT = re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b|Traceback|has no attribute|"
                            r"during (?:setup|teardown)|object is not|unexpected keyword")


def _reasons(doc: dict) -> list[tuple[str, str]]:
    """(control or case, reason) for every control and every case of the report."""
    out = []
    for control in doc["controls"]:
        out.append((control["id"], control["reason"]))
        out += [(f"{control['id']}[{c['case']}]", c["reason"]) for c in control["cases"]]
    return out


def test_no_endpoint_gives_readable_reasons_for_all_controls(tmp_path):
    """A new user's first run: `--target=local` and no `[[endpoints]]`. The injection
    controls do not apply (same reason for all five) and no control of the 27 shows
    Python exception text as its reason."""
    from aiaudit.injection.providers import NO_CHANNEL

    cfg = tmp_path / "audit.toml"
    cfg.write_text('[policy]\nretention_days = 90\n')
    proc = run(["--target=local", f"--audit-config={cfg}", f"--report-dir={tmp_path}"],
               timeout=600)
    doc = report(tmp_path)
    assert len(doc["controls"]) == 27
    injection = {c["id"]: c for c in doc["controls"] if c["area"] == "injection"}
    assert sorted(injection) == [f"INJ-0{i}" for i in range(1, 6)]
    for cid, control in injection.items():
        assert (control["status"], control["cases"][0]["reason"]) == (
            "NOT_APPLICABLE", NO_CHANNEL), (cid, control)
    bad = [(who, why) for who, why in _reasons(doc) if EXCEPTION_TEXT.search(why)]
    assert not bad, bad
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]


BROKEN_TESTS = textwrap.dedent('''
    import pytest

    from aiaudit.resources import provider


    @provider("broken_discovery", empty_reason="nothing")
    def _broken(ctx):
        return {}["no-such-key"]


    @pytest.fixture
    def needs_attr(case):
        return case.corpus


    @pytest.mark.control("STO-01")
    @pytest.mark.resources(case="broken_discovery")
    def test_discovery_breaks(case, needs_attr):
        pass


    @pytest.mark.control("STO-02")
    def test_check_breaks(evidence):
        evidence.add("read", "1 file")
        None.upper()
''')


def test_unexpected_exception_is_internal_error_with_traceback_in_log(tmp_path):
    (tmp_path / "tests_storage").mkdir()
    (tmp_path / "tests_storage" / "test_broken.py").write_text(BROKEN_TESTS)
    proc = run(["-p", "aiaudit.plugin", "--target=local", f"--rootdir={tmp_path}",
                f"--report-dir={tmp_path / 'r'}", "tests_storage"], cwd=tmp_path)
    by_id = {c["id"]: c for c in report(tmp_path / "r")["controls"]}
    assert by_id["STO-01"]["status"] == by_id["STO-02"]["status"] == "ERROR"
    assert by_id["STO-01"]["cases"][0]["reason"] == (
        "internal error in STO-01 (discovery 'broken_discovery'): the traceback is in the "
        "run's log")
    assert by_id["STO-02"]["cases"][0]["reason"] == (
        "internal error in STO-02: the traceback is in the run's log")
    assert not [r for r in _reasons(report(tmp_path / "r")) if EXCEPTION_TEXT.search(r[1])]
    # the log keeps both tracebacks, with the lines that raised
    assert 'return {}["no-such-key"]' in proc.stdout and "KeyError" in proc.stdout
    assert "None.upper()" in proc.stdout and "AttributeError" in proc.stdout
    assert proc.returncode == 1


def test_module_that_cannot_be_collected_is_its_controls_error_and_the_rest_runs(tmp_path):
    """One test module whose import fails (seen: a CPython AST SystemError while discovery
    threads parsed) is an internal ERROR of each control it implements; the other modules
    still run and judge (pytest alone stops the session: every control NOT_RUN)."""
    (tmp_path / "tests_storage").mkdir()
    (tmp_path / "tests_storage" / "test_a_broken.py").write_text(textwrap.dedent('''
        import pytest
        raise RuntimeError("module-level failure")

        @pytest.mark.control("STO-01")
        def test_one():
            pass

        @pytest.mark.control( "STO-02" )
        def test_two():
            pass
    '''))
    (tmp_path / "tests_storage" / "test_b_fine.py").write_text(textwrap.dedent('''
        import pytest

        @pytest.mark.control("STO-05")
        def test_fine(evidence):
            evidence.read(files=1)
    '''))
    proc = run(["-p", "aiaudit.plugin", "--target=local", f"--rootdir={tmp_path}",
                f"--report-dir={tmp_path / 'r'}", "tests_storage"], cwd=tmp_path)
    doc = report(tmp_path / "r")
    by_id = {c["id"]: c for c in doc["controls"]}
    assert by_id["STO-05"]["status"] == "PASS", proc.stdout[-2000:]
    for control in ("STO-01", "STO-02"):
        assert by_id[control]["status"] == "ERROR"
        assert by_id[control]["cases"][0]["reason"] == (
            f"internal error in {control} (collecting test_a_broken.py): the traceback is in "
            "the run's log")
    assert by_id["STO-03"]["status"] == "NOT_RUN"
    assert not [r for r in _reasons(doc) if EXCEPTION_TEXT.search(r[1])]
    assert "module-level failure" in proc.stdout and proc.returncode == 1
    assert doc["verdict"] == "INCOMPLETE"


SLOW_TESTS = textwrap.dedent('''
    import os, pathlib, time
    import pytest

    @pytest.mark.control("EXP-04")
    def test_done(evidence):
        evidence.add("policy", "drop")
        evidence.read(rule_sets=1)  # a PASS names what it read

    @pytest.mark.control("EXP-03")
    def test_cut_off(evidence):
        pathlib.Path(os.environ["STARTED_FLAG"]).write_text("started")
        time.sleep(60)
''')


def test_interrupt_keeps_finished_cases_and_never_passes_a_cut_off_one(tmp_path):
    import signal
    import time

    (tmp_path / "tests_exposure").mkdir()
    (tmp_path / "tests_exposure" / "test_slow.py").write_text(SLOW_TESTS)
    flag = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "aiaudit.plugin",
         "--target=local", f"--rootdir={tmp_path}", f"--report-dir={tmp_path / 'r'}",
         "tests_exposure"], cwd=tmp_path, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**__import__("os").environ, "STARTED_FLAG": str(flag)})
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists(), "the slow test never started"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert time.monotonic() - sent < 2.0
    finally:
        if proc.poll() is None:
            proc.kill()
    doc = report(tmp_path / "r")
    status = {c["id"]: c["status"] for c in doc["controls"]}
    assert status["EXP-04"] == "PASS"  # finished before the interrupt: kept
    assert status["EXP-03"] == "NOT_RUN"  # cut off mid-call: never PASS
    assert doc["interrupted"].startswith("interrupted after") and "1 cases" in doc["notes"][0]
