"""EXP-01..07 on held-out hostile and deceptive servers, audited together in one run.

Every server is a real socket on loopback (selftests/hostile_more.py on top of
selftests/hostile_server.py), three of them a real nginx (oauth2-proxy's sign-in page for
every path, auth_basic on some locations only, an upstream that is down). The real suite
audits them all in one subprocess (`pytest tests_exposure --target=127.0.0.1`, with SARIF
and JUnit output) and each case is held to the exact status a careful auditor gives.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aiaudit.config import load_config
from aiaudit.context import AuditContext
from aiaudit.exposure import providers
from aiaudit.target import parse_target
from selftests import hostile_more
from selftests.hostile_server import (
    HostileServer,
    audit_ports,
    free_port,
    listening,
    not_read_only,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 6  # [exposure] host_budget_seconds
NGINX = "/usr/sbin/nginx"

# name -> (EXP-02, EXP-03, EXP-06, EXP-07), and a piece of the EXP-02 reason (or evidence).
# ERROR: nothing whole was read; MANUAL: answers that are neither data nor a refusal.
E4 = ("ERROR",) * 4
# Read nothing whole, but an HTTP head came straight from it: EXP-03 fails (no proxy in
# front, plain HTTP) and EXP-06 judges the CORS headers it did send.
R4 = ("ERROR", "FAIL", "PASS", "ERROR")
EXPECTED: dict[str, tuple[tuple[str, str, str, str], str | tuple[str, ...]]] = {
    "head-drip": (E4, "timed out after"),
    "endless-100": (E4, "more than 20 interim (1xx) responses"),
    "early-hints": (("FAIL", "FAIL", "PASS", "FAIL"), "answers without credentials"),
    "cl-long": (E4, "stream did not end within"),
    "cl-short": (("ERROR", "FAIL", "PASS", "ERROR"), "malformed JSON"),
    # its head came straight from uvicorn (EXP-03 FAIL) before the host was given up
    "huge-chunk": (("ERROR", "FAIL", "ERROR", "ERROR"), "stream did not end within"),
    "deflate-bomb": (R4, "response too large: more than 64000 bytes after Content-Encoding "
                         "'deflate'"),
    "zstd-bomb": (R4, "Content-Encoding 'zstd' that this client cannot decode"),
    "br-undecodable": (R4, "Content-Encoding 'br' that this client cannot decode"),
    "strings": (("FAIL", "FAIL", "PASS", "FAIL"), "answers without credentials"),
    "leaks-key": (("FAIL", "FAIL", "PASS", "FAIL"), "answers without credentials"),
    "scheme-hop": (("MANUAL", "FAIL", "PASS", "MANUAL"), "(not followed)"),
    "tarpit": (E4, "timed out after"),
    "catch-all-json": (("FAIL", "FAIL", "PASS", "MANUAL"), "identity unconfirmed"),
    "catch-all-html": (("MANUAL", "FAIL", "PASS", "MANUAL"), "hands out no data"),
    # RST on accept: the client sees it on connect, after sending, or as a bare EOF
    "reset": (E4, ("connection reset by peer", "connection closed without response")),
    "close-after-status": (E4, "connection closed after the status line"),
    "http09": (E4, "invalid HTTP response: '{\"models\""),
    "many-headers": (E4, "response too large: got more than 100 headers"),
    "two-lengths": (E4, "invalid framing: Content-Length contained multiple unmatching "
                        "values"),
    "bad-chunk": (R4, "invalid framing: chunk size b'zz\\r\\n' is not a hex number"),
    # discovery's unauthenticated GET /v1/models -> 200 model list stands when the later
    # reads are skipped (the host was given up on the dripping route); EXP-06 needs an
    # Origin-carrying answer that never came; named only by the generic OpenAI entry while
    # Ollama's own /api/tags never answered: the identity is unread, so whether a
    # management API is open is ERROR naming that route (was NOT_APPLICABLE: "no management
    # API" of a generic name that rested on an unread route)
    "one-route-drip": (("FAIL", "FAIL", "ERROR", "ERROR"),
                       ("GET /v1/models -> 200 (discovery)", "could not read GET /api/tags")),
    "expired-tls": (("FAIL", "FAIL", "PASS", "FAIL"), "answers without credentials"),
    "nginx-login": (("PASS", "FAIL", "PASS", "PASS"), "sign-in page"),
    "nginx-partial": (("FAIL", "FAIL", "PASS", "FAIL"), "answers without credentials"),
    "nginx-down": (("ERROR", "FAIL", "ERROR", "ERROR"), "HTTP 502 Bad Gateway from nginx"),
}
CONTROLS = ("EXP-02", "EXP-03", "EXP-06", "EXP-07")


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    """Every held-out server up at once, audited together once."""
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (bin/setup installs nginx-light)")
    tmp = tmp_path_factory.mktemp("hostile-more")
    sink = HostileServer().start()
    servers = {n: HostileServer(persona=p).start()
               for n, p in hostile_more.personas(sink.port).items()}
    tls = hostile_more.tls_dir()
    servers["expired-tls"] = HostileServer(
        tls_context=hostile_more.expired_context(Path(tls.name)),
        persona=hostile_more.OpenOllama()).start()
    backend = HostileServer(persona=hostile_more.OpenOllama()).start()
    nginx_ports = {"login": free_port(), "partial": free_port(), "down": free_port()}
    conf = hostile_more.nginx_conf(tmp / "nginx", nginx_ports, backend.port, free_port())
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp / "nginx")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ports = {n: s.port for n, s in servers.items()}
    ports.update({f"nginx-{k}": v for k, v in nginx_ports.items()})
    try:
        assert wait_for(lambda: listening(nginx_ports.values()), 10), "nginx did not start"
        yield {**audit_ports(tmp, ports, BUDGET, ROOT), "servers": servers, "sink": sink,
               "backend": backend, "nginx_log": tmp / "nginx" / "access.log"}
    finally:
        nginx.terminate()
        nginx.wait(10)
        for srv in [*servers.values(), sink, backend]:
            srv.close()
        tls.cleanup()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_exact_status_per_control(heldout, name):
    """EXP-02/03/06/07 per held-out server, exactly; the EXP-02 case names the cause."""
    statuses, piece = EXPECTED[name]
    got = {c: heldout["cases"].get((c, name), {}).get("status") for c in CONTROLS}
    assert got == dict(zip(CONTROLS, statuses, strict=True)), (
        name, got, heldout["cases"].get(("EXP-02", name), {}).get("reason"))
    exp02 = heldout["cases"][("EXP-02", name)]
    told = exp02["reason"] + json.dumps(exp02.get("evidence", {}))
    pieces = piece if isinstance(piece, tuple) else (piece,)
    assert any(p in told for p in pieces), (name, exp02["reason"])
    for c in CONTROLS:
        assert "\n" not in heldout["cases"][(c, name)]["reason"]


# timed out, so given up: no more requests to them
GIVEN_UP = {"head-drip", "cl-long", "huge-chunk", "tarpit", "one-route-drip"}


def test_host_level_controls(heldout):
    """EXP-01 and EXP-04 on a network-only loopback audit: NOT_APPLICABLE with the reason.
    EXP-05 without host access: MANUAL naming the exact marked request to look for (it was
    sent), or ERROR where the host was given up and the marked request never went out."""
    controls = {c["id"]: c for c in heldout["doc"]["controls"]}
    assert controls["EXP-01"]["status"] == "NOT_APPLICABLE"
    assert "auditor stands on the target host" in controls["EXP-01"]["reason"]
    assert controls["EXP-04"]["status"] == "NOT_APPLICABLE"
    assert "network-only target" in controls["EXP-04"]["reason"]
    for name in EXPECTED:
        case = heldout["cases"].get(("EXP-05", name))
        assert case, name
        if name in GIVEN_UP:
            assert case["status"] == "ERROR", (name, case)
            assert "marked request not sent: skipped, host given up" in case["reason"]
            continue
        assert case["status"] == "MANUAL", (name, case)
        marker = re.search(r"marked request GET (/\S+)\?aiaudit-marker=(aiaudit-[0-9a-f]{16}) ",
                           case["reason"])
        assert marker, case["reason"]
        srv = heldout["servers"].get(name)
        if srv is not None and name not in ("reset",):  # the server saw that very request
            assert any(marker.group(2) in r["path"] for r in srv.requests), name


def test_every_report_is_written_and_parses(heldout):
    out = heldout["out"]
    assert heldout["proc"].returncode == 1, heldout["proc"].stderr[-2000:]  # findings
    assert heldout["doc"]["verdict"] == "NOT COMPLIANT"
    sarif = json.loads((out / "audit.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    junit = ET.parse(out / "junit.xml").getroot()
    assert int(junit.find("testsuite").get("tests")) >= 4 * len(EXPECTED)
    html = (out / "latest.html").read_text()
    for port in heldout["ports"].values():
        assert f"127.0.0.1:{port}" in html


def test_hostile_strings_are_escaped_and_controls_never_raw(heldout):
    """Markup from headers and JSON is data: escaped in the HTML page; NUL and terminal
    escapes never reach any output raw."""
    out = heldout["out"]
    html = (out / "latest.html").read_text()
    for raw in ("<svg onload", hostile_more.XSS_MODEL, "<b>bold</b>"):
        assert raw not in html, raw
    assert "svg onload" in html  # shown, escaped
    for f in ("latest.html", "latest.json", "audit.sarif", "junit.xml"):
        data = (out / f).read_bytes()
        assert b"\x00" not in data and b"\x1b" not in data, f


def test_secrets_in_banners_are_redacted_everywhere(heldout):
    """API keys a server puts in its banner, a header, a model name and its 404 page
    appear in no output: HTML, JSON, SARIF, JUnit, the history store, the console log."""
    out = heldout["out"]
    blobs = {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()}
    blobs["stdout"] = heldout["proc"].stdout.encode()
    blobs["stderr"] = heldout["proc"].stderr.encode()
    assert {"latest.html", "latest.json", "audit.sarif", "junit.xml"} <= set(blobs)
    for secret in hostile_more.SECRETS:
        for name, data in blobs.items():
            assert secret[:16].encode() not in data, (secret[:8], name)
    assert "sk-p…" in heldout["cases"][("EXP-02", "leaks-key")]["reason"]  # masked, kept


def test_wall_time_is_one_host_budget(heldout):
    """26 hostile servers, four of them tarpits or drips, audited in one run: one host
    budget plus start-up and reporting, not a budget per server."""
    assert heldout["took"] <= BUDGET + 24, heldout["took"]
    slow = [r for r in heldout["doc"]["requests"] if r["elapsed"] > BUDGET + 0.5]
    assert not slow, slow


def test_requests_are_bounded_read_only_and_stay_on_target(heldout):
    """Only GET/HEAD/OPTIONS to the audited ports; no redirect followed (the sink and the
    other scheme saw nothing); a given-up host got one request; none of the management
    routes nginx fronts was asked for; a bounded number of requests per server."""
    requests = heldout["doc"]["requests"]
    assert not not_read_only(requests)
    audited = {f"127.0.0.1:{p}" for p in heldout["ports"].values()}
    assert {re.sub(r"^https?://([^/]+).*", r"\1", r["url"]) for r in requests} <= audited
    assert heldout["sink"].connections == 0
    hop = heldout["servers"]["scheme-hop"]
    assert not [r for r in hop.requests if r["path"] == "/collect"]
    per_port: dict[str, int] = {}
    for r in requests:
        port = re.sub(r"^https?://[^:]+:(\d+).*", r"\1", r["url"])
        per_port[port] = per_port.get(port, 0) + 1
    assert max(per_port.values()) <= 60, per_port
    for name in ("tarpit", "head-drip", "cl-long"):  # given up after the first timeout
        port = str(heldout["ports"][name])
        assert per_port.get(port, 0) <= 2, (name, per_port.get(port))
    log = heldout["nginx_log"].read_text()
    # no state-changing method; a POST only on a generation route (its body empty: the
    # report's records above say which probe sent it)
    assert not re.search(r'"(PUT|DELETE|PATCH) ', log)
    assert not re.search(r'"POST (?!/v1/chat/completions |/api/chat )', log)
    assert not re.search(r"/api/(pull|push|create|copy|delete|generate)\b", log)


def test_each_server_got_at_most_the_rate_limit(heldout):
    """The audit client's per-host rate (20/s after a burst of 4, http and https to one
    port sharing it): in no 2 s did one server see more than 44 requests, with 3 of slack
    for when this busy test process noted their arrival."""
    for name, srv in heldout["servers"].items():
        times = sorted(r["at"] for r in srv.requests)
        worst = max((sum(1 for t in times[i:] if t - start < 2.0)
                     for i, start in enumerate(times)), default=0)
        assert worst <= 47, (name, worst)


def test_endless_interim_answers_are_cut_at_once(heldout):
    """Endless ``100 Continue``: each request stops after 21 heads, at once, instead of
    reading heads until the time limit."""
    port = heldout["ports"]["endless-100"]
    sent = [r for r in heldout["doc"]["requests"] if r["url"].startswith(
        f"http://127.0.0.1:{port}/")]  # (https:// was tried once: a TLS error)
    assert sent and all("more than 20 interim (1xx) responses" in (r["error"] or "")
                        for r in sent), [r["error"] for r in sent]
    assert max(r["elapsed"] for r in sent) < 2.0, sent


def test_ipv6_only_listener_is_found_and_judged():
    """An open Ollama on [::1] only: discovered on the IPv6 target, named, open."""
    try:
        srv = HostileServer(persona=hostile_more.OpenOllama(), host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with srv, tempfile_config(srv.port) as cfg:
        ctx = AuditContext(parse_target("::1"), load_config(str(cfg)))
        found = [s for s in providers.ai_endpoints(ctx) if s.port == srv.port]
        assert [s.case_id for s in found] == [f"Ollama@[::1]:{srv.port}"]
        state = providers.auth_state(ctx, found[0])
    assert state.state == "open" and state.reads[0].startswith("GET /api/tags -> 200")
    assert srv.requests and not not_read_only(srv.requests)


@contextlib.contextmanager
def tempfile_config(port: int):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "audit.toml"
        cfg.write_text(f"[exposure]\nextra_ports = [{port}]\nhost_budget_seconds = 3\n")
        yield cfg


def test_a_listener_that_resets_on_accept_is_an_open_port():
    """On loopback the reset can beat connect() back, which then raises ECONNRESET: the
    port still accepted (a closed one refuses), so it is scanned as open, never dropped
    (before: 12 of 200 scans here missed it, and 22 of 25 whole discoveries; a race, so
    100 scans of the old code do not always show it)."""
    from aiaudit.exposure.discovery import open_ports
    with HostileServer(persona=hostile_more.ResetOnAccept()) as srv:
        seen = [open_ports("127.0.0.1", [srv.port]) for _ in range(100)]
        closed = free_port()
        assert open_ports("127.0.0.1", [closed]) == []
    assert seen == [[srv.port]] * 100
