"""Fleets on real audit runs: many targets in one command, per-target reports plus the fleet
matrix, and CI shards merged back into the same fleet report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Network-only targets on loopback addresses where nothing listens: real, quick audits.
TARGETS = [f"127.0.0.{n}" for n in (21, 22, 23, 24)]


def pytest_run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--profile=quick", *args, "tests_exposure"],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def rows(fleet: dict) -> dict[str, tuple]:
    return {r["target"]: (r["verdict"], tuple(sorted(r["controls"].items())))
            for r in fleet["targets"]}


def test_fleet_run_then_shards_merged_equal_it(tmp_path):
    listing = tmp_path / "fleet.txt"
    listing.write_text("# staging AI hosts\n" + "\n".join(TARGETS[1:]) + "\n")
    whole = tmp_path / "whole"
    proc = pytest_run(f"--target={TARGETS[0]}", f"--target=@{listing}", "--fleet-jobs=4",
                      f"--report-dir={whole}", f"--sarif={tmp_path / 'fleet.sarif'}")
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    fleet = json.loads((whole / "fleet.json").read_text())
    assert sorted(r["target"] for r in fleet["targets"]) == TARGETS
    for row in fleet["targets"]:
        assert not row["error"], row
        doc = json.loads((whole / row["json"]).read_text())
        assert doc["target"] == row["target"] and len(doc["controls"]) == 27
        assert row["controls"]["EXP-01"] == next(
            c["status"] for c in doc["controls"] if c["id"] == "EXP-01")
        assert (whole / row["report"]).exists()
    html = (whole / "fleet.html").read_text()
    assert all(t in html for t in TARGETS) and 'id="aiaudit-fleet"' in html
    sarif = json.loads((tmp_path / "fleet.sarif").read_text())
    assert len(sarif["runs"]) == 4
    assert sum(line.startswith("aiaudit fleet: 127.0.0.") for line in
               proc.stdout.splitlines()) == 4
    # The same fleet in three CI shards, merged, equals the single run case by case.
    shard_dirs = []
    for i in (1, 2, 3):
        d = tmp_path / f"shard{i}"
        proc = pytest_run(f"--target=@{write_all(tmp_path)}", f"--shard={i}/3",
                          f"--report-dir={d}")
        assert (d / "fleet.json").exists(), proc.stdout[-1500:] + proc.stderr[-1500:]
        shard_dirs.append(d)
    sizes = [len(json.loads((d / "fleet.json").read_text())["targets"]) for d in shard_dirs]
    assert sizes == [2, 1, 1]
    merged = tmp_path / "merged"
    proc = subprocess.run([sys.executable, "-m", "aiaudit.report", "merge", "--out",
                           str(merged), *map(str, shard_dirs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert rows(json.loads((merged / "fleet.json").read_text())) == rows(fleet)


def write_all(tmp_path: Path) -> Path:
    path = tmp_path / "all.txt"
    path.write_text("\n".join(TARGETS) + "\n")
    return path


def test_bad_line_in_target_file_is_one_usage_line(tmp_path):
    listing = tmp_path / "fleet.txt"
    listing.write_text("127.0.0.21\nhttp://nope\n")
    proc = pytest_run(f"--target=@{listing}", f"--report-dir={tmp_path}", timeout=120)
    assert proc.returncode == 4
    assert f"{listing}:2: unsupported scheme" in proc.stderr and "Traceback" not in proc.stderr


def test_ansible_inventory_lists_the_fleet(tmp_path):
    """An inventory as @FILE, read by testinfra's ansible runner (ansible-inventory --list):
    group vars count, each host becomes the spec its connection variables describe."""
    from aiaudit.fleet import expand_targets
    from aiaudit.target import TargetError

    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[ai]\nweb1 ansible_host=10.0.0.5\nweb2 ansible_host=10.0.0.6 "
                         "ansible_port=2222\n[ai:vars]\nansible_user=audit\n"
                         "[local]\nlocalhost ansible_connection=local\n"
                         "[containers]\nollama ansible_connection=docker\n")
    assert expand_targets([f"@{inventory}"]) == [
        "local", "docker://ollama", "ssh://audit@10.0.0.5", "ssh://audit@10.0.0.6:2222"]
    keyed = tmp_path / "keyed.yml"
    keyed.write_text("all:\n  hosts:\n    h1:\n      ansible_ssh_private_key_file: /k\n")
    with pytest.raises(TargetError, match="host h1: ansible_ssh_private_key_file"):
        expand_targets([f"@{keyed}"])


def test_n_sizes_the_fleet_and_stays_with_the_parent():
    from aiaudit.fleet import MAX_AUTO_JOBS, child_args, fleet_jobs

    assert fleet_jobs(None, 4, 12) == 4 and fleet_jobs(2, 4, 12) == 2
    assert fleet_jobs("auto", 4, 12) == 12 and fleet_jobs("auto", 4, 40) == MAX_AUTO_JOBS
    assert child_args(["-n", "2", "-n3", "--numprocesses=4", "--dist", "load", "-d", "-q",
                       "--profile=quick"]) == ["-q", "--profile=quick"]


def test_target_over_its_time_limit_is_stopped_and_named(tmp_path):
    """A fleet's audits are forked children: one over the time limit gets SIGTERM (then
    SIGKILL), is reaped, and its row says why; the other target's audit is unaffected."""
    script = (
        "import json, sys; from pathlib import Path; from aiaudit.fleet import run_targets\n"
        "args = ['-p', 'no:cacheprovider', '-q', '--profile=quick', 'tests_exposure']\n"
        f"slow = run_targets(['127.0.0.31'], args, Path({str(tmp_path / 'a')!r}), 1, 0.5)\n"
        f"fine = run_targets(['127.0.0.32'], args, Path({str(tmp_path / 'b')!r}), 1)\n"
        "print(json.dumps([(r.spec, r.returncode, r.error) for r in slow + fine]))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (slow, rc, error), (fine, _, fine_error) = json.loads(proc.stdout.splitlines()[-1])
    assert (slow, rc, error) == ("127.0.0.31", -1, "audit did not finish within 0 s")
    assert fine == "127.0.0.32" and fine_error == ""
    assert (tmp_path / "b" / "127.0.0.32" / "latest.json").exists()


def test_metadata_read_once_lists_the_same_plugins():
    """The fleet reads the installed distributions' metadata once before it forks; what a
    forked audit's pytest then sees (names, pytest11 entry points, files) is what a fresh
    scan gives."""
    script = (
        "import json, importlib.metadata as m\n"
        "from aiaudit.fleet import shared_metadata\n"
        "def seen():\n"
        "    return sorted([d.metadata['Name'] or '', sorted(e.value for e in d.entry_points"
        " if e.group == 'pytest11'), len(d.files or [])] for d in m.distributions())\n"
        "before = seen(); shared_metadata(); after = seen()\n"
        "print(json.dumps([before == after, len(after), m.distributions.__module__,"
        " sum(1 for row in after if row[1])]))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    same, count, module, plugins = json.loads(proc.stdout.splitlines()[-1])
    assert same and count > 20 and plugins >= 3  # pytest-html, testinfra, aiaudit at least
    assert module == "aiaudit.fleet"  # the forked audits' scan is the read-once one


def test_html_template_compiled_once_renders_the_same():
    """The fleet compiles pytest-html's page template once: every audit gets that template
    object, and it renders what a freshly compiled one renders."""
    script = (
        "import json, pytest_html.plugin as p\n"
        "from pathlib import Path\n"
        "from aiaudit.fleet import shared_html_template\n"
        "res = [Path(p.__file__).parent / 'resources']\n"
        "fresh = p._read_template(res)\n"
        "shared_html_template()\n"
        "a, b = p._read_template(res), p._read_template(res)\n"
        "kw = dict(title='t', additional_summary={}, outcomes={}, table_head=[],"
        " prefix=[], summary=[], postfix=[], styles='', run_count='', running_state='',"
        " self_contained=False, test_data='{}', version='x', extras={})\n"
        "print(json.dumps([a is b, a is not fresh, a.render(**kw) == fresh.render(**kw)]))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == [True, True, True]
