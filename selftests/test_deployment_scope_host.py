"""Acceptance of the deployment scope: one Hermes home is audited on a host that also runs
another Hermes deployment; only the scoped one is judged, the other is listed under "also
seen on the host" (JSON `also_seen` and the HTML report).

Both deployments are real Hermes Agent 0.19.0 gateways (`hermes gateway run`, each in a
network namespace of its own, as two lab slots are), with the config.yaml and .env recorded
from a real planted Hermes state (selftests/fixtures/hermes/vulnerable: literal keys, the
API server on 0.0.0.0). The scoped one uses its user's default home (`$HOME/.hermes`), the
other one `HERMES_HOME` under another name. The audit runs in the scoped deployment's
namespace with `[deployment] homes = [<its user home>]`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "hermes" / "vulnerable"
HERMES = Path(os.environ.get("AIAUDIT_HERMES_VENV", "/opt/aiaudit-fw/hermes")) / "bin/hermes"
TESTS = ["tests_storage", "tests_supply_chain/test_sup01_provenance.py",
         "tests_supply_chain/test_sup05_sandbox.py", "tests_supply_chain/test_sup06_egress.py",
         "tests_exposure/test_exp01_loopback_binding.py"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not HERMES.exists():
        return f"hermes-agent is not installed at {HERMES} (bin/setup installs it)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def _gateway(netns: str, hermes_home: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    shutil.copytree(FIX, hermes_home)
    with log.open("wb") as out:
        return subprocess.Popen(["ip", "netns", "exec", netns, str(HERMES), "gateway", "run"],
                                env={"PATH": os.environ["PATH"], **env}, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def _wait_started(procs: dict[str, subprocess.Popen], homes: dict[str, Path]) -> None:
    """Each gateway is up once it has written its state (gateway_state.json)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if all((homes[n] / "gateway_state.json").exists() for n in homes):
            return
        dead = [n for n, p in procs.items() if p.poll() is not None]
        assert not dead, f"hermes gateway {dead} exited"
        time.sleep(1)
    raise AssertionError("the hermes gateways did not start within 180 s")


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    root = tmp_path_factory.mktemp("scope-host")
    tag = f"aiaudit-scope-{os.getpid()}"
    scoped_home, other_home = root / "alice", root / "srv" / "bob-agent"
    homes = {"scoped": scoped_home / ".hermes", "other": other_home}
    procs: dict[str, subprocess.Popen] = {}
    try:
        scoped_home.mkdir()
        procs["scoped"] = _gateway(f"{tag}-a", homes["scoped"], {"HOME": str(scoped_home)},
                                   root / "scoped.log")
        procs["other"] = _gateway(f"{tag}-b", homes["other"],
                                  {"HOME": str(root), "HERMES_HOME": str(other_home)},
                                  root / "other.log")
        _wait_started(procs, homes)
        config = root / "audit.toml"
        config.write_text(f'[deployment]\nhomes = ["{scoped_home}"]\n')
        reports = root / "reports"
        proc = subprocess.run(
            ["ip", "netns", "exec", f"{tag}-a", sys.executable, "-m", "pytest", *TESTS,
             "--target=local", f"--audit-config={config}", f"--report-dir={reports}",
             "--profile=quick", "-p", "no:cacheprovider", "-q"],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert (reports / "latest.json").exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
        yield {"doc": json.loads((reports / "latest.json").read_text()),
               "html": (reports / "latest.html").read_text(), "homes": homes,
               "stdout": proc.stdout,
               "pids": {n: p.pid for n, p in procs.items()}}
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for suffix in ("a", "b"):
            subprocess.run(["ip", "netns", "del", f"{tag}-{suffix}"], capture_output=True)


def _cases(doc: dict) -> dict[str, list[dict]]:
    return {c["id"]: c["cases"] for c in doc["controls"]}


def _traces(stdout: str) -> str:
    """The audit's internal-error tracebacks (pytest prints them with the failing case):
    a discovery that broke says where, not only that a case is missing."""
    start = stdout.find("Traceback")
    return stdout[start:start + 6000] if start >= 0 else "(no traceback in the audit's output)"


def test_only_the_scoped_deployment_is_judged(audit):
    other, pid = str(audit["homes"]["other"]), str(audit["pids"]["other"])
    for cid, cases in _cases(audit["doc"]).items():
        for case in cases:
            text = json.dumps({k: case[k] for k in ("case", "reason", "evidence")})
            assert other not in text, (cid, case["case"])
            assert f'"{pid}"' not in text and f"pid {pid} " not in text, (cid, case["case"])


def test_the_scoped_deployment_is_judged(audit):
    mine = str(audit["homes"]["scoped"])
    cases = _cases(audit["doc"])

    def statuses(cid: str) -> set[str]:
        return {c["status"] for c in cases[cid] if mine in json.dumps(c)}

    assert "FAIL" in statuses("STO-04")  # the literal keys in its config.yaml and .env
    assert "FAIL" in statuses("SUP-05")  # Hermes' local terminal backend: no sandbox
    # its configured bind (0.0.0.0) is judged
    assert statuses("EXP-01"), (json.dumps(cases["EXP-01"])[:3000] + "\n"
                                + _traces(audit["stdout"]))
    # its own gateway process is the one SUP-06 judges (by pid)
    egress = json.dumps(cases["SUP-06"])
    assert f'\\"{audit["pids"]["scoped"]}\\"' in egress, egress[:2000]


def test_the_other_deployment_is_also_seen(audit):
    seen = audit["doc"]["also_seen"]
    other = str(audit["homes"]["other"])
    dirs = [s for s in seen if s["kind"] == "state dir" and s["where"] == other]
    assert dirs and dirs[0]["product"] == "hermes", seen
    assert f"pid {audit['pids']['other']}" in dirs[0]["found_by"]
    procs = [s for s in seen if s["kind"] == "process"
             and s["where"].startswith(f"pid {audit['pids']['other']} ")]
    assert procs and "gateway run" in procs[0]["where"], seen
    assert not any(str(audit["homes"]["scoped"]) in s["where"] for s in seen)
    assert "Also seen on the host" in audit["html"] and other in audit["html"]
