"""Fleets on real lab hosts: twelve light hosts (aiaudit/lab/fleethosts.py: sshd and a real
llama-cpp-python server each) audited over SSH in one run with -n, the same fleet in three
CI shards merged back equal to it case by case, and baselines across real changes: a model
server opened on one host is exactly what is new (--fail-on new fails the fleet), closing it
is exactly what is resolved (the fleet passes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
]


def slots() -> tuple[int, ...]:
    """AIAUDIT_FLEET_SLOTS=9-20 (the default): which fleet slots the hosts take."""
    first, last = os.environ.get("AIAUDIT_FLEET_SLOTS", "9-20").split("-")
    return tuple(range(int(first), int(last) + 1))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from aiaudit.lab import fleethosts

    work = tmp_path_factory.mktemp("fleet")
    hosts = fleethosts.up(work / "hosts", slots())
    try:
        ssh = fleethosts.ssh_config(hosts, work / "ssh_config")
        config = work / "audit.toml"
        config.write_text(f'[ssh]\nconfig_file = "{ssh}"\n')
        listing = work / "fleet.txt"
        listing.write_text("# light lab hosts\n" + "\n".join(h.spec for h in hosts) + "\n")
        yield {"hosts": hosts, "config": config, "listing": listing, "work": work}
    finally:
        fleethosts.down(hosts, slots())


def audit(fleet: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--profile=quick", f"--audit-config={fleet['config']}", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


def cases(root: Path) -> dict[str, dict[str, str]]:
    """target -> {case key: status} from every target's own JSON report under a fleet dir."""
    doc = json.loads((root / "fleet.json").read_text())
    out = {}
    for row in doc["targets"]:
        assert not row["error"], row
        report = json.loads((root / row["json"]).read_text())
        out[row["target"]] = {c["key"]: c["status"] for ctl in report["controls"]
                              for c in ctl["cases"]}
    return out


def test_fleet_in_one_run_equals_its_three_shards_merged(fleet):
    work, specs = fleet["work"], [h.spec for h in fleet["hosts"]]
    whole = work / "whole"
    proc = audit(fleet, f"--target=@{fleet['listing']}", "-n", "auto",
                 f"--report-dir={whole}")
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    one_run = cases(whole)
    assert sorted(one_run) == sorted(specs)
    for host in fleet["hosts"]:
        # Each host's own server, found over SSH and on the network, nobody else's.
        binding = f"EXP-01|{host.spec}|llama-cpp-python_server@0.0.0.0:8000"
        assert one_run[host.spec][binding] == "FAIL", one_run[host.spec]
        named = [k.split("|", 2)[2] for k in one_run[host.spec]]
        assert not [n for n in named if "10.77." in n and host.ns.target_addr not in n]
        assert "ERROR" not in one_run[host.spec].values(), one_run[host.spec]
    shards = []
    for i in (1, 2, 3):
        d = work / f"shard{i}"
        proc = audit(fleet, f"--target=@{fleet['listing']}", f"--shard={i}/3", "-n", "auto",
                     f"--report-dir={d}")
        assert (d / "fleet.json").exists(), proc.stdout[-1500:] + proc.stderr[-1500:]
        shards.append(str(d))
    merged = work / "merged"
    proc = subprocess.run([sys.executable, "-m", "aiaudit.report", "merge", "--out",
                           str(merged), "--sarif", str(work / "merged.sarif"), *shards],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert cases(merged) == one_run
    whole_doc = json.loads((whole / "fleet.json").read_text())
    merged_doc = json.loads((merged / "fleet.json").read_text())
    strip = [{k: v for k, v in r.items() if k not in ("report", "json")}
             for r in whole_doc["targets"]]
    assert [{k: v for k, v in r.items() if k not in ("report", "json")}
            for r in merged_doc["targets"]] == strip
    sarif = json.loads((work / "merged.sarif").read_text())
    assert len(sarif["runs"]) == len(specs)


def test_service_opened_is_new_and_closed_is_resolved(fleet):
    """Runs after the whole-fleet run above: its per-target reports are the baselines."""
    from aiaudit.lab import fleethosts

    changed, quiet = fleet["hosts"][0], fleet["hosts"][1]
    # The two hosts come from an Ansible inventory, read through testinfra's ansible runner.
    listing = fleet["work"] / "inventory.ini"
    listing.write_text("[ai_hosts]\n" + "".join(
        f"fl{h.slot} ansible_host={h.ns.target_addr} ansible_user=root ansible_port=22\n"
        for h in (changed, quiet)) + "[ai_hosts:vars]\nansible_connection=ssh\n")
    whole = fleet["work"] / "whole"
    assert (whole / "fleet.json").exists(), "needs the whole-fleet run first"
    run = ("--target=@" + str(listing), "-n", "2", f"--report-dir={whole}",
           "--baseline=auto", "--fail-on=new")

    def diffs() -> dict[str, dict]:
        doc = json.loads((whole / "fleet.json").read_text())
        return {r["target"]: json.loads((whole / r["json"]).read_text())["diff"]
                for r in doc["targets"]}

    fleethosts.open_service(changed)
    try:
        proc = audit(fleet, *run)
        opened = diffs()
        new = {c["key"] for c in opened[changed.spec]["new"]}
        assert f"EXP-01|{changed.spec}|llama-cpp-python_server@0.0.0.0:8081" in new, opened
        # Exactly the new server's cases are new: on its address and port, nothing else.
        assert all(k.endswith(":8081") for k in new), new
        assert opened[changed.spec]["resolved"] == [] and opened[quiet.spec]["new"] == []
        assert proc.returncode == 1, proc.stdout[-2000:]
    finally:
        fleethosts.close_service(changed)
    proc = audit(fleet, *run)
    closed = diffs()
    assert {c["key"] for c in closed[changed.spec]["resolved"]} == new, closed
    assert closed[changed.spec]["new"] == [] and closed[quiet.spec]["new"] == []
    assert closed[quiet.spec]["resolved"] == []
    assert proc.returncode == 0, proc.stdout[-2000:]
