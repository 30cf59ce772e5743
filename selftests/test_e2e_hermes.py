"""End-to-end on real Hermes Agent 0.19.0 states built by Hermes' own CLI (planted and
hardened, aiaudit/lab/hermes_states.py): the suite's exact status of STO-01..08,
SUP-01/02/05/07 and EXP-01 on each, as selftests/expected/real/hermes.toml says and why.

Each audit runs in a network namespace of its own (only loopback), so the host's other
listeners and lab slots are not its business; the audit config scopes storage and supply
chain to the state's Hermes home. Cases that name the state's directory are the ones judged
(other Hermes processes on a shared host may add process cases of their own).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from selftests.real_expect import status_mismatches

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" / "hermes.toml")
                         .read_text())
STATES = ("vulnerable", "hardened")
TESTS = ["tests_storage", "tests_supply_chain/test_sup01_provenance.py",
         "tests_supply_chain/test_sup02_integrity.py", "tests_supply_chain/test_sup05_sandbox.py",
         "tests_supply_chain/test_sup07_mcp_baseline.py",
         "tests_exposure/test_exp01_loopback_binding.py"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespace, gocryptfs mount)"
    from aiaudit.lab.hermes_states import HERMES_VENV

    if not (HERMES_VENV / "bin" / "hermes").exists():
        return f"hermes-agent is not installed at {HERMES_VENV} (bin/setup installs it)"
    if not shutil.which("gocryptfs"):
        return "gocryptfs is not installed (bin/setup installs it)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse: the hardened home's gocryptfs mount cannot be made here"
    return None


pytestmark = [pytest.mark.lab, pytest.mark.skipif(_missing() is not None,
                                                  reason=str(_missing()))]


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _audit(netns: str, toml: Path, report_dir: Path, extra: list[str],
           tests: list[str]) -> subprocess.CompletedProcess:
    return _run(["ip", "netns", "exec", netns, sys.executable, "-m", "pytest", *tests,
                 "--target=local", f"--audit-config={toml}", f"--report-dir={report_dir}",
                 "-p", "no:cacheprovider", "-q", *extra], timeout=1200)


def _build(root: Path) -> dict[str, dict[str, str]]:
    """Build both states with Hermes' CLI, or reuse the ones AIAUDIT_HERMES_STATES names
    (a root from an earlier `python3 -m aiaudit.lab.hermes_states build ROOT`)."""
    if REUSE:
        return {n: {"audit_toml": str(root / n / "audit.toml")} for n in STATES}
    built = _run([sys.executable, "-m", "aiaudit.lab.hermes_states", "build", str(root)],
                 timeout=2400)
    assert built.returncode == 0, built.stderr[-3000:]
    return json.loads(built.stdout.strip().splitlines()[-1])


REUSE = os.environ.get("AIAUDIT_HERMES_STATES")


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    root = Path(REUSE) if REUSE else tmp_path_factory.mktemp("hermes-states")
    netns = f"aiaudit-hermes-{os.getpid()}"
    try:
        states = _build(root)
        subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)

        def audit(name: str) -> dict:
            toml = Path(states[name]["audit_toml"])
            reports = tmp_path_factory.mktemp(f"reports-{name}")
            if name == "hardened":  # the operator reviews, then approves (SUP-07's baseline)
                approve = _audit(netns, toml, reports, ["--approve-baseline"],
                                 ["tests_supply_chain/test_sup07_mcp_baseline.py"])
                assert approve.returncode in (0, 1), approve.stderr[-2000:]
            proc = _audit(netns, toml, reports, [], TESTS)
            return {"root": str(root / name), "proc": proc,
                    "json": json.loads((reports / "latest.json").read_text())}

        # The two states share nothing (each audit is scoped to its own Hermes home by its
        # audit.toml): their audits run at once, one core each.
        with ThreadPoolExecutor(len(STATES)) as pool:
            results = dict(zip(STATES, pool.map(audit, STATES), strict=True))
        yield results
    finally:
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        if not REUSE:
            _run([sys.executable, "-m", "aiaudit.lab.hermes_states", "down", str(root)], 120)


def _mine(control: dict, root: str) -> list[dict]:
    """The control's cases that name the state's directory (all of them when none does:
    NOT_APPLICABLE "nothing found" cases name no path)."""
    mine = [c for c in control["cases"]
            if root in c["case"] or any(root in str(v) for v in c["evidence"].values())]
    return mine or control["cases"]


@pytest.mark.parametrize("state", STATES)
def test_each_control_has_its_expected_status(audits, state):
    root = audits[state]["root"]
    mismatches = status_mismatches(audits[state]["json"], EXPECTED[state],
                                   lambda control: _mine(control, root))
    assert not mismatches, json.dumps(mismatches, indent=1)


def test_every_pass_names_what_it_read(audits):
    """Nothing unread is PASS: a passing case carries evidence of what was read."""
    for state in STATES:
        for control in audits[state]["json"]["controls"]:
            for case in _mine(control, audits[state]["root"]):
                if case["status"] == "PASS":
                    assert case["evidence"], (state, control["id"], case["case"])


def test_planted_secrets_never_reach_the_report(audits):
    text = json.dumps(audits["vulnerable"]["json"])
    planted = Path(audits["vulnerable"]["root"], "home", ".hermes", ".env").read_text()
    key = next(line.split("=", 1)[1].strip().strip("'\"") for line in planted.splitlines()
               if line.startswith("OPENAI_API_KEY="))
    assert key[12:40] not in text
