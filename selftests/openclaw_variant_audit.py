"""Audit one OpenClaw state as a user would: `pytest tests_storage tests_supply_chain
tests_exposure --target=local` with a `[deployment]` audit config naming it, and return the
status per listed control.

    python3 -m selftests.openclaw_variant_audit HOME_OR_DIR [...] [--backups DIR]

prints one line per control. Used by selftests/test_openclaw_variants.py on the recorded
variants and by hand on freshly built ones (aiaudit.lab.openclaw_variants).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from aiaudit.status import Status, rollup

ROOT = Path(__file__).resolve().parent.parent
CONTROLS = ("STO-01", "STO-02", "STO-03", "STO-04", "STO-05", "STO-06", "STO-07", "STO-08",
            "SUP-01", "SUP-02", "SUP-05", "SUP-07", "EXP-01")
TESTS = ("tests_storage", "tests_supply_chain",
         "tests_exposure/test_exp01_loopback_binding.py")


def config_text(homes: list[str], work: Path, backups: str | None = None) -> str:
    lines = ["[deployment]", f"homes = {json.dumps(homes)}", "",
             "[supply_chain]", f'baseline_file = "{work}/baseline.json"']
    if backups:
        lines += ["", "[storage]", f"backup_dirs = {json.dumps([backups])}"]
    return "\n".join(lines) + "\n"


def audit(homes: list[str], work: Path, backups: str | None = None,
          wrap: list[str] | None = None, root: Path = ROOT) -> dict:
    """The JSON report of one run over the listed controls."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "audit.toml"
    config.write_text(config_text(homes, work, backups))
    selected = " or ".join(c.lower().replace("-", "") for c in CONTROLS)
    reports = work / "reports"
    argv = [sys.executable, "-m", "pytest", *TESTS, "--target=local",
            f"--audit-config={config}", f"--report-dir={reports}", "--profile=quick",
            "-p", "no:cacheprovider", "-q", "-k", selected]
    if wrap:
        import shlex

        argv = [*wrap, shlex.join(argv)]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(root)})
    latest = reports / "latest.json"
    if not latest.exists():
        raise AssertionError(proc.stdout[-3000:] + proc.stderr[-2000:])
    return json.loads(latest.read_text())


def statuses(doc: dict) -> dict[str, str]:
    return {c["id"]: rollup([Status(x["status"]) for x in c["cases"]]).value
            for c in doc["controls"] if c["id"] in CONTROLS}


def cases(doc: dict, cid: str) -> list[tuple[str, str, str]]:
    control = next(c for c in doc["controls"] if c["id"] == cid)
    return [(c["case"], c["status"], c["reason"][:240]) for c in control["cases"]]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("homes", nargs="+")
    parser.add_argument("--backups")
    parser.add_argument("--work", type=Path, default=Path("/tmp/aiaudit-ocv"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--suite", type=Path, default=ROOT, help="the suite checkout to run "
                        "(another worktree: its verdicts before a change)")
    args = parser.parse_args()
    doc = audit(args.homes, args.work, args.backups, root=args.suite)
    for cid, status in statuses(doc).items():
        print(f"{cid} {status}")
        if args.verbose:
            for case in cases(doc, cid):
                print("   ", case)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
