"""Self-tests for aiaudit.http.SafeClient against real, hostile local servers (no mocks).

Every server runs on 127.0.0.1 on an ephemeral port; the server side counts connections
and requests so the tests can prove what the client did and did not send.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import ssl
import subprocess
import threading
import time
import tracemalloc
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiaudit.http import (
    DEFAULT_USER_AGENT,
    HttpResult,
    Probe,
    SafeClient,
    SafeRoute,
    UnsafeRequestRefused,
    denied_reason,
    redact_url,
)
from selftests import hostile_more
from selftests.hostile_server import (
    HostileServer,
    OllamaGzipBomb,
    SlowTlsHandshake,
    free_port,
    wait_for,
)

# A probe that declares every GET/HEAD/POST path: isolates the deny list from declarations.
ANYTHING = Probe("anything", (SafeRoute("GET", "/*"), SafeRoute("POST", "/*"),
                              SafeRoute("HEAD", "/*"), SafeRoute("*", "/*")))


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as srv:
        yield srv


@pytest.fixture
def client() -> Iterator[SafeClient]:
    with SafeClient(connect_timeout=1.0, read_timeout=2.0, total_timeout=3.0,
                    max_bytes=100_000, retries=0, per_host_rate=None) as c:
        yield c


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not available to make a self-signed certificate")
    d: Path = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx


@pytest.fixture
def tls_server(tls_context: ssl.SSLContext) -> Iterator[HostileServer]:
    with HostileServer(tls_context) as srv:
        yield srv


# ------------------------------------------------------------- 1. streams forever


def test_endless_stream_is_cut_at_max_bytes(server: HostileServer, client: SafeClient) -> None:
    t0 = time.monotonic()
    r = client.get(ANYTHING, server.url("/forever"), max_bytes=300_000)
    assert r.status == 200 and r.ok and r.error is None
    assert r.truncated is True
    assert len(r.body) == 300_000
    assert time.monotonic() - t0 < 2.0


def test_endless_stream_is_cut_by_total_timeout(server: HostileServer) -> None:
    with SafeClient(total_timeout=1.0, read_timeout=5.0, max_bytes=10**9,
                    per_host_rate=None) as c:
        t0 = time.monotonic()
        r = c.get(ANYTHING, server.url("/forever?size=100&gap=0.01"))
        took = time.monotonic() - t0
    assert r.status == 200 and r.truncated is True
    assert 0 < len(r.body) < 10**9
    assert 0.9 <= took < 1.8


# --------------------------------------------------------- 2. slow and trickling


def test_slow_server_times_out(server: HostileServer) -> None:
    with SafeClient(read_timeout=0.5, total_timeout=5.0, retries=0, per_host_rate=None) as c:
        t0 = time.monotonic()
        r = c.get(ANYTHING, server.url("/slow?delay=3"))
        took = time.monotonic() - t0
    assert r.status is None and not r.ok
    assert r.error_kind == "timeout"
    assert "timed out after 0.5s" in (r.error or "")
    assert took < 1.5
    assert [rec.error for rec in c.records] == [r.error]


def test_trickling_body_is_bounded_by_total_timeout(server: HostileServer) -> None:
    with SafeClient(read_timeout=5.0, total_timeout=1.0, per_host_rate=None) as c:
        t0 = time.monotonic()
        r = c.get(ANYTHING, server.url("/trickle?gap=0.2"))
        took = time.monotonic() - t0
    assert r.status == 200 and r.truncated is True
    assert 1 <= len(r.body) <= 10  # about one byte per 0.2 s for 1 s
    assert took < 1.8


@pytest.mark.parametrize("close", ["0", "1"])
def test_stalled_body_is_bounded_by_watchdog(server: HostileServer, close: str) -> None:
    # Headers, then silence longer than total_timeout but shorter than read_timeout: the
    # blocked read must end at the total bound and count as a time truncation (not an
    # error), also when the server said "Connection: close" (http.client then detaches
    # the socket from the connection object the watchdog knows about).
    with SafeClient(read_timeout=5.0, total_timeout=1.0, per_host_rate=None) as c:
        t0 = time.monotonic()
        r = c.get(ANYTHING, server.url(f"/trickle?gap=3&close={close}"))
        took = time.monotonic() - t0
    assert r.status == 200 and r.truncated is True and r.body == b""
    assert took < 1.8


def test_trickling_headers_are_bounded_by_total_timeout(server: HostileServer) -> None:
    # read_timeout never fires (a header line arrives every 0.2 s); only the watchdog can
    # stop this one.
    with SafeClient(read_timeout=5.0, total_timeout=1.0, retries=3, per_host_rate=None) as c:
        t0 = time.monotonic()
        r = c.get(ANYTHING, server.url("/trickle-headers?gap=0.2"))
        took = time.monotonic() - t0
    assert r.status is None and r.error_kind == "timeout"
    assert "total time limit" in (r.error or "")
    assert took < 1.8
    assert len(c.records) == 1  # no retry once the total time is spent


# --------------------------------------------------------------------- 3. 100 MB


def test_hundred_megabytes_is_capped_fast_and_connection_closed(server: HostileServer) -> None:
    with SafeClient(max_bytes=1_000_000, total_timeout=10.0, per_host_rate=None) as c:
        tracemalloc.start()
        try:
            t0 = time.monotonic()
            r = c.get(ANYTHING, server.url("/big"))
            took = time.monotonic() - t0
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert r.status == 200 and r.headers["Content-Length"] == str(100 * 1024 * 1024)
    assert r.truncated is True
    assert len(r.body) == 1_000_000
    assert took < 2.0
    assert peak < 20 * 1024 * 1024, f"peak traced memory {peak} bytes"
    assert c.records[0].bytes_read == 1_000_000
    # The client hung up instead of draining: the server could not write all 100 MB.
    assert wait_for(lambda: server.big_sent, 5.0)
    assert server.big_sent[0] < 100 * 1024 * 1024


@pytest.mark.parametrize("path,encoding,inflates_to", [
    ("/api/tags", "gzip, gzip", 4 << 30), ("/v1/models", "gzip", 48 << 20)])
def test_gzip_bomb_is_bounded_by_decoded_bytes(path: str, encoding: str,
                                               inflates_to: int) -> None:
    """Compressed although the client asked for identity, under the read limit on the wire
    (6.5 KB and 49 KB), inflating to 4 GiB and 48 MiB: cut after the limit of inflated
    bytes, in bounded memory and time, the reason naming the encoding."""
    bomb = OllamaGzipBomb()
    assert bomb.inflates_to[path] == inflates_to
    with HostileServer(persona=bomb) as srv, SafeClient(
            max_bytes=64_000, total_timeout=10.0, per_host_rate=None) as c:
        tracemalloc.start()
        try:
            t0 = time.monotonic()
            r = c.get(ANYTHING, srv.url(path))
            took = time.monotonic() - t0
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    wire = int(r.headers["Content-Length"])
    assert wire < 64_000 and r.headers["Content-Encoding"] == encoding
    assert (r.status, len(r.body), r.cut_kind) == (200, 64_000, "size")
    assert r.cut == (f"response too large: more than 64000 bytes after Content-Encoding "
                     f"'{encoding}' ({wire} bytes on the wire; limit 64000)")
    assert took < 2.0 and peak < 8 * 1024 * 1024, (took, peak)


def test_exact_size_body_is_not_marked_truncated(server: HostileServer,
                                                 client: SafeClient) -> None:
    r = client.get(ANYTHING, server.url("/big?size=5000"), max_bytes=5000)
    assert (len(r.body), r.truncated, r.error) == (5000, False, None)


# ------------------------------------------------------------ 4. connection refused


def test_connection_refused_is_a_result(client: SafeClient) -> None:
    r = client.get(ANYTHING, f"http://127.0.0.1:{free_port()}/v1/models")
    assert r.status is None and not r.ok
    assert r.error_kind == "connect"
    assert r.error == "connection refused"
    with pytest.raises(ValueError, match="no response"):
        r.json()


# ------------------------------------------------------------------------ 5. TLS


def test_https_with_verification_off_succeeds_quietly(tls_server: HostileServer,
                                                      client: SafeClient) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = client.get(ANYTHING, tls_server.url("/ok"))
    assert r.status == 200 and r.json() == {"ok": True}
    assert not [w for w in caught if "Unverified HTTPS" in str(w.message)]
    assert r.tls is not None and r.tls["version"].startswith("TLS")
    pytest.importorskip("cryptography")
    assert "CN=localhost" in r.tls["subject"] and r.tls["self_signed"] is True
    assert "notAfter" in r.tls and r.tls["notAfter"].endswith("GMT")


def test_https_with_verification_on_reports_tls_error(tls_server: HostileServer) -> None:
    with SafeClient(verify_tls=True, per_host_rate=None) as c:
        r = c.get(ANYTHING, tls_server.url("/ok"))
    assert r.status is None and r.error_kind == "tls"
    assert (r.error or "").startswith("TLS error: certificate verify failed")
    assert tls_server.total_hits() == 0


def test_dripping_tls_handshake_is_named_and_bounded() -> None:
    """A server sending its side of a real TLS handshake one byte every 0.5 s: the
    handshake runs under the connect timeout, and the reason says it was the handshake."""
    with HostileServer(persona=SlowTlsHandshake()) as srv, SafeClient(
            connect_timeout=1.0, total_timeout=10.0, retries=0, per_host_rate=None) as c:
        t0 = time.monotonic()
        r = c.get(ANYTHING, srv.url("/v1/models", scheme="https"))
        took = time.monotonic() - t0
    assert r.status is None and r.error_kind == "timeout"
    assert r.error == "TLS handshake did not finish within 1.0s (connect timeout)"
    assert took < 2.0, took


def test_abort_cuts_a_dripping_tls_handshake() -> None:
    """ssl.wrap_socket only hands its socket back after the handshake: the watchdog holds
    a dup of the descriptor meanwhile, so an interrupt ends the handshake at once."""
    with HostileServer(persona=SlowTlsHandshake()) as srv, SafeClient(
            connect_timeout=30.0, total_timeout=60.0, retries=0, per_host_rate=None) as c:
        threading.Timer(0.5, c.abort).start()
        t0 = time.monotonic()
        r = c.get(ANYTHING, srv.url("/v1/models", scheme="https"))
        took = time.monotonic() - t0
        assert wait_for(lambda: srv.connections == 1)
    assert r.error_kind == "interrupted" and took < 1.5, (r, took)


def test_plain_http_to_tls_port(tls_server: HostileServer, client: SafeClient) -> None:
    r = client.get(ANYTHING, tls_server.url("/ok", scheme="http"))
    assert r.status is None
    assert r.error_kind in ("tls", "protocol")
    assert r.error


def test_https_to_plain_port(server: HostileServer, client: SafeClient) -> None:
    r = client.get(ANYTHING, server.url("/ok", scheme="https"))
    assert r.status is None
    assert r.error_kind == "tls"
    assert (r.error or "").startswith("TLS error:")


# ------------------------------------------------------------------- 6. refusals


def _assert_nothing_sent(server: HostileServer, client: SafeClient) -> None:
    time.sleep(0.05)
    assert server.connections == 0 and server.total_hits() == 0
    assert client.records == []


def test_undeclared_route_is_refused(server: HostileServer, client: SafeClient) -> None:
    models_only = Probe("models", (SafeRoute("GET", "/v1/models"),))
    with pytest.raises(UnsafeRequestRefused, match="not declared GET /api/tags"):
        client.get(models_only, server.url("/api/tags"))
    with pytest.raises(UnsafeRequestRefused, match="not declared POST /v1/chat/completions"):
        client.request(models_only, "POST", server.url("/v1/chat/completions"), json={})
    _assert_nothing_sent(server, client)
    assert [x.probe for x in client.refused] == ["models", "models"]


def test_deny_list_overrides_declaration(server: HostileServer, client: SafeClient) -> None:
    puller = Probe("puller", (SafeRoute("POST", "/api/pull"),))
    assert puller.allows("POST", "/api/pull")
    with pytest.raises(UnsafeRequestRefused, match="hard deny list"):
        client.request(puller, "POST", server.url("/api/pull"), json={"model": "x"})
    _assert_nothing_sent(server, client)


@pytest.mark.parametrize("method, path, headers", [
    ("POST", "/api/pull", {}),
    ("POST", "/api/pull/", {}),
    ("POST", "/API/Pull", {}),
    ("POST", "/api/%70ull", {}),
    ("POST", "/v1/../api/pull", {}),
    ("POST", "//api//pull", {}),
    ("POST", "/ollama/api/pull", {}),           # Open WebUI's proxy prefix
    ("DELETE", "/api/delete", {}),
    ("GET", "/api/delete", {}),
    ("PUT", "/collections/docs", {}),
    ("PATCH", "/v1/models", {}),
    ("POST", "/props", {}),
    ("POST", "/slots/0?action=erase", {}),
    ("POST", "/sleep", {}),
    ("POST", "/reset_prefix_cache", {}),
    ("POST", "/api/jobs/", {}),
    ("POST", "/prompt", {}),
    ("POST", "/upload/image", {}),
    ("POST", "/models/apply", {}),
    ("POST", "/tools/invoke", {}),
    ("POST", "/api/v1/auths/signup", {}),
    ("POST", "/api/v2/reset", {}),
    ("POST", "/v1/chat/completions", {"X-HTTP-Method-Override": "DELETE"}),
    ("POST", "/v1/chat/completions?_method=DELETE", {}),
])
def test_deny_list_variants(server: HostileServer, client: SafeClient, method: str, path: str,
                            headers: dict[str, str]) -> None:
    with pytest.raises(UnsafeRequestRefused, match="hard deny list"):
        client.request(ANYTHING, method, server.url(path), headers=headers)
    _assert_nothing_sent(server, client)


def test_read_only_routes_stay_possible() -> None:
    # The deny list must not block the suite's own reads and inference probes.
    for method, path in [("GET", "/slots"), ("GET", "/props"), ("GET", "/api/jobs/"),
                         ("POST", "/v1/chat/completions"), ("POST", "/api/generate"),
                         ("POST", "/api/show"), ("POST", "/api/embed"), ("POST", "/tokenize"),
                         ("POST", "/collections/docs/points/search"), ("GET", "/api/tags")]:
        assert denied_reason(method, path) is None, (method, path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(["/api/pull", "/api/push", "/api/create", "/api/copy",
                              "/api/blobs/sha256:00", "/props", "/slots/1", "/prompt",
                              "/reset_mm_cache", "/collective_rpc", "/models/apply"]),
    prefix=st.sampled_from(["", "/proxy", "/a/..", "/."]),
    suffix=st.sampled_from(["", "/", "//", ";x=1"]),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_deny_list_resists_spelling_tricks(endpoint: str, prefix: str, suffix: str,
                                           flips: list[bool]) -> None:
    path = "".join(ch.upper() if flip else ch
                   for ch, flip in zip(prefix + endpoint + suffix, flips, strict=False))
    path += (prefix + endpoint + suffix)[len(flips):]
    assert denied_reason("POST", path) is not None, path


def test_request_budget(server: HostileServer) -> None:
    with SafeClient(request_budget=2, per_host_rate=None) as c:
        assert c.get(ANYTHING, server.url("/ok")).status == 200
        assert c.get(ANYTHING, server.url("/ok")).status == 200
        with pytest.raises(UnsafeRequestRefused, match="request budget of 2 exhausted"):
            c.get(ANYTHING, server.url("/ok"))
    assert server.hits[("GET", "/ok")] == 2
    assert len(c.records) == 2


def test_non_http_scheme_is_refused(client: SafeClient) -> None:
    with pytest.raises(UnsafeRequestRefused, match="only http/https"):
        client.get(ANYTHING, "file:///etc/passwd")
    assert client.records == []


# ------------------------------------------------------------------- 7. records


def test_records_every_request_with_secrets_redacted(server: HostileServer,
                                                     client: SafeClient) -> None:
    base = f"http://auditor:hunter2@127.0.0.1:{server.port}"
    client.get(ANYTHING, f"{base}/ok?model=llama&api_key=sk-123&access_token=abc&x=1")
    client.request(ANYTHING, "POST", server.url("/echo"), json={"q": 1})
    client.get(ANYTHING, server.url("/missing"))
    recs = client.records
    assert [(r.method, r.status) for r in recs] == [("GET", 200), ("POST", 200), ("GET", 404)]
    assert recs[0].url == (f"http://auditor:***@127.0.0.1:{server.port}"
                           "/ok?model=llama&api_key=***&access_token=***&x=1")
    assert "hunter2" not in repr(recs) and "sk-123" not in repr(recs) and "abc" not in repr(recs)
    assert recs[1].url == server.url("/echo") and recs[2].url.endswith("/missing")
    assert all(r.probe == "anything" and r.error is None for r in recs)
    assert all(r.started <= time.time() and r.elapsed >= 0 for r in recs)
    assert recs[0].started <= recs[1].started <= recs[2].started
    assert recs[0].bytes_read == len(b'{"ok": true}')


def test_redact_url_helper() -> None:
    assert redact_url("http://h/x?Token=1&page=2&client_secret=s&password=p") == (
        "http://h/x?Token=***&page=2&client_secret=***&password=***")
    assert redact_url("https://u@h:8443/") == "https://u@h:8443/"


def test_result_helpers(server: HostileServer, client: SafeClient) -> None:
    r = client.get(ANYTHING, server.url("/ok"))
    assert r.headers["content-type"] == r.headers["Content-Type"] == "application/json"
    assert "CONTENT-LENGTH" in r.headers
    assert json.loads(json.dumps(dataclasses.asdict(r)["headers"]))["content-type"]
    assert r.text(limit=5) == '{"ok"'
    bad = client.get(ANYTHING, server.url("/notjson"))
    with pytest.raises(ValueError) as info:
        bad.json()
    assert "not JSON" in str(info.value) and len(str(info.value)) < 300
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert isinstance(repr(HttpResult("GET", "u", None, r.headers, b"x" * 10**6, True, 0.0,
                                      None, None, None)), str)
    assert len(repr(HttpResult("GET", "u", None, r.headers, b"x" * 10**6, True, 0.0,
                               None, None, None))) < 400


# --------------------------------------------------------- 8. concurrency and rate


def test_per_host_concurrency_limit(server: HostileServer) -> None:
    with SafeClient(per_host_concurrency=3, per_host_rate=None, total_timeout=10.0) as c:
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(lambda _: c.get(ANYTHING, server.url("/inflight")),
                                    range(20)))
    assert [r.status for r in results] == [200] * 20
    assert server.max_in_flight == 3  # capped, and the cap was actually used
    assert len(c.records) == 20


def test_per_host_rate_limit(server: HostileServer) -> None:
    n, rate = 6, 10.0
    with SafeClient(per_host_rate=rate, per_host_burst=1) as c:
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=n) as pool:
            statuses = list(pool.map(lambda _: c.get(ANYTHING, server.url("/ok")).status,
                                     range(n)))
        took = time.monotonic() - t0
        starts = sorted(r.started for r in c.records)
    assert statuses == [200] * n
    assert took >= (n - 1) / rate - 0.02
    assert all(b - a >= 1 / rate - 0.02 for a, b in zip(starts, starts[1:], strict=False))


def test_rate_limit_allows_a_burst_then_holds_the_rate(monkeypatch) -> None:
    """The gate on a simulated clock (a loaded machine cannot blur it): a burst of 3 goes
    out at once, then one request per 1/rate, and after a pause the burst is back."""
    import aiaudit.http as http_mod

    clock = [100.0]
    monkeypatch.setattr(http_mod.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(http_mod.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    gate = http_mod._HostGate(concurrency=8, rate=5.0, burst=3)

    def starts(n: int) -> list[float]:
        out = []
        for _ in range(n):
            gate.wait_turn()
            out.append(round(clock[0] - 100.0, 6))
        return out

    assert starts(6) == [0.0, 0.0, 0.0, 0.2, 0.4, 0.6]
    clock[0] += 10.0  # idle: the bucket fills up again, to the burst and no more
    assert starts(4) == [10.6, 10.6, 10.6, 10.8]


def test_rate_limit_burst_on_the_wire(server: HostileServer) -> None:
    """Real requests: never more than burst + rate * t within t seconds (lower bounds
    only, which a slow machine cannot break)."""
    n, rate, burst = 8, 5.0, 3
    with SafeClient(per_host_rate=rate, per_host_burst=burst, per_host_concurrency=8) as c:
        with ThreadPoolExecutor(max_workers=n) as pool:
            statuses = list(pool.map(lambda _: c.get(ANYTHING, server.url("/ok")).status,
                                     range(n)))
        starts = sorted(r.started for r in c.records)
    assert statuses == [200] * n
    for i, first in enumerate(starts):
        for j in range(i + burst, n):
            assert starts[j] - first >= (j - i - burst + 1) / rate - 0.02, (i, j, starts)


def test_rate_limit_is_per_host(server: HostileServer) -> None:
    with HostileServer() as other, SafeClient(per_host_rate=5.0, per_host_burst=1) as c:
        t0 = time.monotonic()
        c.get(ANYTHING, server.url("/ok"))
        c.get(ANYTHING, other.url("/ok"))  # different port = different host key
        assert time.monotonic() - t0 < 0.15
        c.get(ANYTHING, server.url("/ok"))  # same host: waits for its slot
        assert time.monotonic() - t0 >= 0.18


# ------------------------------------------------------------------- 9. retries


def test_get_is_retried_post_is_not(server: HostileServer) -> None:
    with SafeClient(retries=2, per_host_rate=None) as c:
        g = c.get(ANYTHING, server.url("/hangup"))
        p = c.request(ANYTHING, "POST", server.url("/hangup"), json={"x": 1})
    assert g.status is None and g.error_kind == "protocol"
    assert g.error == "connection closed without response"
    assert g.attempts == 3 and server.hits[("GET", "/hangup")] == 3
    assert p.status is None and p.attempts == 1 and server.hits[("POST", "/hangup")] == 1
    assert [r.method for r in c.records] == ["GET", "GET", "GET", "POST"]


def test_connect_failure_is_retried_for_get_only() -> None:
    url = f"http://127.0.0.1:{free_port()}/x"
    with SafeClient(retries=1, per_host_rate=None) as c:
        g = c.get(ANYTHING, url)
        p = c.request(ANYTHING, "POST", url)
    assert (g.error_kind, g.attempts, p.error_kind, p.attempts) == ("connect", 2, "connect", 1)
    assert len(c.records) == 3


def test_http_errors_are_not_retried(server: HostileServer) -> None:
    with SafeClient(retries=3, per_host_rate=None) as c:
        r = c.get(ANYTHING, server.url("/missing"))
    assert r.status == 404 and r.attempts == 1 and server.hits[("GET", "/missing")] == 1


# ------------------------------------------------------------ 10. headers on the wire


def test_user_agent_and_host_headers(server: HostileServer, client: SafeClient) -> None:
    seen = client.get(ANYTHING, server.url("/echo")).json()
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["user-agent"] == DEFAULT_USER_AGENT
    assert headers["host"] == f"127.0.0.1:{server.port}"
    assert "python" not in json.dumps(headers).lower()
    assert "cookie" not in headers


# ------------------------------------------------------------------- redirects


def test_redirects_not_followed_by_default(server: HostileServer, client: SafeClient) -> None:
    r = client.get(ANYTHING, server.url("/redirect?to=/ok"))
    assert r.status == 302 and r.headers["location"] == "/ok"
    assert server.hits[("GET", "/ok")] == 0


def test_redirect_followed_when_asked_and_rechecked(server: HostileServer,
                                                    client: SafeClient) -> None:
    r = client.get(ANYTHING, server.url("/redirect?to=/ok"), allow_redirects=True)
    assert r.status == 200 and r.url == server.url("/ok")
    assert [rec.status for rec in client.records] == [302, 200]
    # 307 keeps the POST: a redirect into the deny list is not followed.
    r = client.request(ANYTHING, "POST", server.url("/redirect?code=307&to=/api/pull"),
                       json={}, allow_redirects=True)
    assert r.status == 307 and r.error_kind == "other" and "hard deny list" in (r.error or "")
    # A redirect to another host is not followed either.
    r = client.get(ANYTHING, server.url("/redirect?to=http://example.invalid/"),
                   allow_redirects=True)
    assert r.status == 302 and "leaves the audited http://127.0.0.1:" in (r.error or "")
    assert server.hits[("POST", "/api/pull")] == 0 and len(client.records) == 4


def test_redirect_to_another_port_scheme_or_userinfo_host_is_not_followed(
        server: HostileServer, client: SafeClient) -> None:
    """Same host name is not enough: another port or scheme is another service (SSRF onto
    loopback), and ``http://a@b/`` goes to ``b``."""
    with HostileServer() as other:
        for to in (other.url("/ok"), server.url("/ok", scheme="https"),
                   f"//127.0.0.1:{other.port}/ok",
                   f"http://127.0.0.1:{server.port}@127.0.0.1:{other.port}/ok"):
            r = client.get(ANYTHING, server.url("/redirect?to=" + quote(to, safe="")),
                           allow_redirects=True)
            assert r.status == 302 and "redirect leaves the audited" in (r.error or ""), r
        assert other.connections == 0
    assert len(client.records) == 4  # the four redirects, no hop


# ------------------------------------------------------------------- thread safety


def test_records_are_consistent_under_concurrency(server: HostileServer) -> None:
    with SafeClient(per_host_concurrency=8, per_host_rate=None) as c:
        barrier = threading.Barrier(16)

        def hit(i: int) -> int | None:
            barrier.wait()
            return c.get(ANYTHING, server.url(f"/ok?i={i}")).status

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(hit, range(64)))
    assert statuses == [200] * 64
    assert len(c.records) == 64 and server.hits[("GET", "/ok")] == 64
    assert sorted(r.url for r in c.records) == sorted(server.url(f"/ok?i={i}")
                                                      for i in range(64))


# ------------------------------------------------ 9. reasons, host budgets, interrupts


def test_reasons_name_the_cause(server: HostileServer) -> None:
    with SafeClient(max_bytes=100_000, total_timeout=1.0, read_timeout=0.5, retries=0,
                    per_host_rate=None) as c:
        announced = c.get(ANYTHING, server.url("/big"))
        endless = c.get(ANYTHING, server.url("/forever"))
        dripping = c.get(ANYTHING, server.url("/forever?size=10&gap=0.05"))
        short = c.get(ANYTHING, server.url("/short?size=1000&sent=10"))
        slow = c.get(ANYTHING, server.url("/slow?delay=3"))
        refused = c.get(ANYTHING, f"http://127.0.0.1:{free_port()}/")
        fat_line = c.get(ANYTHING, server.url("/fat-headers?lines=1"))
        many = c.get(ANYTHING, server.url("/fat-headers?lines=500"))
    assert announced.cause == "response too large: announced 104857600 bytes (limit 100000)"
    assert endless.cause == "response too large: more than 100000 bytes read (limit 100000)"
    assert (announced.cut_kind, endless.cut_kind) == ("size", "size")
    assert dripping.cause.startswith("stream did not end within 1.0s (total time limit; ")
    assert dripping.timed_out and not announced.timed_out
    assert short.cause == "truncated body: connection closed after 10 of 1000 announced bytes"
    assert slow.cause == "timed out after 0.5s waiting for response" and slow.timed_out
    assert refused.cause == "connection refused"
    assert fat_line.cause == "response too large: a header line over 64 KiB"
    assert many.cause == "response too large: got more than 100 headers"
    assert all("\n" not in r.cause for r in (announced, endless, dripping, short, slow, refused))


def test_host_budget_gives_up_on_a_host_after_its_first_timeout() -> None:
    with HostileServer() as drip, HostileServer() as fine, SafeClient(
            host_budget=1.5, total_timeout=10.0, read_timeout=5.0, per_host_rate=None) as c:
        t0 = time.monotonic()
        first = c.get(ANYTHING, drip.url("/trickle?gap=0.2"))
        took = time.monotonic() - t0
        later = [c.get(ANYTHING, drip.url("/ok")) for _ in range(5)]
        elsewhere = c.get(ANYTHING, fine.url("/ok"))
        total = time.monotonic() - t0
    assert 1.4 <= took < 2.2, took  # the budget, not the 10 s request limit
    assert first.cut_kind == "time" and "host budget of 1.5s used up" in first.cause
    assert all(r.error_kind == "skipped" and r.status is None for r in later)
    assert "given up after its first timeout (GET /trickle: " in later[0].cause
    assert "stream did not end" in later[0].cause  # the first timeout, named
    assert drip.hits[("GET", "/ok")] == 0  # skipped means not sent
    assert c.host_problem(drip.url("/")) and c.host_problem(fine.url("/")) is None
    assert elsewhere.status == 200 and total < 2.5


def test_host_budget_counts_only_time_spent_on_that_host(server: HostileServer) -> None:
    # The pauses between requests add up to more than the whole budget: were they charged,
    # the last request would not be sent at all. What the last request may still take is
    # bounded by the requests' own time (each at least its 0.2 s delay), so the proof needs
    # no assumption about how fast this machine answers.
    budget = 2.5
    with SafeClient(host_budget=budget, per_host_rate=None) as c:
        earlier = []
        for _ in range(3):
            earlier.append(c.get(ANYTHING, server.url("/slow?delay=0.2")))
            time.sleep(0.9)  # the audit busy elsewhere: not charged to this host
        earlier.append(c.get(ANYTHING, server.url("/ok")))
        late = c.get(ANYTHING, server.url("/slow?delay=30"))
    assert [r.status for r in earlier] == [200] * 4
    spent = sum(r.elapsed for r in earlier)  # an upper bound of what was charged
    assert late.error_kind == "timeout" and f"host budget of {budget}s used up" in late.cause
    assert late.elapsed >= budget - spent - 0.05, (late.elapsed, spent)  # pauses not charged
    assert late.elapsed < budget - 0.1, late.elapsed  # the requests' time was charged


def test_abort_abandons_requests_in_flight_at_once(server: HostileServer) -> None:
    with SafeClient(read_timeout=30.0, total_timeout=60.0, per_host_rate=None) as c:
        out: list[HttpResult] = []
        worker = threading.Thread(target=lambda: out.append(
            c.get(ANYTHING, server.url("/trickle?gap=0.2"))), daemon=True)
        worker.start()
        assert wait_for(lambda: server.connections > 0)
        time.sleep(0.3)
        t0 = time.monotonic()
        c.abort("the audit was interrupted (SIGINT)")
        worker.join(2.0)
        took = time.monotonic() - t0
        after = c.get(ANYTHING, server.url("/ok"))
    assert not worker.is_alive() and took < 1.0
    assert out[0].error_kind == "interrupted" and "interrupted (SIGINT)" in out[0].cause
    assert after.error_kind == "interrupted" and after.cause.startswith("not sent:")
    assert server.hits[("GET", "/ok")] == 0


# ------------------------------------------- 10. hostile heads (selftests/hostile_more.py)


def _against(persona: Any, path: str = "/api/tags") -> HttpResult:
    with HostileServer(persona=persona) as srv, SafeClient(per_host_rate=None,
                                                           retries=0) as c:
        return c.get(ANYTHING, srv.url(path))


def test_interim_answers_are_skipped_not_taken_for_the_answer() -> None:
    """``103 Early Hints`` before the answer: http.client alone returns the 103 (empty)."""
    r = _against(hostile_more.OllamaEarlyHints())
    assert r.status == 200 and r.error is None and b'"models"' in r.body, r


def test_endless_100_continue_is_cut_after_twenty() -> None:
    r = _against(hostile_more.OllamaEndlessContinue())
    assert r.status is None and r.elapsed < 2.0, r
    assert r.error == "more than 20 interim (1xx) responses and no final one"


def test_a_head_cut_by_the_server_closing_is_not_an_empty_answer() -> None:
    r = _against(hostile_more.CloseAfterStatus())
    assert r.status is None and r.error == "connection closed after the status line", r


def test_a_content_coding_this_client_cannot_undo_is_named() -> None:
    r = _against(hostile_more.OllamaEncoded("br"))
    assert r.status == 200 and r.error_kind == "protocol", r
    assert r.error == "Content-Encoding 'br' that this client cannot decode (2048 bytes kept " \
                      "as sent)"


def test_a_deflate_bomb_is_cut_after_the_cap_of_inflated_bytes() -> None:
    with HostileServer(persona=hostile_more.OllamaEncoded("deflate")) as srv, SafeClient(
            per_host_rate=None) as c:
        r = c.get(ANYTHING, srv.url("/api/tags"), max_bytes=64_000)
    assert r.status == 200 and len(r.body) == 64_000 and r.cut_kind == "size", r
    assert "after Content-Encoding 'deflate'" in (r.cut or "")


def test_a_reset_on_accept_reads_as_a_reset() -> None:
    with HostileServer(persona=hostile_more.ResetOnAccept()) as srv, SafeClient(
            per_host_rate=None, retries=0) as c:
        errors = {c.get(ANYTHING, srv.url("/")).error for _ in range(20)}
    assert errors <= {"connection reset by peer", "connection reset by peer (on connect)",
                      "connection closed without response"}, errors  # RST or a bare EOF
