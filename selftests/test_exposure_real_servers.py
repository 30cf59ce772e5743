"""Risk 1 against real servers installed from the registries (aiaudit/lab/realservers.py):
LiteLLM (open and with master_key), MLflow, Gradio (open and with its login), the Ray
dashboard, the Hermes Agent API server, the OpenClaw gateway, llama-cpp-python in embedding
mode, Jupyter Server (token auth and none), and nginx, HAProxy, Apache httpd and Traefik as
authenticating TLS proxies. With AIAUDIT_HEAVY=1 (opt-in, not in CI: bin/setup-heavy
installs them) also Langflow (open and with its login), when its install is there.

One network-only audit of the whole namespace (tests_exposure) and exact EXP-02/03/06/07
statuses per endpoint. Why each status is right is said next to it, from what the real
software answered (the fixtures recorded from the same lab are in
selftests/fixtures/exposure/answers/).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
]

CONTROLS = ("EXP-02", "EXP-03", "EXP-06", "EXP-07")


def _st(exp02: str, exp03: str, exp06: str, exp07: str) -> dict[str, str]:
    return dict(zip(CONTROLS, (exp02, exp03, exp06, exp07), strict=True))


# port -> (what discovery must name there, statuses). Reached directly, every server fails
# EXP-03 (no proxy in front), whatever its own auth; behind the four proxies everything
# passes (the proxy's own 401, TLS, the API answers through it with the credential).
EXPECTED: dict[int, tuple[str, dict[str, str]]] = {
    # open: /model/info and /v1/models answer; Starlette CORS answers "*" to a preflight
    4000: ("LiteLLM proxy", _st("FAIL", "FAIL", "FAIL", "FAIL")),
    # master_key: 401 auth_error; the "*" preflight is harmless once credentials are needed.
    # An empty POST on /v1/chat/completions is refused 401 too (user_api_key_auth before
    # the body; seen on 1.108.7): PASS
    4001: ("LiteLLM proxy", _st("PASS", "FAIL", "PASS", "PASS")),
    # no auth app: experiments/search answers; MLflow 3's CORS allows no foreign origin
    5000: ("MLflow tracking server", _st("FAIL", "FAIL", "PASS", "FAIL")),
    # open: /config answers; Gradio reflects any Origin with Allow-Credentials: true
    7860: ("Gradio app", _st("FAIL", "FAIL", "FAIL", "FAIL")),
    # auth=(...): /config 401, but the Origin is reflected with credentials all the same
    7861: ("Gradio app", _st("PASS", "FAIL", "FAIL", "PASS")),
    # llama-cpp-python --embedding: open, permissive CORS; no management API in the catalog
    8002: ("llama-cpp-python server", _st("FAIL", "FAIL", "FAIL", "NOT_APPLICABLE")),
    # no auth in Ray; no CORS headers; /api/jobs/ would run code
    8265: ("Ray dashboard", _st("FAIL", "FAIL", "PASS", "FAIL")),
    # API_SERVER_KEY (it refuses to start without one); no CORS origins configured. Its
    # agent routes run _check_auth before the body (_admit_api_agent_request in
    # gateway/platforms/api_server.py): an empty POST on /v1/chat/completions is 401: PASS
    8642: ("Hermes Agent API server", _st("PASS", "FAIL", "PASS", "PASS")),
    # --auth token (it refuses `--bind lan --auth none`); /v1/models 401.
    # handleGatewayPostJsonEndpoint (src/gateway/http-endpoint-helpers.ts) runs
    # authorizeGatewayHttpRequestOrReply before reading the body: an empty POST is 401: PASS
    18789: ("OpenClaw gateway", _st("PASS", "FAIL", "PASS", "PASS")),
    # token auth (its default): /api/status and /api/kernels 403; a foreign Origin is
    # refused ("Blocking Cross Origin API request"), no CORS header
    8888: ("Jupyter", _st("PASS", "FAIL", "PASS", "PASS")),
    # empty token, no password: /api/status and /api/kernels answer, kernels (code) open
    8889: ("Jupyter", _st("FAIL", "FAIL", "PASS", "FAIL")),
    8081: ("MLflow tracking server behind nginx", _st("PASS", "PASS", "PASS", "PASS")),
    8082: ("Ray dashboard behind HAProxy", _st("PASS", "PASS", "PASS", "PASS")),
    8083: ("Gradio app behind Apache httpd", _st("PASS", "PASS", "PASS", "PASS")),
    8084: ("LiteLLM proxy behind Traefik", _st("PASS", "PASS", "PASS", "PASS")),
}


# AIAUDIT_HEAVY=1 only (aiaudit/lab/realservers.py: heavy=True), by lab key
EXPECTED_HEAVY: dict[str, tuple[int, str, dict[str, str]]] = {
    # AUTO_LOGIN + SKIP_AUTH_AUTO_LOGIN: a caller without credentials is the superuser
    # (langflow/services/auth/service.py), so users/whoami answers; the default CORS origin
    # "*" (credentials forced off, langflow/main.py) on an API that needs no credentials
    "langflow-open": (7870, "Langflow", _st("FAIL", "FAIL", "FAIL", "FAIL")),
    # release default AUTO_LOGIN=false: whoami and the flow list answer 403 "No
    # authentication credentials provided";
    # "*" without credentials is harmless there
    "langflow-login": (7871, "Langflow", _st("PASS", "FAIL", "PASS", "PASS")),
}


def _heavy_expected() -> dict[int, tuple[str, dict[str, str]]]:
    from aiaudit.lab.realservers import servers

    running = {s.key for s in servers()}
    return {port: (name, st) for key, (port, name, st) in EXPECTED_HEAVY.items()
            if key in running}


if os.environ.get("AIAUDIT_HEAVY", "") not in ("", "0"):
    EXPECTED.update(_heavy_expected())


def lab(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "aiaudit.lab", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def real_audit(tmp_path_factory):
    try:
        up = json.loads(lab("up", "real").strip().splitlines()[-1])
        report_dir = tmp_path_factory.mktemp("exposure-real")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", f"--target={up['target']}",
             f"--audit-config={up['config']}", f"--report-dir={report_dir}",
             "-p", "no:cacheprovider", "-q", "tests_exposure"],
            cwd=ROOT, capture_output=True, text=True, timeout=900,
        )
        doc = json.loads((report_dir / "latest.json").read_text())
        logs = Path(up["config"]).parent / "logs"
        yield {"proc": proc, "json": doc, "logs": logs, "target": up["target"]}
    finally:
        lab("down", "real")


def _cases(doc: dict, cid: str) -> dict[int, dict]:
    """The control's cases by the endpoint port they name (`name@addr:port`)."""
    control = next(c for c in doc["controls"] if c["id"] == cid)
    out = {}
    for case in control["cases"]:
        found = re.search(r":(\d+)$", case["case"])
        if found:
            out[int(found.group(1))] = case
    return out


@pytest.mark.parametrize("cid", CONTROLS)
@pytest.mark.parametrize("port", sorted(EXPECTED))
def test_exact_status_per_real_server(real_audit, port, cid):
    name, statuses = EXPECTED[port]
    case = _cases(real_audit["json"], cid).get(port)
    assert case is not None, f"{cid}: no case for :{port} ({name})"
    assert case["status"] == statuses[cid], (name, case["status"], case.get("reason"),
                                             case.get("evidence"))
    assert case["evidence"], case


@pytest.mark.parametrize("port", sorted(EXPECTED))
def test_each_real_server_is_named_as_itself(real_audit, port):
    name, _ = EXPECTED[port]
    case = _cases(real_audit["json"], "EXP-02")[port]
    assert case["evidence"]["identified as"].startswith(name), case["evidence"]


def test_no_extra_endpoint_was_reported(real_audit):
    assert set(_cases(real_audit["json"], "EXP-02")) == set(EXPECTED)


def test_litellm_never_got_its_costly_health_call(real_audit):
    """LiteLLM's GET /health calls every configured model: its own access log (uvicorn)
    shows the audit's requests but not that one."""
    text = (real_audit["logs"] / "litellm-open.log").read_text(errors="replace")
    assert re.search(r'"GET /health/liveliness HTTP', text)
    assert not re.search(r'"GET /health HTTP', text)
