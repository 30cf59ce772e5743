"""Fleets: many targets in one command, audited concurrently, one report per target plus a
fleet report (targets x controls, worst first).

`--target` may be given many times or as `@FILE` (one spec per line, `#` comments). Each
target is audited by its own pytest process: a session's state (host connection, caches,
HTTP client, budgets) belongs to one target, and a slow or dead host then blocks nobody but
itself. `--fleet-jobs N` bounds how many run at once (the work is mostly waiting on the
network and SSH, so more than the cores pays). `--shard I/N` keeps every N-th target from the
I-th, for a CI job matrix; `python -m aiaudit.report merge DIR...` joins the shards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiaudit.ansible_inventory import inventory_specs, is_inventory
from aiaudit.report.fleet_report import write_fleet_report
from aiaudit.target import TargetError, parse_target

FLEET_CHILD = "AIAUDIT_FLEET_CHILD"  # set in each target's run: it must not fan out again
# Options of the parent run that each target's run must not inherit (it gets its own).
_PARENT_ONLY = ("--target", "--fleet-jobs", "--shard", "--report-dir", "--sarif",
                "--junitxml", "--junit-xml", "--html", "--baseline",
                # pytest-xdist's: in a fleet, -n is the number of targets audited at once
                "-n", "--numprocesses", "--maxprocesses", "--dist")
MAX_AUTO_JOBS = 16  # -n auto: every target at once, up to this many


@dataclass(frozen=True)
class TargetRun:
    spec: str
    report_dir: Path
    returncode: int
    seconds: float
    error: str = ""


def expand_targets(values: list[str]) -> list[str]:
    """`--target` values with `@FILE` lists expanded; duplicates dropped, order kept."""
    specs: list[str] = []
    for value in values:
        if value.startswith("@"):
            path = Path(value[1:])
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise TargetError(f"--target {value}: cannot read: {exc.strerror or exc}") \
                    from None
            if is_inventory(path, lines):
                for spec in inventory_specs(path):
                    try:
                        parse_target(spec)
                    except TargetError as exc:
                        raise TargetError(f"{path}: {exc}") from None
                    specs.append(spec)
                continue
            for n, line in enumerate(lines, 1):
                spec = line.split("#", 1)[0].strip()
                if not spec:
                    continue
                try:
                    parse_target(spec)
                except TargetError as exc:
                    raise TargetError(f"{path}:{n}: {exc}") from None
                specs.append(spec)
        else:
            parse_target(value)
            specs.append(value)
    seen: set[str] = set()
    return [s for s in specs if not (s in seen or seen.add(s))]


def shard(specs: list[str], option: str | None) -> list[str]:
    """`I/N`: the I-th of N shards (1-based), every N-th target from the I-th."""
    if not option:
        return specs
    try:
        index, total = (int(x) for x in option.split("/", 1))
    except ValueError:
        raise TargetError(f"--shard {option!r}: use I/N, e.g. 2/3") from None
    if not 1 <= index <= total:
        raise TargetError(f"--shard {option!r}: I must be between 1 and N")
    return specs[index - 1::total]


def child_args(args: list[str]) -> list[str]:
    """The parent's command line minus the options each target run gets on its own."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _PARENT_ONLY:
            skip = "=" not in arg
            continue
        if arg in ("-d", "--distload") or (arg.startswith("-n") and len(arg) > 2
                                             and not arg.startswith("--")):
            continue  # xdist's flag; -n4, -nauto
        out.append(arg)
    return out


def fleet_jobs(numprocesses: int | str | None, fleet_jobs: int, targets: int) -> int:
    """How many targets are audited at once: pytest-xdist's `-n N` when given (`auto` and
    `logical`: every target, at most MAX_AUTO_JOBS), else `--fleet-jobs`. Each target is
    one worker of its own, so a slow or dead host occupies one of the N and nothing else."""
    if numprocesses in ("auto", "logical"):
        return max(1, min(targets, MAX_AUTO_JOBS))
    if numprocesses:
        return int(numprocesses)
    return max(1, fleet_jobs)


def audit_one(spec: str, args: list[str], report_root: Path, timeout: float) -> TargetRun:
    """One target's audit in its own pytest process, reports in REPORT_ROOT/<slug>/."""
    report_dir = report_root / parse_target(spec).slug
    started, wall = time.monotonic(), time.time()
    cmd = [sys.executable, "-m", "pytest", f"--target={spec}", f"--report-dir={report_dir}",
           *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, FLEET_CHILD: "1"})
        rc, error = proc.returncode, ""
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines() or ["no output"]
        latest = report_dir / "latest.json"
        if not latest.exists() or latest.stat().st_mtime < wall:
            error = f"no report written (exit {rc}): {last[-1][:300]}"
    except subprocess.TimeoutExpired:
        rc, error = -1, f"audit did not finish within {timeout:.0f} s"
    return TargetRun(spec, report_dir, rc, time.monotonic() - started, error)


def run_fleet(specs: list[str], args: list[str], report_root: Path, jobs: int,
              timeout: float = 3600) -> tuple[list[TargetRun], dict]:
    """Audit every target concurrently; write the fleet report; return runs and its JSON."""
    report_root.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        runs = list(pool.map(lambda s: audit_one(s, args, report_root, timeout), specs))
    reports = []
    for run in runs:
        path = run.report_dir / "latest.json"
        doc = None if run.error else json.loads(path.read_text())
        reports.append((run.spec, doc, run.error, run.report_dir))
    fleet = write_fleet_report(report_root, reports)
    return runs, fleet
