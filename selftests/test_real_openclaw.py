"""End-to-end on real OpenClaw 2026.9.6 states built by OpenClaw's own CLI at test time
(`aiaudit.lab.openclaw_states`): the suite audits each state and every listed control must
have the exact status in `selftests/expected/real/openclaw.toml`.

Only the cases of the audited state count: `--target=local` also sees whatever else runs on
the machine (other processes; as root not its listeners: the audits run in a loopback-only
network namespace), which belongs to no OpenClaw state here. The two states' audits run at
once (they share nothing).
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

from aiaudit.lab import openclaw_states
from aiaudit.status import Status, rollup
from selftests.isolation import loopback_netns

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected/real/openclaw.toml").read_text())
CONTROLS = ("STO-01", "STO-02", "STO-03", "STO-04", "STO-05", "STO-06", "STO-07", "STO-08",
            "SUP-01", "SUP-02", "SUP-05", "SUP-07", "EXP-01")

pytestmark = pytest.mark.skipif(not openclaw_states.installed(),
                                reason="OpenClaw is not installed (bin/setup installs it)")


def audit_config(root: Path, state: str, approved: list[tuple[str, str]],
                 backups: Path) -> Path:
    home = root / state
    lines = ["[paths]", f'state_dirs = ["{home}/.openclaw"]', "",
             "[storage]", "search_homes = false"]
    if state == "hardened":
        lines.append(f'backup_dirs = ["{backups}"]')
    lines += ["", "[supply_chain]", f'home_dirs = ["{home}"]',
              f'openclaw_state_dirs = ["{home}/.openclaw"]',
              f'baseline_file = "{root}/{state}-baseline.json"']
    for path, digest in approved:
        lines.append(f'approved_skills = [{{path = "{path}", content_sha256 = "{digest}", '
                     'reason = "reviewed before install (local install, hub offline)"}]')
    config = root / f"{state}.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def run_suite(config: Path, report_dir: Path, *extra: str,
              controls: tuple[str, ...] = CONTROLS, netns: str | None = None) -> dict:
    selected = " or ".join(c.lower().replace("-", "") for c in controls)
    tests = sorted({{"STO": "tests_storage", "SUP": "tests_supply_chain",
                     "EXP": "tests_exposure/test_exp01_loopback_binding.py"}[c[:3]]
                    for c in controls})
    inside = ["ip", "netns", "exec", netns] if netns else []
    proc = subprocess.run(
        [*inside, sys.executable, "-m", "pytest", *tests, "--target=local",
         f"--audit-config={config}", f"--report-dir={report_dir}", "--profile=quick",
         "-p", "no:cacheprovider", "-q", "-k", selected, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    path = report_dir / "latest.json"
    assert path.exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(path.read_text())


def belongs(case: dict, home: Path) -> bool:
    """A case of this state (its files named in the case), or a "none found" case. Other
    processes, listeners and state dirs on the machine belong to no state here."""
    if case["case"] == "none-found":
        return True
    return f"{home}/" in json.dumps({"case": case["case"], "evidence": case["evidence"]})


def statuses(doc: dict, home: Path) -> tuple[dict[str, str], dict[str, list]]:
    got, cases = {}, {}
    for control in doc["controls"]:
        if control["id"] not in CONTROLS:
            continue
        mine = [c for c in control["cases"] if belongs(c, home)]
        cases[control["id"]] = [(c["case"], c["status"], c["reason"][:200]) for c in mine]
        got[control["id"]] = rollup([Status(c["status"]) for c in mine]).value
    return got, cases


@pytest.fixture(scope="module")
def netns():
    """As root, the audits run in a network namespace with only loopback: the host's other
    listeners (another test's or another process's gateway) then never add HTTP endpoints to
    STO-06/STO-08 of a state whose own gateway is not running. The states' files and
    processes are read as before."""
    if os.geteuid() != 0:
        yield None
        return
    with loopback_netns("aiaudit-ocreal") as name:
        yield name


@pytest.fixture(scope="module")
def audits(tmp_path_factory, netns):
    root = tmp_path_factory.mktemp("openclaw") / "states"
    states = openclaw_states.build(root)
    backups = states.pop("backups")
    from aiaudit.hostfs import HostFS
    from aiaudit.supply_chain.discovery import discover
    from aiaudit.supply_chain.settings import parse_settings

    def audit(name: str) -> tuple[Path, dict]:
        home = states[name]
        approved = []
        if name == "hardened":  # the operator reviewed the one skill and recorded its hash
            settings = parse_settings({"home_dirs": [str(home)],
                                       "openclaw_state_dirs": [f"{home}/.openclaw"]})
            inv = discover(HostFS("local"), settings)
            approved = [(s.path, s.content_sha256) for s in inv.skills]
        config = audit_config(root, name, approved, backups)
        if name == "hardened":  # SUP-07: the reviewed MCP servers and skills are approved
            run_suite(config, root / "approve-hardened", "--approve-baseline",
                      controls=("SUP-07",), netns=netns)
        return home, run_suite(config, root / f"report-{name}", netns=netns)

    # The states share nothing (each audit.toml scopes one state's home and baseline): their
    # audits run at once, one core each.
    with ThreadPoolExecutor(len(states)) as pool:
        results = dict(zip(states, pool.map(audit, states), strict=True))
    yield results
    shutil.rmtree(backups, ignore_errors=True)


@pytest.mark.parametrize("state", ["vulnerable", "hardened"])
def test_every_listed_control_has_its_expected_status(audits, state):
    home, doc = audits[state]
    got, cases = statuses(doc, home)
    want = {cid: v for cid, v in EXPECTED[state].items()}
    mismatches = {cid: (w, got.get(cid)) for cid, w in want.items() if got.get(cid) != w}
    assert not mismatches, f"(expected, got): {mismatches}; cases: " + json.dumps(
        {cid: cases.get(cid) for cid in mismatches}, indent=1)[:6000]


def test_no_pass_without_what_it_read(audits):
    """A PASS names what it read: its evidence is never empty."""
    for state, (home, doc) in audits.items():
        for control in doc["controls"]:
            for case in control["cases"]:
                if belongs(case, home) and case["status"] == "PASS":
                    assert case["evidence"], f"{state} {control['id']} {case['case']}"
