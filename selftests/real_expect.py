"""The exact-status check the real-framework e2e tests share: each control's cases that
belong to the audited state, rolled up, against the expected status in its toml file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiaudit.status import Status, rollup


def status_mismatches(doc: dict[str, Any], expected: dict[str, dict[str, str]],
                      mine: Callable[[dict[str, Any]], list[dict[str, Any]]]
                      ) -> dict[str, tuple[str, str, list[str]]]:
    """{control: (expected, got, its cases)} for every control whose rolled-up status over
    `mine(control)` differs from the expected one (NOT_RUN when it has no case)."""
    controls = {c["id"]: c for c in doc["controls"]}
    out = {}
    for cid, want in expected.items():
        cases = mine(controls[cid])
        got = rollup([Status(c["status"]) for c in cases]).value if cases else "NOT_RUN"
        if got != want["status"]:
            out[cid] = (want["status"], got,
                        [f"{c['case']}: {c['status']} {c['reason'][:300]}" for c in cases])
    return out


def per_dir_mismatches(expected: dict[str, dict[str, dict[str, str]]],
                       cases_of: Callable[[str, str], list[dict[str, Any]]],
                       skip: Callable[[str], bool] = lambda label: False) -> list[str]:
    """One line per (state dir, control) whose rolled-up status differs from the expected
    one: `expected` is {label: {control: {status, why}}}, `cases_of(control, label)` the
    control's cases of that dir."""
    wrong = []
    for label, controls in expected.items():
        if skip(label):
            continue
        for cid, want in controls.items():
            cases = cases_of(cid, label)
            got = rollup([Status(c["status"]) for c in cases]).value if cases else "NOT_RUN"
            if got != want["status"]:
                wrong.append(f"{label} {cid}: expected {want['status']} ({want['why']}), got "
                             f"{got}: " + "; ".join(f"{c['case']}: {c['reason'][:200]}"
                                                    for c in cases))
    return wrong


def passes_reading_nothing(docs: list[dict[str, Any]]) -> list[str]:
    """Every PASS case whose evidence counts nothing read (`read: files=0 rows=0 ...`)."""
    return [f"{control['id']} {case['case']}: {case['evidence'].get('read')}"
            for doc in docs for control in doc["controls"] for case in control["cases"]
            if case["status"] == "PASS" and not any(
                int(v.split("=")[1]) for v in case["evidence"].get("read", "x=0").split())]


ROOT = Path(__file__).resolve().parent.parent


def run_audit(base: Path, name: str, config: str, tests: tuple[str, ...] | list[str] = (),
              target: str = "local", wrap: list[str] | None = None) -> dict[str, Any]:
    """One real audit as a user runs it (`pytest [TESTS] --target=... --profile=quick`) with
    `config` as its audit config, in a subprocess (under `wrap`, e.g. capsh or runuser,
    when given); the JSON report. A run that wrote no report fails with its output."""
    cfg = base / f"{name}.toml"
    cfg.write_text(config)
    reports = base / f"reports-{name}"
    argv = [sys.executable, "-m", "pytest", *tests, "-p", "no:cacheprovider", "-q",
            "--profile=quick", f"--target={target}", f"--audit-config={cfg}",
            f"--report-dir={reports}"]
    if wrap:
        argv = [*wrap, " ".join(argv)]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    latest = reports / "latest.json"
    assert latest.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(latest.read_text())
