"""Benchmark: aiaudit's discovery + fingerprinting versus `nmap -sV` on the vulnerable lab.

    AIAUDIT_LAB_SLOT=N python3 bench/exposure_vs_nmap/run.py [--reps 3]

Both tools scan the same port list (the service catalog's default ports plus the lab's
extra ports) on the vulnerable deployment, alternately, `--reps` times each, as whole
processes. A packet tap on the lab's veth records every HTTP request line each tool sent.
Prints both wall times, the CPU seconds each used, the load average around the runs, which
lab services each named (and how many of them), what each sent, and ends with
`speedup: N.Nx`: the median of the per-pair ratios (nmap's run over the aiaudit run next to
it), which holds when the machine's load drifts between pairs. nmap's time is mostly its
probes' fixed waits, aiaudit's mostly CPU: on a machine whose cores are busy with other work
aiaudit's wall time stretches and nmap's barely moves, so the load average is printed too.
Brings the vulnerable lab up when it is not (and down again afterwards); needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiaudit.exposure.discovery import scanned_ports  # noqa: E402
from aiaudit.exposure.probes import declared_safe  # noqa: E402
from aiaudit.lab.tap import Tap  # noqa: E402

# What runs on the vulnerable lab, and what counts as naming it.
LAB_SERVICES = {
    8000: ("llama-cpp-python server", re.compile(r"(?i)llama")),
    8001: ("ChromaDB", re.compile(r"(?i)chroma")),
    8080: ("lab chat agent (OpenAI-compatible)", re.compile(r"(?i)openai|lab-agent")),
}


def lab(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "aiaudit.lab", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        sys.exit(f"lab {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], tap: Tap) -> tuple[float, float, str, list[tuple[str, str]]]:
    """(wall s, CPU s, stdout, HTTP requests seen on the wire) of one whole process."""
    before = len(tap.requests)
    cpu0 = _child_cpu()
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
    wall = time.monotonic() - start
    cpu = _child_cpu() - cpu0
    time.sleep(0.3)
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed: {proc.stderr.strip()[-500:]}")
    return wall, cpu, proc.stdout, [(m, t) for _p, m, t in tap.requests[before:]]


def nmap_names(xml: str) -> dict[int, str]:
    out = {}
    for port in ET.fromstring(xml).iter("port"):
        state = port.find("state")
        if state is None or state.get("state") != "open":
            continue
        svc = port.find("service")
        name = " ".join(filter(None, [svc.get(k) for k in ("name", "product", "version")])) \
            if svc is not None else ""
        out[int(port.get("portid", 0))] = name or "unknown"
    return out


def aiaudit_names(doc: dict) -> dict[int, str]:
    return {int(s["endpoint"].rsplit(":", 1)[1]): s["service"] for s in doc["services"]}


def named(names: dict[int, str]) -> list[str]:
    return [label for port, (label, rx) in LAB_SERVICES.items() if rx.search(names.get(port, ""))]


def summary(times: list[float]) -> str:
    return (f"median {statistics.median(times):.2f}s (min {min(times):.2f}s, "
            f"max {max(times):.2f}s, n={len(times)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="runs of each tool (default 3)")
    args = parser.parse_args()
    from aiaudit.lab.deploy import SPECS

    status = json.loads(lab("status"))["vulnerable"]
    started_lab = not status["ready"]
    if started_lab:
        print("bringing the vulnerable lab up ...", flush=True)
        config = json.loads(lab("up", "vulnerable").strip().splitlines()[-1])["config"]
    else:
        config = status["audit_config"]
    try:
        spec = SPECS["vulnerable"]
        target = spec.ns.target_addr
        extra = tomllib.loads(Path(config).read_text()).get("exposure", {}).get(
            "extra_ports", [])
        ports = scanned_ports(extra)
        port_list = ",".join(str(p) for p in ports)
        aiaudit_cmd = [sys.executable, "-m", "aiaudit.exposure.scan", target, "--json",
                       "--extra-ports", ",".join(str(p) for p in extra)]
        nmap_cmd = ["nmap", "-sV", "-Pn", "-n", "-p", port_list, "-oX", "-", target]
        print(f"target {target}, {len(ports)} ports: {port_list}")
        tap = Tap(spec.ns.host_veth, target)
        load_before = os.getloadavg()[0]
        a_times, n_times, a_cpu, n_cpu = [], [], [], []
        a_sent: list[tuple[str, str]] = []
        n_sent: list[tuple[str, str]] = []
        a_named: dict[int, str] = {}
        n_named: dict[int, str] = {}
        for i in range(args.reps):
            wall, cpu, out, sent = timed(aiaudit_cmd, tap)
            a_times.append(wall)
            a_cpu.append(cpu)
            a_sent, a_named = sent, aiaudit_names(json.loads(out))
            print(f"  run {i + 1}: aiaudit {wall:.2f}s, {cpu:.2f} CPU s ({len(sent)} requests)",
                  flush=True)
            wall, cpu, out, sent = timed(nmap_cmd, tap)
            n_times.append(wall)
            n_cpu.append(cpu)
            n_sent, n_named = sent, nmap_names(out)
            print(f"  run {i + 1}: nmap -sV {wall:.2f}s, {cpu:.2f} CPU s ({len(sent)} HTTP "
                  f"requests)", flush=True)
        tap.close()
        load_after = os.getloadavg()[0]
    finally:
        if started_lab:
            lab("down", "vulnerable")
    a_med, n_med = statistics.median(a_times), statistics.median(n_times)
    pairs = [n / a for a, n in zip(a_times, n_times, strict=True)]
    print()
    print(f"aiaudit discovery : {summary(a_times)}, CPU median {statistics.median(a_cpu):.2f}s")
    print(f"nmap -sV          : {summary(n_times)}, CPU median {statistics.median(n_cpu):.2f}s")
    print(f"ratio of medians nmap/aiaudit: {n_med / a_med:.1f}; per pair: "
          + ", ".join(f"{r:.1f}" for r in pairs))
    print(f"load average (1 min) on {os.cpu_count()} CPUs: {load_before:.1f} before, "
          f"{load_after:.1f} after")
    print()
    print(f"{'port':>6}  {'lab service':36} {'aiaudit named':32} nmap -sV named")
    for port, (label, _rx) in LAB_SERVICES.items():
        print(f"{port:>6}  {label:36} {a_named.get(port, '-'):32} {n_named.get(port, '-')}")
    print(f"lab services named: aiaudit {len(named(a_named))}/{len(LAB_SERVICES)}, "
          f"nmap -sV {len(named(n_named))}/{len(LAB_SERVICES)}")
    for tool, sent in (("aiaudit", a_sent), ("nmap -sV", n_sent)):
        unsafe = sorted({(m == "GET", f"{m} {t}") for m, t in sent if not declared_safe(m, t)})
        unsafe = [line for _get, line in unsafe]  # state-changing methods first
        methods = sorted({m for m, _t in sent})
        print(f"{tool}: {len(sent)} HTTP requests per run (methods {', '.join(methods)}); "
              f"{len(unsafe)} distinct outside aiaudit's safe lists"
              + (f", e.g. {'; '.join(unsafe[:4])}" if unsafe else ""))
    print(f"speedup: {statistics.median(pairs):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
