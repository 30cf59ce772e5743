"""Risk 1 on the lab: the exposure controls' statuses and evidence on both deployments, and
the safety proof: every request the suite put on the wire is on a probe's declared safe list,
and their number stays under a stated budget.

What was sent is taken from outside the suite: a packet tap on the auditor's side of each
deployment's veth (plain HTTP) and Caddy's access log (TLS to the hardened proxy). The
suite's own request records are checked against both.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiaudit.exposure.probes import declared_safe
from aiaudit.lab.tap import Tap

ROOT = Path(__file__).resolve().parent.parent
#: The exposure controls' request budget for one deployment (standard profile): discovery
#: over 37 ports plus EXP-02/03/05/06 checks per AI endpoint. Defenders alert at ~100
#: requests in a few minutes; the suite stays under it.
REQUEST_BUDGET = 100

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
]


def lab(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "aiaudit.lab", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _caddy_requests(log: Path, since: float) -> list[tuple[str, str]]:
    out = []
    if not log.exists():
        return out
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("ts", 0) >= since:
            out.append((entry["request"]["method"], entry["request"]["uri"]))
    return out


@pytest.fixture(scope="module")
def exposure_audits(tmp_path_factory):
    from aiaudit.lab.deploy import SPECS

    results = {}
    try:
        for name in ("vulnerable", "hardened"):
            up = json.loads(lab("up", name).strip().splitlines()[-1])
            spec = SPECS[name]
            report_dir = tmp_path_factory.mktemp(f"exposure-{name}")
            tap = Tap(spec.ns.host_veth, spec.ns.target_addr)
            started = time.time()
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", f"--target={up['target']}",
                 f"--audit-config={up['config']}", f"--report-dir={report_dir}",
                 "-p", "no:cacheprovider", "-q", "tests_exposure"],
                cwd=ROOT, capture_output=True, text=True, timeout=600,
            )
            wire = tap.close()
            caddy_log = Path(up["config"]).parent / "logs" / "caddy-access.log"
            results[name] = {
                "proc": proc, "json": json.loads((report_dir / "latest.json").read_text()),
                "wire": wire, "caddy": _caddy_requests(caddy_log, started),
            }
        yield results
    finally:
        lab("down")


def _control(doc, cid):
    return next(c for c in doc["controls"] if c["id"] == cid)


EXPECTED = {"vulnerable": "FAIL", "hardened": "PASS"}


@pytest.mark.parametrize("deployment", list(EXPECTED))
@pytest.mark.parametrize("cid", [f"EXP-0{i}" for i in range(1, 8)])
def test_exposure_control_status_with_evidence(exposure_audits, deployment, cid):
    control = _control(exposure_audits[deployment]["json"], cid)
    assert control["status"] == EXPECTED[deployment], control["reason"]
    judged = [c for c in control["cases"] if c["status"] == EXPECTED[deployment]]
    assert judged and all(c["evidence"] for c in judged), control["cases"]


def test_vulnerable_evidence_names_what_is_wrong(exposure_audits):
    doc = exposure_audits["vulnerable"]["json"]
    cases = {(c["id"], k["case"]): k for c in doc["controls"] for k in c["cases"]}
    llm = "llama-cpp-python_server@10.77.{}.2:8000"
    slot = int(os.environ.get("AIAUDIT_LAB_SLOT", "0") or 0)
    llm = llm.format(10 * slot + 1)
    reads = cases[("EXP-02", llm)]["evidence"]["reads without credentials"]
    assert "GET /v1/models -> 200" in reads
    assert "reflects the arbitrary Origin" in cases[("EXP-06", llm)]["reason"]
    chroma = next(k for (cid, case), k in cases.items() if cid == "EXP-07" and "Chroma" in case)
    assert chroma["status"] == "FAIL" and "collections" in chroma["reason"]
    fw = next(k for (cid, _), k in cases.items() if cid == "EXP-04")
    assert "accepted by default" in fw["reason"]
    named = sorted(k["evidence"]["identified as"].split(" (")[0]
                   for (cid, _), k in cases.items() if cid == "EXP-02")
    assert named == ["Chroma 1.0.0", "OpenAI-compatible API", "llama-cpp-python server 0.3.36"]


def test_hardened_evidence_shows_proxy_tls_and_log(exposure_audits):
    doc = exposure_audits["hardened"]["json"]
    exp03 = _control(doc, "EXP-03")["cases"][0]["evidence"]
    assert "Caddy" in exp03["proxy"] and "-> 401" in exp03["without credentials"]
    assert "-> 200" in exp03["with credential"]
    assert "issuer" in exp03["TLS certificate"] and "Caddy" in exp03["TLS certificate"]
    exp02 = _control(doc, "EXP-02")["cases"][0]["evidence"]
    assert "proxy Caddy" in exp02["refused by"]
    assert "X-Forwarded-For/X-Real-IP/Forwarded/X-Client-IP: 127.0.0.1: 401" in exp02[
        "bypass attempts"]
    assert "policy drop" in _control(doc, "EXP-04")["cases"][0]["evidence"]["default deny from"]


@pytest.mark.parametrize("deployment", list(EXPECTED))
def test_every_request_on_the_wire_is_declared_safe(exposure_audits, deployment):
    run = exposure_audits[deployment]
    seen = [(m, t) for _port, m, t in run["wire"]] + run["caddy"]
    assert seen, "the tap saw no request at all"
    unsafe = [(m, t) for m, t in seen if not declared_safe(m, t)]
    assert not unsafe, f"requests outside the declared safe lists: {unsafe[:10]}"
    assert len(seen) <= REQUEST_BUDGET, f"{len(seen)} requests, budget {REQUEST_BUDGET}"


@pytest.mark.parametrize("deployment", list(EXPECTED))
def test_report_records_match_the_wire(exposure_audits, deployment):
    """The report's request appendix is complete: what it lists is what the tap and the
    proxy log saw (plain HTTP hops by the tap, TLS ones by Caddy)."""
    run = exposure_audits[deployment]
    records = run["json"]["requests"]
    listed = sorted((r["method"], re.sub(r"^https?://[^/]+", "", r["url"])) for r in records)
    seen = sorted([(m, t) for _p, m, t in run["wire"]] + run["caddy"])
    assert len(listed) == len(seen)
    assert all(declared_safe(m, t) for m, t in listed)
