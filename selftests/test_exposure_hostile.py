"""The exposure controls against hostile and deceptive servers, audited together.

Each server is a real socket on loopback (selftests/hostile_server.py) imitating a real
product (Ollama, vLLM, LM Studio, LiteLLM, KoboldCpp, nginx in front of Ollama, OpenSSH) and
then misbehaving: dripping bytes, streaming forever, 200 MB bodies, malformed JSON, script in
its banners, an auth_basic that X-Forwarded-For bypasses, no HTTP at all on an AI port.
The real suite audits them in a subprocess (`pytest tests_exposure --target=127.0.0.1`), as a
user would.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiaudit.config import load_config
from aiaudit.context import AuditContext
from aiaudit.exposure import providers
from aiaudit.exposure.discovery import NetService
from aiaudit.exposure.fingerprint import Answer, identify
from aiaudit.exposure.probes import declared_safe
from aiaudit.http import catalog_rule, denied_reason
from aiaudit.services import load_services
from aiaudit.target import parse_target
from selftests.hostile_server import (
    SCRIPT,
    HostileServer,
    OllamaDrip,
    not_read_only,
    ollama_routes,
    personas,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 6  # [exposure] host_budget_seconds for these audits
GRACE = 3  # what discovery and the checks may take beyond the slowest host's budget


def _config(path: Path, ports: dict[str, int], budget: float = BUDGET) -> Path:
    gateway = ports.get("xff-gateway")
    proxy = f'proxy_urls = ["http://127.0.0.1:{gateway}/"]\n' if gateway else ""
    path.write_text(f"[exposure]\nextra_ports = {sorted(ports.values())}\n{proxy}"
                    f"host_budget_seconds = {budget}\n")
    return path


def _audit_cmd(cfg: Path, report_dir: Path) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
            "--target=127.0.0.1", f"--audit-config={cfg}", f"--report-dir={report_dir}",
            "tests_exposure"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """All personas up at once, audited together once; the servers stay up for the tests."""
    sink = HostileServer().start()  # where the redirect trap points off the audited port
    servers = {name: HostileServer(persona=p).start()
               for name, p in personas(sink.port).items()}
    ports = {name: srv.port for name, srv in servers.items()}
    tmp = tmp_path_factory.mktemp("hostile-audit")
    cfg = _config(tmp / "audit.toml", ports)
    t0 = time.monotonic()
    proc = subprocess.run(_audit_cmd(cfg, tmp / "r"), cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    took = time.monotonic() - t0
    drip_connections = servers["drip"].connections
    doc = json.loads((tmp / "r" / "latest.json").read_text())
    cases = {}
    for control in doc["controls"]:
        for case in control["cases"]:
            port = re.search(r":(\d+)$", case["case"])
            name = next((n for n, p in ports.items() if port and int(port.group(1)) == p), None)
            cases[(control["id"], name or case["case"])] = case
    yield {"proc": proc, "doc": doc, "cases": cases, "took": took, "ports": ports,
           "servers": servers, "drip_connections": drip_connections, "sink": sink,
           "html": (tmp / "r" / "latest.html").read_text()}
    for srv in [*servers.values(), sink]:
        srv.close()


CAUSES = {
    "drip": "timed out after",
    "endless": "stream did not end within",
    "huge-announced": "response too large: announced 209715200 bytes",
    "huge-unannounced": "response too large: more than",
    "malformed": "malformed JSON",
    "ssh": "invalid HTTP response: 'SSH-2.0-OpenSSH_9.2p1",
    "script-banner": "invalid HTTP response: \"<script>alert('aiaudit-xss')</script>\\r\\n\"",
    # under every read limit on the wire: cut after the limit of inflated bytes
    "gzip-bomb": "response too large: more than 64000 bytes after Content-Encoding 'gzip'",
    "slow-tls": "TLS handshake did not finish within",
    "fat-header": "response too large: a header line over 64 KiB",
}


@pytest.mark.parametrize("name", list(CAUSES))
def test_each_hostile_host_is_error_with_its_cause(hostile, name):
    case = hostile["cases"][("EXP-02", name)]
    assert case["status"] == "ERROR", case
    assert CAUSES[name] in case["reason"], case["reason"]
    assert "\n" not in case["reason"]
    exp07 = hostile["cases"][("EXP-07", name)]
    assert exp07["status"] == "ERROR" and CAUSES[name] in exp07["reason"], exp07


def test_no_reason_is_the_old_catch_all(hostile):
    reasons = [c["reason"] for c in hostile["cases"].values()]
    assert not [r for r in reasons if "neither answered nor refused" in r]


def test_timed_out_hosts_are_given_up_after_one_timeout(hostile):
    drip = [r for r in hostile["doc"]["requests"]
            if r["url"].startswith(f"http://127.0.0.1:{hostile['ports']['drip']}/")]
    assert len(drip) == 1, drip  # one request sent; every later probe skipped, unsent
    assert drip[0]["elapsed"] <= BUDGET + 0.5 and "host budget" in drip[0]["error"]
    # The drip server saw exactly that one connection.
    assert hostile["drip_connections"] == 2  # the TCP connect scan, then that one request


def test_hostile_hosts_together_cost_one_budget_plus_grace(hostile, tmp_path):
    """The network part of the audit (discovery plus the EXP-02/03/06 facts of every
    service), in-process on a real AuditContext: the slowest host's budget plus grace, not
    the sum over hosts, and not (probes x timeout)."""
    cfg = _config(tmp_path / "audit.toml", hostile["ports"])
    ctx = AuditContext(parse_target("127.0.0.1"), load_config(str(cfg)))
    t0 = time.monotonic()
    found = providers.ai_endpoints(ctx)
    took = time.monotonic() - t0
    assert len([s for s in found if s.port in hostile["ports"].values()]) == len(
        hostile["ports"])
    assert took <= BUDGET + GRACE, f"{took:.1f}s for {len(found)} hostile hosts"
    # The whole audit in a subprocess, start-up and report included: still one budget.
    assert hostile["took"] <= BUDGET + 30, hostile["took"]


def test_redirects_are_never_followed_and_say_where_they_lead(hostile):
    """A gateway redirecting off the audited host, onto another loopback port and in a
    loop: nothing follows it (the sink saw no connection, no request left the audited
    ports, the loop's second URL was never asked for) and the reason names the redirect."""
    case = hostile["cases"][("EXP-02", "redirects")]
    assert case["status"] == "MANUAL", case
    assert "HTTP 301 redirect to /v1/models/ (not followed)" in case["reason"], case["reason"]
    assert hostile["sink"].connections == 0
    audited = {f"127.0.0.1:{port}" for port in hostile["ports"].values()}
    assert {re.sub(r"^https?://([^/]+).*", r"\1", r["url"])
            for r in hostile["doc"]["requests"]} <= audited
    assert ("GET", "/v1/models/") not in hostile["servers"]["redirects"].hits


def test_invalid_utf8_and_control_characters_do_not_hide_an_open_api(hostile):
    """Ollama salting its model list with bytes that are not UTF-8 is still Ollama, open
    (FAIL), and what it sent is quoted on one line with its controls shown as escapes."""
    case = hostile["cases"][("EXP-02", "bad-bytes")]
    assert case["status"] == "FAIL" and case["case"].startswith("Ollama@"), case
    assert "\ufffd" in case["reason"]  # the bytes that are not UTF-8, replaced
    assert "\\x9b31m\\u202e" in case["reason"], case["reason"]  # shown, not acted on
    for reason in [c["reason"] for c in hostile["doc"]["controls"]] + [
            c["reason"] for c in hostile["cases"].values()]:
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e]", reason), reason


def test_report_is_written_with_every_hostile_host_in_it(hostile):
    assert hostile["doc"]["verdict"] == "NOT COMPLIANT"
    exp02 = {name for (cid, name) in hostile["cases"] if cid == "EXP-02"}
    assert set(hostile["ports"]) <= exp02, set(hostile["ports"]) - exp02


def test_unidentified_service_serving_data_fails(hostile):
    case = hostile["cases"][("EXP-02", "homegrown")]
    assert case["status"] == "FAIL"
    assert case["reason"].startswith("unauthenticated HTTP service, identity unconfirmed")
    assert "inference-gw" in case["reason"]


def test_xff_bypass_gateway_fails_exp03_without_a_credential(hostile):
    case = hostile["cases"][("EXP-03", "xff-gateway")]
    assert case["status"] == "FAIL", case
    assert "can be bypassed without credentials" in case["reason"]
    assert "X-Forwarded-For: 127.0.0.1" in case["reason"] and "401 -> 200" in case["reason"]
    assert "nginx" in case["evidence"]["proxy"]
    # Split out of the combined attempt: only X-Forwarded-For is named, not X-Real-IP.
    assert "X-Real-IP: 127.0.0.1: GET" not in case["evidence"]["bypassed with"]
    assert hostile["cases"][("EXP-02", "xff-gateway")]["status"] == "FAIL"


def test_script_in_banners_is_only_ever_escaped(hostile):
    case = hostile["cases"][("EXP-02", "script")]
    assert case["status"] == "FAIL" and "KoboldCpp" in case["case"]
    assert SCRIPT in json.dumps(hostile["doc"], ensure_ascii=False)  # kept, as data
    page = hostile["html"]
    for raw in ("<script>alert('aiaudit-xss')", '<img src=x onerror="alert(1)">',
                "<script>alert"):
        assert raw not in page
    banner = hostile["cases"][("EXP-02", "script-banner")]["reason"]
    assert SCRIPT in banner  # a reason quoting a banner of markup: escaped in the page too
    assert "aiaudit-xss" in page  # shown, escaped (pytest-html's data blob escapes twice)


def test_auditor_on_the_target_makes_exp01_network_side_not_applicable(hostile):
    exp01 = next(c for c in hostile["doc"]["controls"] if c["id"] == "EXP-01")
    assert exp01["status"] == "NOT_APPLICABLE"
    assert "auditor stands on the target host" in exp01["reason"]
    assert "no host access" in exp01["reason"]


def test_every_request_sent_was_declared_and_none_was_management(hostile):
    requests = hostile["doc"]["requests"]
    assert requests
    for r in requests:
        target = re.sub(r"^https?://[^/]+", "", r["url"])
        assert declared_safe(r["method"], target), r
    assert not not_read_only(requests)


def test_hostile_servers_answer_like_their_products(hostile):
    """The imitations are faithful enough to be taken for the product (the deception is
    the point): the KoboldCpp one is named KoboldCpp, the nginx one is seen as nginx."""
    assert "KoboldCpp" in hostile["cases"][("EXP-02", "script")]["case"]
    assert "nginx" in hostile["cases"][("EXP-02", "xff-gateway")]["case"]
    ssh = hostile["cases"][("EXP-02", "ssh")]["case"].replace("_", " ")
    assert ssh.startswith("listener with no HTTP answer@")  # not called an HTTP service
    malformed = hostile["cases"][("EXP-02", "malformed")]["evidence"]["identified as"]
    assert "resembles LiteLLM proxy" in malformed


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_a_drip_host_audit_ends_within_two_seconds(tmp_path, sig):
    with HostileServer(persona=OllamaDrip()) as drip:
        cfg = _config(tmp_path / "audit.toml", {"drip": drip.port}, budget=120)
        proc = subprocess.Popen(_audit_cmd(cfg, tmp_path / "r"), cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert wait_for(lambda: drip.connections > 0, 60), "the audit never reached it"
            time.sleep(1.0)  # a probe is now in flight, dripping
            sent = time.monotonic()
            proc.send_signal(sig)
            out, _err = proc.communicate(timeout=30)
            stopped = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert stopped < 2.0, f"the audit took {stopped:.1f}s to stop"
    assert proc.returncode == pytest.ExitCode.INTERRUPTED
    doc = json.loads((tmp_path / "r" / "latest.json").read_text())
    assert re.fullmatch(rf"interrupted after \d+ s \({sig.name}\)", doc["interrupted"])
    assert any("interrupted after" in note for note in doc["notes"])
    assert f"aiaudit: {doc['interrupted']}" in out
    html = next((tmp_path / "r").glob("127.0.0.1-*.html")).read_text()
    assert "interrupted after" in html
    started = dt.datetime.fromisoformat(doc["started"])
    assert dt.datetime.fromisoformat(doc["finished"]) - started < dt.timedelta(seconds=60)


def _instantiate(path: str) -> str:
    return re.sub(r"\{[^}/]*\}", "x1", path.split("?", 1)[0])


def test_every_catalog_management_endpoint_is_refused():
    """services.toml says its management endpoints are never sent because http.py refuses
    them: hold every one of them against the deny list, also behind a proxy prefix."""
    checked, prose = 0, []
    for svc in load_services():
        for entry in svc.management:
            rule = catalog_rule(svc.name, entry)
            if rule is None:
                prose.append(entry)
                continue
            method, path = entry.split()[0].upper(), _instantiate(entry.split()[1])
            for spelled in (path, "/proxy" + path, path.upper(), path + "/"):
                assert denied_reason(method, spelled), (svc.name, entry, spelled)
            checked += 1
    assert checked >= 40, checked
    assert all(not re.match(r"^(GET|POST|PUT|PATCH|DELETE|HEAD) /", p) for p in prose), prose
    assert denied_reason("POST", "/v1/models")  # Xinference launches a model there
    assert "LiteLLM" in (denied_reason("POST", "/key/generate") or "")
    assert denied_reason("GET", "/v1/models") is None  # the read stays possible
    assert denied_reason("POST", "/collections/docs/points/search") is None  # a {param}
    # is one path segment, not a prefix of everything below it


def _answer(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return Answer(int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body)


def test_imitated_routes_are_emulation_not_a_second_service():
    """KoboldCpp serving Ollama's /api/tags (as its Ollama emulation does) is KoboldCpp,
    with the imitation noted, not KoboldCpp plus an Ollama."""
    kobold = personas()["script"]
    paths = ["/", "/v1/models", "/api/version", "/api/tags", "/api/extra/version",
             "/api/v1/model"]
    answers = {p: _answer(kobold.routes.get(p, kobold.not_found)) for p in paths}
    ident = identify(answers)
    assert ident.service == "KoboldCpp"
    assert ident.emulates == ("Ollama (GET /api/tags)",)
    svc = NetService("127.0.0.1", 5001, "http", answers, ident)
    assert "also imitates Ollama (GET /api/tags): emulation by the same service" in (
        svc.describe())
    # The real thing is not "emulating" itself: an Ollama alone notes nothing.
    ollama = {p: _answer(raw) for p, raw in ollama_routes().items()}
    assert identify(ollama).service == "Ollama" and identify(ollama).emulates == ()


def test_own_address_is_told_apart_from_a_remote_one():
    assert providers.own_address("127.0.0.1") == "127.0.0.1 is a loopback address"
    assert providers.own_address("::1") == "::1 is a loopback address"
    assert providers.own_address("192.0.2.1") is None  # TEST-NET-1: never this machine's
    assert providers.own_address("no-such-host.invalid") is None


def test_drip_host_on_a_catalog_port_is_reported_not_dropped(tmp_path):
    """A drip "Ollama" on Ollama's own port, with no audit config at all: it is given up
    after one timeout, and still gets its cases (ERROR naming the timeout), instead of
    vanishing from the report because it never said enough to be identified."""
    try:
        drip = HostileServer(persona=OllamaDrip(), port=11434)
    except OSError:
        pytest.skip("port 11434 is taken on this machine")
    with drip:
        cfg = tmp_path / "audit.toml"
        cfg.write_text("[exposure]\nhost_budget_seconds = 3\n")
        ctx = AuditContext(parse_target("127.0.0.1"), load_config(str(cfg)))
        found = [s for s in providers.ai_endpoints(ctx) if s.port == 11434]
    assert len(found) == 1 and found[0].name == "listener with no HTTP answer"
    assert "Ollama default port; given up: GET /: timed out after 3.0s" in found[0].describe()
    state = providers.auth_state(ctx, found[0])
    assert state.state == "unknown" and state.transport
    assert "timed out after 3.0s" in state.why_unknown()
