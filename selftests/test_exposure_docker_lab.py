"""Docker deployments on the lab: the real llama-cpp-python server in real containers
(docker.io from Debian, a dockerd of the lab's own in its namespace), audited as
`--target=docker://NAME` and as `--target=local` on the Docker host.

open: `-p 5001:5001` (all interfaces), no key, no DOCKER-USER rule.
hard: `-p 127.0.0.1:5002:5001`, the server's own key, Caddy in front, a DOCKER-USER drop.
The DOCKER-USER verdict is checked against the wire too: from the auditor's side of the
namespace (routed like a LAN neighbour) the open container answers and the hard one does not.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
]


def _lab(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "aiaudit.lab", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _audit(lab: dict, target: str, report_dir: Path, config: Path | None) -> dict:
    argv = ["ip", "netns", "exec", lab["netns"], "env", f"DOCKER_HOST={lab['docker_host']}",
            sys.executable, "-m", "pytest", f"--target={target}", f"--report-dir={report_dir}",
            "-p", "no:cacheprovider", "-q", "tests_exposure/test_exp01_loopback_binding.py",
            "tests_exposure/test_exp02_unauthenticated_access.py",
            "tests_exposure/test_exp04_firewall.py"]
    if config:
        argv.append(f"--audit-config={config}")
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    doc = json.loads((report_dir / "latest.json").read_text())
    assert doc["counts"].get("ERROR", 0) == 0, done.stdout[-3000:]
    return {(c["id"], case["case"]): case for c in doc["controls"] for case in c["cases"]}


@pytest.fixture(scope="module")
def docker_lab(tmp_path_factory):
    try:
        lab = json.loads(_lab("up", "docker").strip().splitlines()[-1])
        conf = tmp_path_factory.mktemp("docker-conf") / "hard.toml"
        conf.write_text(f'[exposure]\nproxy_urls = ["{lab["proxy_url"]}"]\n'
                        f'proxy_auth_file = "{lab["token_file"]}"\n')
        audits = {}
        for name, target, config in (("open", f"docker://{lab['open']}", None),
                                     ("hard", f"docker://{lab['hard']}", conf),
                                     ("local", "local", conf)):
            audits[name] = _audit(lab, target, tmp_path_factory.mktemp(f"docker-{name}"),
                                  config)
        yield lab, audits
    finally:
        _lab("down", "docker")


def _statuses(cases: dict, control: str) -> dict[str, str]:
    return {case: c["status"] for (ctl, case), c in cases.items() if ctl == control}


def test_docker_target_open_fails_exp01_02_04(docker_lab):
    lab, audits = docker_lab
    cases, name = audits["open"], lab["open"]
    assert _statuses(cases, "EXP-01") == {
        "llama-cpp-python_server@0.0.0.0:5001": "FAIL",
        f"docker:{name}:0.0.0.0:5001_-_5001/tcp": "FAIL",
        f"docker:{name}:_::_:5001_-_5001/tcp": "FAIL"}
    pub = cases[("EXP-01", f"docker:{name}:0.0.0.0:5001_-_5001/tcp")]
    assert pub["evidence"]["container"] == name
    assert pub["evidence"]["image"] == "aiaudit-lab/bookworm-python3:1"
    assert "docker-proxy" in pub["evidence"]["docker-proxy"]
    assert "-j DNAT --to-destination" in pub["evidence"]["DNAT rule"]
    exp02 = _statuses(cases, "EXP-02")
    assert set(exp02.values()) == {"FAIL"} and len(exp02) == 2  # container address + host port
    assert "llama-cpp-python_server@127.0.0.1:5001" in exp02
    assert _statuses(cases, "EXP-04") == {
        f"docker:{name}:0.0.0.0:5001_-_5001/tcp": "FAIL",
        f"docker:{name}:_::_:5001_-_5001/tcp": "FAIL"}
    assert "DOCKER-USER does not drop it" in cases[
        ("EXP-04", f"docker:{name}:0.0.0.0:5001_-_5001/tcp")]["reason"]


def test_docker_target_hard_passes_exp01_02_04(docker_lab):
    lab, audits = docker_lab
    cases, name = audits["hard"], lab["hard"]
    assert _statuses(cases, "EXP-01") == {
        "llama-cpp-python_server@0.0.0.0:5001": "PASS",
        f"docker:{name}:127.0.0.1:5002_-_5001/tcp": "PASS"}
    # llama-cpp-python's own key refuses /v1/models, and an empty POST on
    # /v1/chat/completions too (Depends(authenticate) is solved before the body): PASS
    exp02 = _statuses(cases, "EXP-02")
    assert set(exp02.values()) == {"PASS"} and len(exp02) == 2
    assert "llama-cpp-python_server@127.0.0.1:5002" in exp02
    assert "with an empty body (nothing to generate) -> 401" in str(
        cases[("EXP-02", "llama-cpp-python_server@127.0.0.1:5002")])
    assert _statuses(cases, "EXP-04") == {f"docker:{name}:127.0.0.1:5002_-_5001/tcp": "PASS"}
    evidence = cases[("EXP-04", f"docker:{name}:127.0.0.1:5002_-_5001/tcp")]["evidence"]
    assert evidence["deciding rule"].startswith("-A DOCKER-USER -d ")
    assert evidence["deciding rule"].endswith("-j DROP")


def test_local_target_on_docker_host_judges_each_publication(docker_lab):
    lab, audits = docker_lab
    cases, open_, hard = audits["local"], lab["open"], lab["hard"]
    exp01 = _statuses(cases, "EXP-01")
    assert exp01[f"docker:{open_}:0.0.0.0:5001_-_5001/tcp"] == "FAIL"
    assert exp01[f"docker:{open_}:_::_:5001_-_5001/tcp"] == "FAIL"
    assert exp01[f"docker:{hard}:127.0.0.1:5002_-_5001/tcp"] == "PASS"
    exp02 = _statuses(cases, "EXP-02")
    assert exp02["llama-cpp-python_server@127.0.0.1:5001"] == "FAIL"
    assert exp02["llama-cpp-python_server@127.0.0.1:5002"] == "PASS"
    exp04 = _statuses(cases, "EXP-04")
    assert exp04[f"docker:{open_}:0.0.0.0:5001_-_5001/tcp"] == "FAIL"
    assert exp04[f"docker:{hard}:127.0.0.1:5002_-_5001/tcp"] == "PASS"
    assert exp04["127.0.0.1"] == "FAIL"  # the Docker host itself has no INPUT policy


def _connects(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def test_docker_user_verdict_matches_the_wire(docker_lab):
    """A neighbour that routes to the containers: Docker forwards to the open one (no INPUT
    rule would stop it) and DOCKER-USER drops the hard one, as EXP-04 said."""
    _lab_info, audits = docker_lab
    ips = {}
    for name in ("open", "hard"):
        listener = audits[name][("EXP-02", next(
            case for ctl, case in audits[name] if ctl == "EXP-02" and "@10.77." in case))]
        ips[name] = listener["case"].split("@", 1)[1].split(":")[0]
    assert _connects(ips["open"], 5001)
    assert not _connects(ips["hard"], 5001)
