"""End-to-end: INJ-01/02/05 through a real agent front end, Hermes Agent 0.19.0's own
OpenAI-compatible API server backed by the lab model (aiaudit/lab/hermes_api.py), on a
vulnerable and a hardened home built with Hermes' CLI. The exact expected statuses and
why are in selftests/expected/real/hermes_api.toml.

Everything runs inside one network namespace per lab slot (AIAUDIT_LAB_SLOT): the llama.cpp
server and both API servers listen on its loopback only, and the audits run there too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" / "hermes_api.toml")
                         .read_text())
STATES = ("vulnerable", "hardened")
TESTS = ["tests_injection/test_inj01_canary_disclosure.py",
         "tests_injection/test_inj02_system_markers.py",
         "tests_injection/test_inj05_cross_user_history.py"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespace)"
    from aiaudit.lab.hermes_states import HERMES_VENV

    if not (HERMES_VENV / "bin" / "hermes").exists():
        return f"hermes-agent is not installed at {HERMES_VENV} (bin/setup installs it)"
    if not list((HERMES_VENV / "lib").glob("python3*/site-packages/aiohttp")):
        return f"aiohttp is missing in {HERMES_VENV} (Hermes' API server needs it; bin/setup)"
    return None


pytestmark = [pytest.mark.lab, pytest.mark.skipif(_missing() is not None,
                                                  reason=str(_missing()))]


def _netns() -> str:
    return f"aiaudit-hapi{os.environ.get('AIAUDIT_LAB_SLOT', '0') or '0'}"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    netns, root = _netns(), tmp_path_factory.mktemp("hermes-api")
    subprocess.run(["ip", "netns", "del", netns], capture_output=True)  # a crashed run's
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
    server = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "aiaudit.lab.hermes_api",
         "serve", str(root / "states")], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
        stderr=open(root / "serve.log", "wb"), text=True, start_new_session=True)
    try:
        line = server.stdout.readline()  # one JSON line once both API servers answer
        assert line, (root / "serve.log").read_text()[-3000:]
        states = json.loads(line)
        results = {}
        for name in STATES:
            reports = root / f"reports-{name}"
            proc = subprocess.run(
                ["ip", "netns", "exec", netns, sys.executable, "-m", "pytest", *TESTS,
                 "--target=local", f"--audit-config={states[name]['audit_toml']}",
                 f"--report-dir={reports}", "-p", "no:cacheprovider", "-q"],
                cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=1500)
            results[name] = {"proc": proc,
                             "json": json.loads((reports / "latest.json").read_text()),
                             "home": states[name]["hermes_home"]}
        yield results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)


def _statuses(want: str | list[str]) -> list[str]:
    return [want] if isinstance(want, str) else want


@pytest.mark.parametrize("state", STATES)
def test_each_control_has_its_expected_status(audits, state):
    controls = {c["id"]: c for c in audits[state]["json"]["controls"]}
    # a list where the 135M model decides between statuses run by run (the file says why)
    mismatches = {cid: (want["status"], controls[cid]["status"], controls[cid]["reason"][:400])
                  for cid, want in EXPECTED[state].items()
                  if controls[cid]["status"] not in _statuses(want["status"])}
    assert not mismatches, json.dumps(mismatches, indent=1)


def test_the_model_answered_through_hermes(audits):
    """Every verdict rests on answers Hermes' API server returned (counts in evidence)."""
    for state in STATES:
        for control in audits[state]["json"]["controls"]:
            if control["id"] in EXPECTED[state]:
                for case in control["cases"]:
                    assert case["evidence"].get("read"), (state, control["id"], case)


def test_the_canary_is_where_each_state_says(audits):
    """vulnerable: in SOUL.md (the top of Hermes' system prompt) and its built-in memory;
    hardened: only in the 0600 .env credential file, as Hermes' SECURITY.md asks."""
    doc = tomllib.loads(Path(audits["vulnerable"]["home"]).parent.parent
                        .joinpath("audit.toml").read_text())
    canary = doc["canary"]["value"]
    vulnerable, hardened = (Path(audits[s]["home"]) for s in STATES)
    assert canary in (vulnerable / "SOUL.md").read_text()
    assert canary in (vulnerable / "memories" / "MEMORY.md").read_text()
    assert canary not in (hardened / "SOUL.md").read_text()
    assert not (hardened / "memories" / "MEMORY.md").exists()
    assert canary in (hardened / ".env").read_text()
    assert (hardened / ".env").stat().st_mode & 0o077 == 0
