"""Baselines, diffs, --fail-on and SARIF on real audit runs (the suite in a subprocess,
auditing a state dir on this host that the test changes between runs)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from aiaudit.report.diff import compute_diff, exit_nonzero
from aiaudit.report.sarif import build_sarif

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-proj-" + "Q7wE9rT2yU4iO6pA8sD0fG1hJ3kL5zX7cV9bN2mQ4wE6rT8y"
SCHEMA_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "aiaudit"


def audit(tmp_path: Path, *extra: str) -> tuple[int, dict, str]:
    """One STO-04 audit of tmp_path/state. As root it runs in a network namespace of its
    own: `--target=local` reads the env of processes in the auditor's namespace, and other
    deployments on this machine must not show up in a test that asserts exact diffs."""
    isolate = ["unshare", "--net"] if os.geteuid() == 0 and shutil.which("unshare") else []
    cfg = tmp_path / "audit.toml"
    cfg.write_text(f'[paths]\nstate_dirs = ["{tmp_path / "state"}"]\n'
                   "[storage]\nsearch_homes = false\n")
    proc = subprocess.run(
        [*isolate, sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
         "--target=local",
         f"--audit-config={cfg}", f"--report-dir={tmp_path / 'reports'}", "--profile=quick",
         "tests_storage/test_sto04_secrets_in_config.py", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    doc = json.loads((tmp_path / "reports" / "latest.json").read_text())
    return proc.returncode, doc, proc.stdout + proc.stderr


def our_keys(changes: list[dict], tmp_path: Path) -> list[str]:
    return [c["key"] for c in changes if str(tmp_path) in c["key"]]


def test_change_shows_as_new_then_resolved_and_fail_on_new_follows(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    # A Hermes home as `hermes setup` leaves it (config.yaml beside .env): the case keeps its
    # identity while the secret comes and goes (a dir with config.yaml alone is no framework's)
    (state / "config.yaml").write_text("model:\n  provider: custom\n")
    (state / ".env").write_text("# keys go here\n")
    rc, first, out = audit(tmp_path)
    sto04 = next(c for c in first["controls"] if c["id"] == "STO-04")
    ours = [c for c in sto04["cases"] if str(state) in c["key"]]
    assert len(ours) == 1 and ours[0]["status"] == "PASS", out[-2000:]
    assert ours[0]["key"] == f"STO-04|local|{ours[0]['case']}"
    # A secret is planted: exactly that case is new, and --fail-on new fails the run.
    (state / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n")
    rc, second, out = audit(tmp_path, "--baseline=auto", "--fail-on=new")
    diff = second["diff"]
    assert our_keys(diff["new"], tmp_path) == [ours[0]["key"]], diff
    assert diff["resolved"] == [] and rc == 1, out[-2000:]
    assert SECRET not in json.dumps(second)
    # Fixed: the case is resolved, nothing is new, --fail-on new passes.
    (state / ".env").write_text("# keys go here\n")
    rc, third, out = audit(tmp_path, "--baseline=auto", "--fail-on=new")
    assert our_keys(third["diff"]["resolved"], tmp_path) == [ours[0]["key"]]
    assert third["diff"]["new"] == [] and rc == 0, out[-2000:]
    # History: one row per run, the trend shows all three, first-seen dates the streak.
    assert [p["started"] for p in third["trend"]] == [first["started"], second["started"],
                                                      third["started"]]
    assert [p["counts"]["storage"].get("FAIL", 0) for p in third["trend"]] == [0, 1, 0]
    planted = next(c for ctl in second["controls"] for c in ctl["cases"]
                   if c["key"] == ours[0]["key"])
    assert planted["first_seen"] == second["started"]
    render_in_chromium(tmp_path / "reports" / "latest.html", tmp_path)


def render_in_chromium(page: Path, tmp_path: Path) -> None:
    """The diff section and the trend chart render in a real browser (Debian chromium)."""
    from selftests.test_report_output import CHROME_FLAGS, CHROMIUM

    assert CHROMIUM, "Debian chromium is needed (bin/setup installs it)"
    rendered = subprocess.run([CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'p1'}",
                               "--dump-dom", page.as_uri()], capture_output=True, text=True,
                              timeout=120)
    dom = rendered.stdout
    # --enable-logging=stderr: the page's console messages (a script or CSP error) land here
    console = [line for line in rendered.stderr.splitlines() if "CONSOLE" in line]
    assert not [c for c in console if "Uncaught" in c or "Error" in c], console
    shot = tmp_path / "trend.png"
    subprocess.run([CHROMIUM, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'p2'}",
                    "--window-size=1400,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120)
    print(f"screenshot: {shot}")
    assert 'id="aiaudit-diff"' in dom and 'id="diff-resolved"' in dom
    trend = dom.split('id="aiaudit-trend"', 1)[1]
    assert trend.count("<svg") == 4 and 'class="trend-FAIL"' in trend
    assert shot.exists() and shot.stat().st_size > 10_000


def test_bad_baseline_is_one_usage_line(tmp_path):
    bad = tmp_path / "old.json"
    bad.write_text("{}")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--target=local",
         f"--baseline={bad}", f"--report-dir={tmp_path}", "tests_storage"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4
    assert "not an aiaudit JSON report" in proc.stderr and "Traceback" not in proc.stderr


def _doc(cases: dict[str, tuple[str, str]]) -> dict:
    """A report document with one control per case: key -> (status, evidence value)."""
    controls = []
    for key, (status, ev) in cases.items():
        control, target, resource = key.split("|")
        controls.append({"id": control, "severity": "high", "cases": [
            {"key": key, "case": resource, "status": status, "reason": "r",
             "evidence_hash": ev}]})
    return {"controls": controls, "started": "t"}


def test_diff_rules():
    before = _doc({"A|t|x": ("FAIL", "1"), "B|t|y": ("FAIL", "1"), "C|t|z": ("PASS", "1"),
                   "D|t|w": ("FAIL", "1")})
    now = _doc({"A|t|x": ("FAIL", "2"), "B|t|y": ("PASS", "1"), "C|t|z": ("ERROR", "1")})
    now["controls"].append({"id": "D", "severity": "low", "cases": [
        {"key": "D|t|v", "case": "v", "status": "PASS", "reason": "", "evidence_hash": "1"}]})
    diff = compute_diff(now, before, "b.json")
    assert [c["key"] for c in diff["new"]] == ["C|t|z"]
    assert [c["key"] for c in diff["still_failing"]] == ["A|t|x"]
    assert [c["key"] for c in diff["changed_evidence"]] == ["A|t|x"]
    assert sorted(c["key"] for c in diff["resolved"]) == ["B|t|y", "D|t|w"]
    # --fail-on: new follows the diff; severity follows the control's severity
    assert exit_nonzero({**now, "diff": diff}, "new")
    assert not exit_nonzero({**now, "diff": {**diff, "new": []}}, "new")
    now["controls"] = [{"id": "X", "severity": "medium", "status": "FAIL", "cases": []}]
    assert exit_nonzero(now, "any") and exit_nonzero(now, "severity:medium")
    assert not exit_nonzero(now, "severity:high")


def sarif_schema() -> dict:
    """SARIF 2.1.0's JSON schema as Microsoft ships it (npm @microsoft/jest-sarif)."""
    cached = SCHEMA_CACHE / "sarif-2.1.0-rtm.5.json"
    if not cached.exists():
        work = SCHEMA_CACHE / "npm"
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", "--silent", "@microsoft/jest-sarif@1.0.0-beta.0"],
                       cwd=work, check=True, capture_output=True, timeout=120)
        subprocess.run(["tar", "xzf", "microsoft-jest-sarif-1.0.0-beta.0.tgz",
                        "package/lib/schemas/sarif-2.1.0-rtm.5.json"], cwd=work, check=True)
        shutil.copyfile(work / "package/lib/schemas/sarif-2.1.0-rtm.5.json", cached)
    return json.loads(cached.read_text())


def test_sarif_of_a_real_run_validates(tmp_path):
    import jsonschema

    state = tmp_path / "state"
    state.mkdir()
    (state / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n")
    sarif_path = tmp_path / "out.sarif"
    rc, doc, out = audit(tmp_path, f"--sarif={sarif_path}")
    sarif = json.loads(sarif_path.read_text())
    jsonschema.validate(sarif, sarif_schema())
    run = sarif["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [c["id"] for c in doc["controls"]]
    ours = [r for r in run["results"] if str(state) in r["properties"]["case_key"]]
    assert len(ours) == 1 and ours[0]["ruleId"] == "STO-04" and ours[0]["kind"] == "fail"
    case = next(c for c in doc["controls"][[c["id"] for c in doc["controls"]].index("STO-04")]
                ["cases"] if str(state) in c["key"])
    assert ours[0]["partialFingerprints"]["aiaudit/v1"] == case["fingerprint"]
    assert SECRET not in sarif_path.read_text()
    assert build_sarif(doc) == sarif
