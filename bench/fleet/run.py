"""Fleet audit: N light lab hosts audited in one run vs one by one (as users script it).

Each target is a light lab host (aiaudit/lab/fleethosts.py): a network namespace with the
lab's real sshd and a real AI server (llama-cpp-python serving the lab model on all
interfaces, no key), which is what an SSH audit of an AI host touches. Both sides run the
same `pytest --profile quick` audit over SSH, with the same code (one SSH login per target
audit either way): "one by one" is a shell-style loop of `pytest --target=X`, each a fresh
Python process, as users script it; the fleet is one command `pytest --target=@FILE -n N`,
which loads pytest and the suite once and forks one audit per target, N at once (shared
work: the imports; concurrency: N audits waiting on SSH and the network at a time). Peak
memory is the largest summed RSS of the whole process tree (pytest, its target runs, their
ssh clients) seen while it runs. Needs root. Ends with `speedup: N.Nx` for the first `-n`
(with `--rounds K`, the median of K rounds, each one by one then the fleet runs).

    python3 bench/fleet/run.py --targets 12 -n 2 -n 12 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiaudit.lab import fleethosts  # noqa: E402


def tree_rss(root_pid: int) -> int:
    """Summed RSS (bytes) of root_pid and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(ppid, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total


def timed(cmd: list[str]) -> tuple[float, int, int]:
    """Wall seconds, peak tree RSS, exit code of one whole command."""
    started = time.monotonic()
    child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    peak = 0

    def sample() -> None:
        nonlocal peak
        while child.poll() is None:
            peak = max(peak, tree_rss(child.pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = child.wait()
    sampler.join()
    return time.monotonic() - started, peak, rc


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def one_round(common: list[str], specs: list[str], listing: Path, workers: list[str],
              work: Path) -> float | None:
    """One by one, then each fleet run; the first fleet's speedup (None: a target failed).
    Both sides of a round run back to back, so a change in the machine's load between
    rounds touches both."""
    seq_wall, seq_peak, seq_rcs = 0.0, 0, []
    for spec in specs:  # one by one, as a shell loop over the targets does it
        wall, peak, rc = timed([*common, f"--target={spec}",
                                f"--report-dir={work / 'seq' / spec[6:].replace(':', '-')}"])
        seq_wall += wall
        seq_peak = max(seq_peak, peak)
        seq_rcs.append(rc)
    print(f"one by one: {seq_wall:.1f} s wall in total, peak {seq_peak / 2**20:.0f} MB, "
          f"exit codes {sorted(set(seq_rcs))}, load {load()}", flush=True)
    walls = []
    for n in workers:
        out = work / f"fleet-n{n}"
        wall, peak, rc = timed([*common, f"--target=@{listing}", "-n", n,
                                f"--report-dir={out}"])
        fleet = json.loads((out / "fleet.json").read_text())
        errors = [r["target"] for r in fleet["targets"] if r["error"]]
        walls.append(wall)
        print(f"fleet (-n {n}): {wall:.1f} s wall, peak {peak / 2**20:.0f} MB, exit {rc}, "
              f"{len(fleet['targets'])} target reports, {len(errors)} without a report, "
              f"load {load()}, speedup {seq_wall / wall:.1f}x", flush=True)
        if errors:
            return None
    return seq_wall / walls[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=12, help="at most 12 (slots 9-20)")
    parser.add_argument("-n", dest="workers", action="append",
                        help="fleet run(s) with pytest -n N (default: 2); the first gives "
                        "the speedup line")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat both sides this many times; the speedup line is the "
                        "median of the rounds' (the machine is shared: load drifts)")
    args = parser.parse_args()
    workers = args.workers or ["2"]
    if os.geteuid() != 0:
        print("bench/fleet needs root (network namespaces)", file=sys.stderr)
        return 2
    slots = fleethosts.DEFAULT_SLOTS[:args.targets]
    work = Path(tempfile.mkdtemp(prefix="aiaudit-fleet-bench-"))
    try:
        hosts = fleethosts.up(work / "hosts", slots)
        config = work / "audit.toml"
        config.write_text(f'[ssh]\nconfig_file = "{fleethosts.ssh_config(hosts, work / "ssh")}"'
                          "\n")
        specs = [h.spec for h in hosts]
        listing = work / "targets.txt"
        listing.write_text("\n".join(specs) + "\n")
        common = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                  "--profile=quick", f"--audit-config={config}"]
        print(f"fleet: {len(specs)} light lab hosts (sshd + llama-cpp-python server each), "
              f"--profile quick, {os.cpu_count()} cores, load {load()}", flush=True)
        print("one by one = a shell loop of `pytest --target=X`, one fresh process per "
              "target, one after the other; fleet = one `pytest --target=@FILE -n N`: "
              "imports once, forks one audit per target, N at once; both: one SSH login "
              "per target audit, same code, same targets", flush=True)
        ratios: list[float] = []
        for round_no in range(1, args.rounds + 1):
            ratio = one_round(common, specs, listing, workers, work / f"round{round_no}")
            if ratio is None:
                return 1
            ratios.append(ratio)
        if args.rounds > 1:
            print(f"rounds: speedup (-n {workers[0]}) "
                  + ", ".join(f"{r:.1f}x" for r in ratios) + "; the median follows", flush=True)
        print(f"speedup: {statistics.median(ratios):.1f}x")
        return 0
    finally:
        fleethosts.down([], slots)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
