"""Real, misbehaving HTTP(S) servers for the SafeClient self-tests.

Each :class:`HostileServer` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with an
ephemeral port, running in a daemon thread. It counts every TCP connection it accepts and
every request line it parses, so tests can prove what the client did (or did not) send.

Paths (query parameters in brackets):

``/ok``          200 JSON ``{"ok": true}``
``/echo``        200 JSON with the method, path and request headers as received
``/notjson``     200 text that is not JSON
``/forever``     chunked body that never ends [size=bytes per chunk, gap=seconds]
``/slow``        sleeps before sending anything [delay=seconds]
``/trickle``     headers at once, then one body byte every [gap=0.2] seconds, forever
                 [close=1 adds "Connection: close", so the client's connection object
                 lets go of the socket]
``/trickle-headers``  status line, then one header line every [gap=0.2] s, forever
``/big``         Content-Length [size=100 MB], and really writes it
``/inflight``    holds the request [hold=0.2 s]; tracks the peak of concurrent requests
``/hangup``        closes the socket without answering
``/short``       announces [size=1000] bytes, sends [sent=10], closes (truncated body)
``/redirect``    [code=302] redirect to [to=/ok]
anything else    404

A ``persona`` (see the end of this module) replaces those paths with a faithful imitation
of a real product that misbehaves: a drip Ollama, an endless vLLM stream, 200 MB from LM
Studio, LiteLLM's malformed JSON, script in KoboldCpp's banners, an in-house API no catalog
knows, nginx whose auth_basic is bypassed by X-Forwarded-For, OpenSSH on an AI port, a
banner of script, a gzip bomb, redirects off the audited host and in loops, a TLS handshake
sent one byte at a time, invalid UTF-8 and control characters, and a 1 MB header line.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

BIG_SIZE = 100 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # socketserver's default backlog of 5 drops SYNs when many probes connect at once and
    # this busy test process is slow to accept: the audit's 1 s connect scan then finds the
    # port closed (a SYN is only resent after 1 s). Real servers listen with 128 or more.
    request_queue_size = 128
    owner: HostileServer

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self.owner.lock:
            self.owner.connections += 1
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-stream is the point of these tests


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Server6Only(_Server6):
    """Bound to `[::]` taking no IPv4 (IPV6_V6ONLY; ss shows `[::]:PORT`, not `*:PORT`):
    another service may hold the same port on IPv4."""

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        ctx = self.server.owner.tls_context
        if ctx is not None:  # handshake in the handler thread, never in accept()
            self.request.settimeout(5)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()
        greet = getattr(self.server.owner.persona, "on_connect", None)
        if greet is not None:  # banner-first protocols speak before the client does
            greet(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with owner.lock:
            owner.hits[(self.command, parts.path)] += 1
            owner.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers),
                 "at": time.monotonic()}
            )
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if owner.persona is not None:
            owner.persona.handle(self, parts.path, query)
            return
        handler = getattr(self, "do_path_" + parts.path.strip("/").replace("-", "_"), None)
        if handler is None:
            self._send(404, b"not found", "text/plain")
            return
        handler(query)

    do_GET = do_POST = do_HEAD = do_OPTIONS = do_DELETE = do_PUT = _dispatch

    # -- helpers --------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _stopped(self, seconds: float) -> bool:
        return self.server.owner.stop.wait(seconds)

    # -- endpoints ------------------------------------------------------------------------

    def do_path_ok(self, q: dict[str, str]) -> None:
        self._send(200, b'{"ok": true}')

    def do_path_notjson(self, q: dict[str, str]) -> None:
        self._send(200, b"<html>definitely not json</html>", "text/html")

    def do_path_echo(self, q: dict[str, str]) -> None:
        body = {"method": self.command, "path": self.path, "headers": dict(self.headers)}
        self._send(200, json.dumps(body).encode())

    def do_path_forever(self, q: dict[str, str]) -> None:
        size, gap = int(q.get("size", 65536)), float(q.get("gap", 0))
        chunk = b"%x\r\n" % size + b"x" * size + b"\r\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while not self._stopped(gap):
                self.wfile.write(chunk)
        except OSError:
            self.close_connection = True

    def do_path_slow(self, q: dict[str, str]) -> None:
        if not self._stopped(float(q.get("delay", 3))):
            try:
                self._send(200, b'{"slow": true}')
            except OSError:
                self.close_connection = True

    def do_path_trickle(self, q: dict[str, str]) -> None:
        gap = float(q.get("gap", 0.2))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(10**9))
        if q.get("close") == "1":
            self.send_header("Connection", "close")
        self.end_headers()
        try:
            while not self._stopped(gap):
                self.wfile.write(b".")
                self.wfile.flush()
        except OSError:
            self.close_connection = True

    def do_path_trickle_headers(self, q: dict[str, str]) -> None:
        gap = float(q.get("gap", 0.2))
        try:
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            n = 0
            while not self._stopped(gap):
                n += 1
                self.wfile.write(b"X-Drip-%d: y\r\n" % n)
                self.wfile.flush()
        except OSError:
            self.close_connection = True

    def do_path_big(self, q: dict[str, str]) -> None:
        owner = self.server.owner
        size = int(q.get("size", BIG_SIZE))
        block = b"B" * (1 << 16)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        try:
            while sent < size and not owner.stop.is_set():
                piece = block[: min(len(block), size - sent)]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:
            self.close_connection = True
        finally:
            with owner.lock:
                owner.big_sent.append(sent)

    def do_path_inflight(self, q: dict[str, str]) -> None:
        owner = self.server.owner
        with owner.lock:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
        try:
            self._stopped(float(q.get("hold", 0.2)))
        finally:
            with owner.lock:
                owner.in_flight -= 1
        self._send(200, b'{"held": true}')

    def do_path_short(self, q: dict[str, str]) -> None:
        """Announces [size=1000] bytes, sends [sent=10], hangs up: a truncated body."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", q.get("size", "1000"))
        self.end_headers()
        self.wfile.write(b"{" * int(q.get("sent", 10)))
        self.wfile.flush()
        self.close_connection = True

    def do_path_fat_headers(self, q: dict[str, str]) -> None:
        """[lines=1] one header line of 100 KB, or [lines=N] N small header lines."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        n = int(q.get("lines", 1))
        for i in range(n):
            self.wfile.write(b"X-Fat-%d: %s\r\n" % (i, b"f" * (100_000 if n == 1 else 8)))
        self.wfile.write(b"Content-Length: 0\r\n\r\n")
        self.close_connection = True

    def do_path_hangup(self, q: dict[str, str]) -> None:
        self.close_connection = True  # returning without a byte makes the server hang up

    def do_path_redirect(self, q: dict[str, str]) -> None:
        self.send_response(int(q.get("code", 302)))
        self.send_header("Location", q.get("to", "/ok"))
        self.send_header("Content-Length", "0")
        self.end_headers()


class HostileServer:
    """Context manager: ``with HostileServer() as srv: srv.url("/ok")``."""

    def __init__(self, tls_context: ssl.SSLContext | None = None,
                 persona: Any = None, port: int = 0, host: str = "127.0.0.1") -> None:
        self.tls_context = tls_context
        self.persona = persona  # a selftests.hostile_products persona answers every request
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.hits: Counter[tuple[str, str]] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.big_sent: list[int] = []
        self.host = host
        # "::1": an IPv6-only listener; "::": all IPv6 addresses, no IPv4 (IPV6_V6ONLY)
        server_cls = _Server if ":" not in host else _Server6Only if host == "::" else _Server6
        self._httpd = server_cls((host, port), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def scheme(self) -> str:
        return "https" if self.tls_context else "http"

    def url(self, path: str = "/", scheme: str | None = None) -> str:
        host = "[::1]" if self.host == "::" else f"[{self.host}]" if ":" in self.host else (
            self.host)
        return f"{scheme or self.scheme}://{host}:{self.port}{path}"

    def total_hits(self) -> int:
        with self.lock:
            return sum(self.hits.values())

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def wait_for(predicate: Any, timeout: float = 3.0) -> bool:
    """Poll ``predicate`` until true or ``timeout``; server threads finish asynchronously."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def listening(ports: Any) -> bool:
    """Whether something accepts connections on every one of these loopback ports (a real
    proxy or server the test started)."""
    for port in ports:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
    return True


def cases_by_server(doc: dict, ports: dict[str, int]) -> dict[tuple[str, str], dict]:
    """{(control, server name): case} of one audit's JSON report over servers started on
    these ports (a case whose id ends in another port keeps its id)."""
    by_port = {p: n for n, p in ports.items()}
    out = {}
    for control in doc["controls"]:
        for case in control["cases"]:
            port = re.search(r":(\d+)$", case["case"])
            name = by_port.get(int(port.group(1))) if port else None
            out[(control["id"], name or case["case"])] = case
    return out


def audit_ports(tmp: Path, ports: dict[str, int], budget: float, root: Path) -> dict[str, Any]:
    """One network audit (`tests_exposure`, JSON + SARIF + JUnit) of the hostile set's
    ports from this machine: the run, its report, its time and the cases by server."""
    import sys

    cfg = tmp / "audit.toml"
    cfg.write_text(f"[exposure]\nextra_ports = {sorted(ports.values())}\n"
                   f"host_budget_seconds = {budget}\n")
    out = tmp / "r"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           "--target=127.0.0.1", f"--audit-config={cfg}", f"--report-dir={out}",
           f"--sarif={out / 'audit.sarif'}", f"--junitxml={out / 'junit.xml'}",
           "tests_exposure"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    doc = json.loads((out / "latest.json").read_text())
    return {"proc": proc, "doc": doc, "took": took, "ports": ports, "out": out,
            "cases": cases_by_server(doc, ports)}


def free_port() -> int:
    """A port nothing listens on (bound then released), for connection-refused tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------
# Deceptive product imitations: each persona answers like the real product it pretends to
# be (routes, bodies, headers as the real server sends them) and then misbehaves. Used by
# the exposure self-tests that audit them all at once (selftests/test_exposure_hostile.py).
# ------------------------------------------------------------------------------------------

_HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect",
            401: "Unauthorized", 404: "Not Found"}


def raw_response(status: int, headers: list[tuple[str, str]], body: bytes,
                 length: bool = True) -> bytes:
    """The exact bytes of one HTTP/1.1 response (no Server header unless given)."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}",
             f"Date: {time.strftime(_HTTP_DATE, time.gmtime())}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# Ollama (server/routes.go): gin answers "/" and HEAD "/" with c.String -> text/plain;
# /api/version and /api/tags with c.JSON; unknown routes with gin's "404 page not found".
# Go's net/http sends no Server header.
GO_TEXT = [("Content-Type", "text/plain; charset=utf-8")]
GO_JSON = [("Content-Type", "application/json; charset=utf-8")]
OLLAMA_TAG = {
    "name": "llama3.2:latest", "model": "llama3.2:latest",
    "modified_at": "2025-01-14T10:07:21.492367155Z", "size": 2019393189,
    "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
    "details": {"parent_model": "", "format": "gguf", "family": "llama",
                "families": ["llama"], "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M"},
}


def ollama_routes(version: str = "0.5.7", tags: list[dict] | None = None) -> dict[str, bytes]:
    models = tags if tags is not None else [OLLAMA_TAG]
    openai = {"object": "list", "data": [
        {"id": m["name"], "object": "model", "created": 1736849241, "owned_by": "library"}
        for m in models]}
    return {
        "/": raw_response(200, GO_TEXT, b"Ollama is running"),
        "/api/version": raw_response(200, GO_JSON, _json({"version": version})),
        "/api/tags": raw_response(200, GO_JSON, _json({"models": models})),
        "/v1/models": raw_response(200, GO_JSON, _json(openai)),
    }


GIN_404 = raw_response(404, GO_TEXT, b"404 page not found")
# Ollama's answers to a POST with an empty body: server/routes.go ChatHandler
# (ShouldBindJSON hits io.EOF: 400 "missing request body"); openai/openai.go
# ChatMiddleware (its bind error, wrapped in OpenAI's error shape)
OLLAMA_EMPTY_POSTS = {
    "/api/chat": raw_response(400, GO_JSON, b'{"error":"missing request body"}'),
    "/v1/chat/completions": raw_response(
        400, GO_JSON, b'{"error":{"message":"EOF","type":"invalid_request_error",'
                      b'"param":null,"code":null}}'),
}


class Persona:
    """Answers every request of a :class:`HostileServer` like ``product`` would."""

    product = "?"
    misbehaviour = "?"

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.posts: dict[str, bytes] = {}  # what a POST gets (the audit's empty-body POST)
        self.not_found = GIN_404

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.command == "POST" and path in self.posts:
            self.write(h, self.posts[path], path)
            return
        self.write(h, self.routes.get(path, self.not_found), path)

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        if h.command == "HEAD":
            data = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        try:
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


class OllamaDrip(Persona):
    """A real-looking Ollama that sends every answer one byte every ``gap`` seconds,
    status line included: each request would cost the whole timeout."""

    product, misbehaviour = "Ollama", "drips one byte every 0.5 s"

    def __init__(self, gap: float = 0.5) -> None:
        super().__init__()
        self.routes = ollama_routes()
        self.gap = gap

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        try:
            for i in range(len(data)):
                if h._stopped(self.gap):
                    break
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


# vLLM runs under uvicorn: lower-case headers, "server: uvicorn", FastAPI's 404 body.
UVICORN_JSON = [("server", "uvicorn"), ("content-type", "application/json")]
FASTAPI_404 = raw_response(404, UVICORN_JSON, b'{"detail":"Not Found"}')


class VllmEndlessStream(Persona):
    """vLLM's /version, but /v1/models is a chunked body that never ends (a few model
    entries every 50 ms: never too large quickly, never finished)."""

    product, misbehaviour = "vLLM", "streams /v1/models forever"

    def __init__(self) -> None:
        super().__init__()
        self.not_found = FASTAPI_404
        self.routes = {"/version": raw_response(200, UVICORN_JSON, b'{"version":"0.6.3"}')}

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if path != "/v1/models":
            return super().handle(h, path, query)
        head = UVICORN_JSON + [("transfer-encoding", "chunked")]
        piece = b'{"id":"meta-llama/Llama-3.2-1B","object":"model","owned_by":"vllm"},'
        try:
            h.wfile.write(raw_response(200, head, b"", length=False))
            first = b'{"object":"list","data":['
            h.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
            while not h._stopped(0.05):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


# LM Studio's server is Express: X-Powered-By, charset in the type, a weak ETag.
EXPRESS_JSON = [("X-Powered-By", "Express"), ("Content-Type", "application/json; charset=utf-8"),
                ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")]
HUGE_SIZE = 200 * 1024 * 1024


class LmStudioHuge(Persona):
    """LM Studio's /v1/models answering 200 MB: with Content-Length (announced) or
    delimited by closing the connection (unannounced)."""

    product = "LM Studio"

    def __init__(self, announced: bool) -> None:
        super().__init__()
        self.announced = announced
        self.misbehaviour = f"200 MB /v1/models ({'announced' if announced else 'unannounced'})"
        self.not_found = raw_response(404, EXPRESS_JSON,
                                      b'{"error":"Unexpected endpoint or method."}')
        self.sent: list[int] = []

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if path != "/v1/models":
            return super().handle(h, path, query)
        head = [k for k in EXPRESS_JSON if k[0] not in ("Connection", "Keep-Alive")]
        head += [("Content-Length", str(HUGE_SIZE))] if self.announced else [
            ("Connection", "close")]
        block = b'{"id":"qwen2.5-7b-instruct","object":"model","owned_by":"organization_owner"},'
        block = block * (65536 // len(block))
        sent = 0
        try:
            h.wfile.write(raw_response(200, head, b'{"data":[', length=False))
            while sent < HUGE_SIZE and not h.server.owner.stop.is_set():
                h.wfile.write(block)
                sent += len(block)
        except OSError:
            pass
        finally:
            self.sent.append(sent)
        h.close_connection = True


class LiteLLMMalformed(Persona):
    """LiteLLM's liveliness answer, but its JSON reads are cut mid-document with a
    matching Content-Length (nothing wrong on the wire: the JSON itself is broken)."""

    product, misbehaviour = "LiteLLM proxy", "malformed JSON"

    def __init__(self) -> None:
        super().__init__()
        self.not_found = FASTAPI_404
        cut = b'{"data":[{"id":"gpt-4o","object":"model","created":1677610602,"owned_by":"op'
        self.routes = {
            "/health/liveliness": raw_response(200, UVICORN_JSON, b'"I\'m alive!"'),
            "/v1/models": raw_response(200, UVICORN_JSON, cut),
            "/model/info": raw_response(200, UVICORN_JSON, b'{"data":[{"model_name":"gpt-4o",'),
            "/openapi.json": raw_response(200, UVICORN_JSON, b'{"openapi":"3.1.0","info":{"ti'),
        }


SCRIPT = "<script>alert('aiaudit-xss')</script>"
IMG = '<img src=x onerror="alert(1)">'


class KoboldCppScript(Persona):
    """KoboldCpp (Python http.server, its own Server banner) whose version and model
    names carry script, and which also serves Ollama's /api/tags, as KoboldCpp's Ollama
    emulation does: one service imitating another's API."""

    product, misbehaviour = "KoboldCpp", "script in banners; emulates Ollama"

    def __init__(self) -> None:
        super().__init__()
        head = [("Server", f"ConcedoLlamaForKoboldServer {IMG}"),
                ("Content-Type", "application/json")]
        self.not_found = raw_response(404, head, b'{"detail":{"msg":"Error: HTTP Server is '
                                      b'running, but this endpoint does not exist.",'
                                      b'"type":"bad_input"}}')
        tag = dict(OLLAMA_TAG, name=f"koboldcpp{SCRIPT}", model="koboldcpp:latest")
        self.routes = {
            "/api/extra/version": raw_response(200, head, _json(
                {"result": "KoboldCpp", "version": f"1.80{SCRIPT}", "protected": False,
                 "txt2img": False})),
            "/api/v1/model": raw_response(200, head, _json({"result": f"koboldcpp/{SCRIPT}"})),
            "/v1/models": raw_response(200, head, _json(
                {"object": "list", "data": [{"id": f"koboldcpp/{SCRIPT}", "object": "model",
                                             "created": 1, "owned_by": "koboldcpp"}]})),
            "/api/tags": raw_response(200, head, _json({"models": [tag]})),
        }


class HomegrownJson(Persona):
    """An in-house inference gateway no catalog knows: JSON data on "/", 404 elsewhere."""

    product, misbehaviour = "unknown in-house API", "unidentified, serves data unauthenticated"

    def __init__(self) -> None:
        super().__init__()
        head = [("Content-Type", "application/json")]
        self.not_found = raw_response(404, head, b'{"error":"no such route"}')
        self.routes = {"/": raw_response(200, head, _json(
            {"service": "inference-gw", "models": ["llama3-70b"], "queue": 0}))}


# nginx's own 401 page for auth_basic, byte for byte (ngx_http_special_response.c).
NGINX_VERSION = "nginx/1.24.0"
NGINX_401 = (b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
             b"<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>"
             + NGINX_VERSION.encode() + b"</center>\r\n</body>\r\n</html>\r\n")


class NginxXffGateway(Persona):
    """nginx in front of Ollama with the classic mistake: ``satisfy any; allow 127.0.0.1;
    deny all; auth_basic ...`` plus ``set_real_ip_from 0.0.0.0/0; real_ip_header
    X-Forwarded-For`` so any client claiming to be 127.0.0.1 skips the password."""

    product, misbehaviour = "nginx + Ollama", "X-Forwarded-For: 127.0.0.1 bypasses auth_basic"

    def __init__(self) -> None:
        super().__init__()
        self.backend = ollama_routes()

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        client = (h.headers.get("X-Forwarded-For") or "").split(",")[-1].strip()
        if client != "127.0.0.1":
            self.write(h, raw_response(401, [
                ("Server", NGINX_VERSION), ("Content-Type", "text/html"),
                ("WWW-Authenticate", 'Basic realm="LLM"')], NGINX_401), path)
            return
        upstream = self.backend.get(path, GIN_404)
        head, _, body = upstream.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        lines.insert(1, b"Server: " + NGINX_VERSION.encode())  # proxy_pass sets its own
        self.write(h, b"\r\n".join(lines) + b"\r\n\r\n" + body, path)


class SshBanner(Persona):
    """OpenSSH on a port the audit config calls an AI service's: the server speaks first
    (RFC 4253 section 4.2: its identification string on connect), never HTTP."""

    product, misbehaviour = "OpenSSH", "not HTTP at all"
    BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"

    def on_connect(self, h: _Handler) -> None:
        try:
            h.wfile.write(self.BANNER)
            h.wfile.flush()
        except OSError:
            pass

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        h.close_connection = True  # sshd drops a peer whose identification is not SSH-2.0


class ScriptBanner(SshBanner):
    """A banner-first listener whose banner is markup: the reason quotes it, so every
    report must escape it."""

    product, misbehaviour = "banner-first listener", "script in its banner"
    BANNER = SCRIPT.encode() + b"\r\n"


def gzip_bomb(members: int, member_mib: int = 16) -> bytes:
    """``members`` gzip members of ``member_mib`` MiB of zeros each, concatenated (one
    valid gzip stream, RFC 1952 section 2.2): about 16 KB per member on the wire."""
    one = gzip.compress(bytes(member_mib << 20), compresslevel=9, mtime=0)
    return one * members


class OllamaGzipBomb(Persona):
    """Ollama's routes, but its JSON reads come back compressed although the client asked
    for ``Accept-Encoding: identity``, each body smaller than any read limit on the wire:
    /api/tags is ``Content-Encoding: gzip, gzip`` (6.5 KB inflating to 4 GiB of zeros),
    /api/version and /v1/models are ``gzip`` (49 KB inflating to 48 MiB)."""

    product, misbehaviour = "Ollama", "gzip bomb: 6.5 KB inflating to 4 GiB"

    def __init__(self) -> None:
        super().__init__()
        single = gzip_bomb(3)
        double = gzip.compress(gzip_bomb(256), compresslevel=9, mtime=0)
        self.inflates_to = {"/api/tags": 256 * (16 << 20), "/v1/models": 3 * (16 << 20)}
        self.routes = {"/": raw_response(200, GO_TEXT, b"Ollama is running"),
                       "/api/tags": raw_response(
                           200, GO_JSON + [("Content-Encoding", "gzip, gzip")], double)}
        for path in ("/api/version", "/v1/models"):
            self.routes[path] = raw_response(200, GO_JSON + [("Content-Encoding", "gzip")],
                                             single)


class RedirectTrap(Persona):
    """A login gateway that answers every read with a redirect: "/" to a host off the
    audited one (TEST-NET-3, RFC 5737), the model list into a loop, everything else to
    another port on loopback (``sink``, a server that counts who reaches it), with markup
    in one Location. Following any of them would leave the audited host:port."""

    product, misbehaviour = "login gateway", "redirects off-target and in loops"
    OFF_HOST = "http://203.0.113.7/login"

    def __init__(self, sink_port: int) -> None:
        super().__init__()
        self.sink = f"http://127.0.0.1:{sink_port}/collect"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if path == "/":
            where, code = self.OFF_HOST + "?next=" + SCRIPT, 302
        elif path in ("/v1/models", "/v1/models/"):
            where, code = ("/v1/models/" if path == "/v1/models" else "/v1/models"), 301
        else:
            where, code = self.sink, 307
        self.write(h, raw_response(code, [("Location", where),
                                          ("Content-Type", "text/html")], b""), path)


class SlowTlsHandshake(Persona):
    """An HTTPS-only listener that sends its side of the TLS handshake one byte every
    ``gap`` seconds (the handshake itself is real, through ``ssl.MemoryBIO``); plain HTTP
    gets the connection closed, as a TLS server drops a client that is not speaking TLS."""

    product, misbehaviour = "HTTPS listener", "drips its TLS handshake"

    def __init__(self, gap: float = 0.5) -> None:
        super().__init__()
        self.gap = gap
        self._dir = tempfile.TemporaryDirectory(prefix="aiaudit-slowtls-")
        self.context = self_signed_context(Path(self._dir.name))

    def on_connect(self, h: _Handler) -> None:
        sock: socket.socket = h.request
        sock.settimeout(5)
        try:
            first = sock.recv(16384)
        except OSError:
            return
        if not first.startswith(b"\x16\x03"):  # plain HTTP: hang up at once
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self.context.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(first)
        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pass
                flight = outgoing.read()
                for i in range(len(flight)):
                    if h._stopped(self.gap):
                        return
                    sock.sendall(flight[i:i + 1])
                more = sock.recv(16384)
                if not more:
                    return
                incoming.write(more)
        except (OSError, ssl.SSLError):
            return

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        h.close_connection = True


class OllamaBadBytes(Persona):
    """Ollama's routes with bytes no product should send: invalid UTF-8, a newline and a
    terminal escape inside its model names, a Latin-1 byte in a header."""

    product, misbehaviour = "Ollama", "invalid UTF-8, newlines and escapes in its answers"
    # raw bytes that are not UTF-8, JSON escapes for a newline and a terminal escape, and
    # U+009B (CSI, a C1 control JSON lets through raw) then U+202E (right-to-left override)
    NAME = (b"llama3\xff\xfe\xc3(:latest\\nFAKE: PASS\\u001b[2J"
            + "\u009b31m\u202e".encode())

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()
        head = GO_JSON + [("X-Model-Note", "caf\xe9 \xff")]
        tags = json.dumps({"models": [dict(OLLAMA_TAG, name="@N", model="@N")]})
        self.routes["/api/tags"] = raw_response(200, head,
                                                tags.encode().replace(b"@N", self.NAME))
        openai = b'{"object":"list","data":[{"id":"' + self.NAME + (
            b'","object":"model","created":1,"owned_by":"library"}]}')
        self.routes["/v1/models"] = raw_response(200, head, openai)


class OllamaFatHeader(Persona):
    """Ollama's routes behind a gateway that adds a 1 MB ``Set-Cookie`` to every answer."""

    product, misbehaviour = "Ollama", "a 1 MB header line"

    def __init__(self) -> None:
        super().__init__()
        cookie = ("Set-Cookie", "session=" + "A" * (1 << 20))
        self.routes = {path: raw.replace(b"\r\n", b"\r\n%s: %s\r\n" % (
            cookie[0].encode(), cookie[1].encode()), 1)
            for path, raw in ollama_routes().items()}
        self.not_found = GIN_404


def self_signed_context(where: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (openssl CLI)."""
    key, cert = where / "key.pem", where / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def personas(sink_port: int = 9) -> dict[str, Persona]:
    """One of each, keyed by a short name (``sink_port``: where the redirect trap points
    its on-loopback, off-port redirects)."""
    return {"drip": OllamaDrip(), "endless": VllmEndlessStream(),
            "huge-announced": LmStudioHuge(True), "huge-unannounced": LmStudioHuge(False),
            "malformed": LiteLLMMalformed(), "script": KoboldCppScript(),
            "homegrown": HomegrownJson(), "xff-gateway": NginxXffGateway(),
            "ssh": SshBanner(), "script-banner": ScriptBanner(),
            "gzip-bomb": OllamaGzipBomb(), "redirects": RedirectTrap(sink_port),
            "slow-tls": SlowTlsHandshake(), "bad-bytes": OllamaBadBytes(),
            "fat-header": OllamaFatHeader()}


def not_read_only(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests (a report's `requests` or a HostileServer's) that are neither a read
    (GET, HEAD, OPTIONS) nor the standard profile's one POST with an empty body on a
    generation route (probes.GENERATION_BODY: no prompt, nothing to generate)."""
    from aiaudit.exposure.probes import COMPLETION_PATHS, GENERATION_BODY
    routes = set(COMPLETION_PATHS.values())
    bad = []
    for r in requests:
        if r["method"] in ("GET", "HEAD", "OPTIONS"):
            continue
        path = urlsplit(r.get("url") or r.get("path") or "").path
        if "url" in r:  # the report's record: the probe that sent it
            empty = r.get("probe") == GENERATION_BODY.name
        else:  # what the server read: no body at all
            length = {k.lower(): v for k, v in r["headers"].items()}.get("content-length")
            empty = length in (None, "0")
        if not (r["method"] == "POST" and path in routes and empty):
            bad.append(r)
    return bad

