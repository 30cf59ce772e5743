"""Fleet audit: N light target hosts audited in one run vs one by one (as users script it).

Each target is a network namespace with a real sshd (the lab's) and a real AI server
(llama-cpp-python serving the lab model on all interfaces, no key): what an SSH audit of an
AI host touches. Both sides run the same `pytest --profile quick` audit; the "one by one"
side is a shell-style loop over the same targets, the fleet side is one command with
`--target=@FILE --fleet-jobs=J`. Peak memory is the largest summed RSS of the whole process
tree seen while it runs. Needs root. Ends with `speedup: N.Nx`.

    python3 bench/fleet/run.py --targets 12 --jobs 6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiaudit.lab import llm, netns, proc, sshd  # noqa: E402

PREFIX = "aiafleet"


def make_host(i: int, work: Path) -> tuple:
    ns = netns.NetNS(name=f"{PREFIX}{i}", host_veth=f"afh{i}", target_veth=f"aft{i}",
                     host_addr=f"10.79.{i}.1", target_addr=f"10.79.{i}.2")
    netns.create(ns)
    lab = work / f"host{i}"
    lab.mkdir(parents=True)
    files = sshd.prepare(lab, ns, hardened=False)
    pid_ssh, _ = sshd.start(files, ns, lab / "sshd.log")
    server, pid_llm, _ = llm.start(ns, lab, "0.0.0.0", None, lab / "llm.log")
    return ns, str(files.ssh_config), [pid_ssh, pid_llm], (server, pid_llm, lab, files)


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
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rc = child.wait()
    sampler.join()
    return time.monotonic() - started, peak, rc


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=6)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/fleet needs root (network namespaces)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="aiaudit-fleet-bench-"))
    hosts = []
    try:
        for i in range(1, args.targets + 1):
            hosts.append(make_host(i, work))
        for ns, _, _, (server, pid_llm, lab, files) in hosts:
            sshd.verify(files, ns)
            llm.wait_ready(ns, server, pid_llm, lab / "llm.log")
        ssh_config = work / "ssh_config"
        ssh_config.write_text("".join(Path(h[1]).read_text() for h in hosts))
        config = work / "audit.toml"
        config.write_text(f'[ssh]\nconfig_file = "{ssh_config}"\n')
        specs = [f"ssh://root@{h[0].target_addr}:22" for h in hosts]
        listing = work / "targets.txt"
        listing.write_text("\n".join(specs) + "\n")
        common = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                  "--profile=quick", f"--audit-config={config}"]
        print(f"fleet: {len(specs)} targets (sshd + llama-cpp-python server each), "
              f"--profile quick, {os.cpu_count()} cores")
        # One by one, as a shell loop over the targets would do it.
        seq_wall, seq_peak, seq_rcs = 0.0, 0, []
        for spec in specs:
            wall, peak, rc = timed([*common, f"--target={spec}",
                                    f"--report-dir={work / 'seq' / spec[-12:]}"])
            seq_wall += wall
            seq_peak = max(seq_peak, peak)
            seq_rcs.append(rc)
        fleet_wall, fleet_peak, fleet_rc = timed(
            [*common, f"--target=@{listing}", f"--fleet-jobs={args.jobs}",
             f"--report-dir={work / 'fleet'}"])
        fleet = json.loads((work / "fleet" / "fleet.json").read_text())
        errors = [r["target"] for r in fleet["targets"] if r["error"]]
        print(f"one by one: {seq_wall:.1f} s wall in total, peak {seq_peak / 2**20:.0f} MB, "
              f"exit codes {sorted(set(seq_rcs))}")
        print(f"fleet (--fleet-jobs={args.jobs}): {fleet_wall:.1f} s wall, peak "
              f"{fleet_peak / 2**20:.0f} MB, exit {fleet_rc}, {len(fleet['targets'])} "
              f"target reports, {len(errors)} without a report")
        print(f"speedup: {seq_wall / fleet_wall:.1f}x")
        return 0 if not errors else 1
    finally:
        for ns, *_ in hosts:
            netns.destroy(ns)
            proc.run(["ip", "link", "del", ns.host_veth], check=False)


if __name__ == "__main__":
    sys.exit(main())
