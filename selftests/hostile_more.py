"""More hostile and deceptive servers: the held-out kinds issue 12 did not try.

Each persona plugs into :class:`selftests.hostile_server.HostileServer` (a real socket on
loopback) and answers like the product it imitates (Ollama's routes and bytes, vLLM's
uvicorn headers) before misbehaving at one layer of HTTP: the response head dripped, endless
``100 Continue``, ``103 Early Hints`` before a real answer, Content-Length that lies either
way, a 2^63-byte chunk, deflate/zstd bombs and an undecodable ``br`` body, NUL and markup in
headers, an API key in its banners, redirects to another scheme/port/host, a tarpit, an
expired certificate, catch-all answers, a reset on accept, a head cut after the status line,
HTTP/0.9-style bytes, and 100k header lines. :func:`nginx_conf` writes the real nginx
configurations (sign-in page for every path, auth on some locations only, upstream down).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

from aiaudit.lab.realproxies import nginx_main_conf
from selftests.hostile_server import (
    GIN_404,
    GO_JSON,
    GO_TEXT,
    OLLAMA_EMPTY_POSTS,
    OLLAMA_TAG,
    UVICORN_JSON,
    Persona,
    _Handler,
    _json,
    ollama_routes,
    raw_response,
)


class OllamaHeadDrip(Persona):
    """Ollama whose status line comes at once, then the rest of the head one byte every
    ``gap`` s (slowloris on the response head, not the body)."""

    product, misbehaviour = "Ollama", "response head dripped after the status line"

    def __init__(self, gap: float = 0.5) -> None:
        super().__init__()
        self.routes, self.gap = ollama_routes(), gap

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        status, _, rest = data.partition(b"\r\n")
        try:
            h.wfile.write(status + b"\r\n")
            h.wfile.flush()
            for i in range(len(rest)):
                if h._stopped(self.gap):
                    break
                h.wfile.write(rest[i:i + 1])
                h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


class OllamaEndlessContinue(Persona):
    """Ollama that answers every request with ``100 Continue`` interim responses, 100 at a
    time every 10 ms, forever: never a final status."""

    product, misbehaviour = "Ollama", "endless 100 Continue"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        burst = b"HTTP/1.1 100 Continue\r\n\r\n" * 100
        try:
            while not h._stopped(0.01):
                h.wfile.write(burst)
        except OSError:
            pass
        h.close_connection = True


class OllamaEarlyHints(Persona):
    """An open Ollama behind a CDN-style front that sends ``103 Early Hints`` (RFC 8297)
    before every real answer: the interim response is not the answer."""

    product, misbehaviour = "Ollama", "103 Early Hints before every answer"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        hints = b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload; as=style\r\n\r\n"
        super().write(h, hints + data, path)


def _relength(raw: bytes, delta: int) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length:")]
    lines.append(b"Content-Length: %d" % max(0, len(body) + delta))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class OllamaLyingLength(Persona):
    """Ollama whose Content-Length lies by ``delta`` bytes and keeps the connection open:
    more than it sends (the client waits for bytes that never come) or fewer (the JSON is cut
    and the rest is left on the socket, where a reused connection reads it as the next
    answer's status line)."""

    product = "Ollama"

    def __init__(self, delta: int) -> None:
        super().__init__()
        self.misbehaviour = f"Content-Length off by {delta:+d}, keep-alive"
        self.routes = {p: _relength(raw, delta) for p, raw in ollama_routes().items()}
        self.not_found = _relength(GIN_404, delta)

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        if h.command == "HEAD":
            data = data.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        try:
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True  # otherwise keep-alive: the lie stays on the socket


class VllmHugeChunk(Persona):
    """vLLM (uvicorn) whose /v1/models announces one chunk of 2^63 bytes, sends a few
    hundred, and holds the connection."""

    product, misbehaviour = "vLLM", "a chunk of 2^63 bytes"

    def __init__(self) -> None:
        super().__init__()
        from selftests.hostile_server import FASTAPI_404
        self.not_found = FASTAPI_404
        self.routes = {"/version": raw_response(200, UVICORN_JSON, b'{"version":"0.6.3"}')}

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if path != "/v1/models":
            return super().handle(h, path, query)
        head = raw_response(200, UVICORN_JSON + [("transfer-encoding", "chunked")], b"",
                            length=False)
        piece = b'{"object":"list","data":[' + b'{"id":"m","object":"model"},' * 10
        try:
            h.wfile.write(head + b"8000000000000000\r\n" + piece)
            h.wfile.flush()
            h._stopped(30)
        except OSError:
            pass
        h.close_connection = True


class OllamaBadFraming(Persona):
    """Ollama whose answers are framed two ways at once: two Content-Length headers that
    disagree (``smuggling`` shape), or a chunked body whose chunk size is not hex."""

    product = "Ollama"

    def __init__(self, how: str) -> None:
        super().__init__()
        self.misbehaviour = how
        self.routes = {}
        for path, raw in ollama_routes().items():
            head, _, body = raw.partition(b"\r\n\r\n")
            if how == "two lengths":
                head += b"\r\nContent-Length: %d" % (len(body) + 7)
                self.routes[path] = head + b"\r\n\r\n" + body
            else:
                head = b"\r\n".join(ln for ln in head.split(b"\r\n")
                                     if not ln.lower().startswith(b"content-length"))
                self.routes[path] = (head + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     + b"zz\r\n" + body + b"\r\n0\r\n\r\n")


class OllamaTarpitOneRoute(Persona):
    """An open Ollama whose model list ``/api/tags`` (the first read an audit makes) drips
    one byte every 0.5 s; every other route answers at once."""

    product, misbehaviour = "Ollama", "drips only /api/tags"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        if path != "/api/tags":
            return super().write(h, data, path)
        try:
            for i in range(len(data)):
                if h._stopped(0.5):
                    break
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


def deflate_bomb(mib: int) -> bytes:
    """A zlib stream (HTTP's ``deflate``, RFC 9110 8.4.1.2) of ``mib`` MiB of zeros."""
    comp = zlib.compressobj(9)
    zero = bytes(1 << 20)
    return b"".join(comp.compress(zero) for _ in range(mib)) + comp.flush()


def zstd_bomb(mib: int) -> bytes:
    import zstandard
    return zstandard.ZstdCompressor(level=19).compress(bytes(mib << 20))


class OllamaEncoded(Persona):
    """Ollama whose JSON reads come compressed although ``identity`` was asked for:
    ``deflate`` and ``zstd`` bombs (MiBs of zeros from KBs), or ``br`` that this client
    cannot decode (random bytes labelled brotli)."""

    product = "Ollama"

    def __init__(self, encoding: str) -> None:
        super().__init__()
        self.misbehaviour = f"Content-Encoding {encoding} on JSON reads"
        body = {"deflate": lambda: deflate_bomb(16), "zstd": lambda: zstd_bomb(64),
                "br": lambda: bytes(range(256)) * 8}[encoding]()
        self.routes = {"/": raw_response(200, GO_TEXT, b"Ollama is running")}
        for path in ("/api/version", "/api/tags", "/v1/models"):
            self.routes[path] = raw_response(200, GO_JSON + [("Content-Encoding", encoding)],
                                             body)


XSS_VERSION = '0.5.7"><svg onload=alert(3)>'
XSS_MODEL = "</script><script>alert('aiaudit-xss2')</script>"


class OllamaHostileStrings(Persona):
    """An open Ollama whose Server header carries a NUL, a terminal escape and markup, and
    whose version and model names carry markup that closes a script block."""

    product, misbehaviour = "Ollama", "NUL, escapes and markup in headers and JSON"
    SERVER = "Ollama\x00\x1b[31m<b>bold</b>"

    def __init__(self) -> None:
        super().__init__()
        tag = dict(OLLAMA_TAG, name=XSS_MODEL, model=XSS_MODEL)
        self.routes = {p: raw.replace(b"\r\n", b"\r\nServer: "
                                      + self.SERVER.encode("latin-1") + b"\r\n", 1)
                       for p, raw in ollama_routes(XSS_VERSION, [tag]).items()}


# Secret-shaped values no real account owns (random, made for this test).
SECRETS = ("sk-proj-Xq7Lm2Rt9Vb4Nc8Kd1Fg5Hj3Wp6Zs0Ty2Ua4Ie8Oo1Pq3Rr5",
           "sk-ant-api03-Zr8Kp2Lm5Nq7Xv1Bc4Df6Gh9Jk3Ls0Mw2Pe5Rt8Yu1Io4Ap7Sd",
           "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")


class OllamaLeaksKey(Persona):
    """An open Ollama behind a debug gateway that prints an API key into its banner, a
    header, a model name and its 404 page."""

    product, misbehaviour = "Ollama", "API keys in its banner, headers and model names"

    def __init__(self) -> None:
        super().__init__()
        tag = dict(OLLAMA_TAG, name=f"llama3.2:latest OPENAI_API_KEY={SECRETS[0]}")
        leak = ("X-Upstream-Auth", f"Bearer {SECRETS[1]}")
        self.routes = {p: raw.replace(b"\r\n", b"\r\n%s: %s\r\n" % (
            leak[0].encode(), leak[1].encode()), 1)
            for p, raw in ollama_routes(tags=[tag]).items()}
        self.routes["/"] = raw_response(200, GO_TEXT + [leak],
                                        f"Ollama is running (HF_TOKEN={SECRETS[2]})".encode())
        self.not_found = raw_response(404, GO_TEXT, f"404 page not found; upstream key "
                                      f"{SECRETS[0]}".encode())


class SchemeHopper(Persona):
    """A login front that redirects every read to https on the same port, to the same
    host by a protocol-relative URL on another port, and through a userinfo trick."""

    product, misbehaviour = "login front", "redirects to another scheme, port and host"

    def __init__(self, sink_port: int) -> None:
        super().__init__()
        self.sink_port = sink_port

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        port = h.server.owner.port
        if path == "/":
            where = f"https://127.0.0.1:{port}/"
        elif path.startswith("/v1/"):
            where = f"//127.0.0.1:{self.sink_port}/collect"
        else:
            where = f"http://127.0.0.1:{port}@127.0.0.1:{self.sink_port}/collect"
        self.write(h, raw_response(308, [("Location", where), ("Content-Type", "text/html")],
                                   b""), path)


class Tarpit(Persona):
    """Accepts, reads the request and never answers nor closes (a TLS port that never
    finishes its handshake looks the same to a plain-HTTP client)."""

    product, misbehaviour = "tarpit", "never answers, never closes"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        h._stopped(60)
        h.close_connection = True


class CatchAllJson(Persona):
    """A honeypot answering 200 with the same JSON to every path, shaped to touch many
    catalog signatures at once (``version``, ``object: list``, ``data``, ``models``)."""

    product, misbehaviour = "catch-all JSON", "the same 200 JSON for every path"
    BODY = {"status": "ok", "version": "1.0.0", "object": "list", "data": [], "models": [],
            "detail": "ok"}

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        self.write(h, raw_response(200, [("Content-Type", "application/json")],
                                   _json(self.BODY)), path)


SPA = (b"<!doctype html><html><head><title>Workspace</title></head><body><div id=\"root\">"
       b"</div><script src=\"/assets/index-3f2a.js\"></script></body></html>")


class CatchAllHtml(Persona):
    """A single-page app: 200 with the same HTML shell for every path."""

    product, misbehaviour = "single-page app", "the same 200 HTML for every path"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        self.write(h, raw_response(200, [("Content-Type", "text/html")], SPA), path)


class ResetOnAccept(Persona):
    """Accepts the TCP connection and resets it at once (SO_LINGER 0)."""

    product, misbehaviour = "reset", "RST on accept"

    def on_connect(self, h: _Handler) -> None:
        sock: socket.socket = h.request
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.rfile.close()  # the handler's files hold the descriptor open: let go of it all
        h.wfile.close()
        sock.close()
        h.close_connection = True


class CloseAfterStatus(Persona):
    """Ollama that sends its status line and hangs up: no headers, no blank line."""

    product, misbehaviour = "Ollama", "closes after the status line"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        try:
            h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


class Http09(Persona):
    """An HTTP/0.9-style answer: Ollama's JSON with no status line and no head."""

    product, misbehaviour = "Ollama", "HTTP/0.9-style bytes, no status line"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        try:
            h.wfile.write(_json({"models": [OLLAMA_TAG]}))
            h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


class ManyHeaders(Persona):
    """Ollama behind a gateway that adds 100,000 small header lines."""

    product, misbehaviour = "Ollama", "100,000 header lines"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        try:
            h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for i in range(0, 100_000, 1000):
                h.wfile.write(b"".join(b"X-H%d: v\r\n" % j for j in range(i, i + 1000)))
            h.wfile.write(b"Content-Length: 2\r\n\r\n{}")
            h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


def expired_context(where: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for 127.0.0.1 that expired a year
    ago (``cryptography``: the openssl CLI here cannot back-date)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ollama.local")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=800))
            .not_valid_after(now - dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (where / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (where / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(where / "cert.pem", where / "key.pem")
    return ctx


class OpenOllama(Persona):
    """A plain open Ollama (the backend of the real nginx configurations, and the HTTPS
    one with an expired certificate)."""

    product, misbehaviour = "Ollama", "none (open)"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()
        self.posts = dict(OLLAMA_EMPTY_POSTS)  # what a POST without a body gets

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        super().write(h, data, path)
        h.close_connection = False  # Go's net/http keeps the connection (and TLS) alive


def tls_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="aiaudit-hostile-tls-")


def personas(sink_port: int) -> dict[str, Persona]:
    """The plain-HTTP held-out personas, keyed by a short name."""
    return {
        "head-drip": OllamaHeadDrip(), "endless-100": OllamaEndlessContinue(),
        "early-hints": OllamaEarlyHints(), "cl-long": OllamaLyingLength(+64),
        "cl-short": OllamaLyingLength(-5), "huge-chunk": VllmHugeChunk(),
        "deflate-bomb": OllamaEncoded("deflate"), "zstd-bomb": OllamaEncoded("zstd"),
        "br-undecodable": OllamaEncoded("br"), "strings": OllamaHostileStrings(),
        "leaks-key": OllamaLeaksKey(), "scheme-hop": SchemeHopper(sink_port),
        "tarpit": Tarpit(), "catch-all-json": CatchAllJson(),
        "catch-all-html": CatchAllHtml(), "reset": ResetOnAccept(),
        "close-after-status": CloseAfterStatus(), "http09": Http09(),
        "many-headers": ManyHeaders(), "two-lengths": OllamaBadFraming("two lengths"),
        "bad-chunk": OllamaBadFraming("chunk size not hex"),
        "one-route-drip": OllamaTarpitOneRoute(),
    }


# -- real nginx configurations --------------------------------------------------------------

SIGN_IN = ("<!DOCTYPE html><html lang=\"en\"><head><title>Sign In</title></head><body>"
           "<form method=\"GET\" action=\"/oauth2/start\"><input type=\"hidden\" name=\"rd\" "
           "value=\"/\"><button type=\"submit\">Sign in with OpenID Connect</button></form>"
           "</body></html>")

NGINX_SERVERS = """\
	# oauth2-proxy's documented nginx integration (auth_request; error_page 401 = sign-in),
	# with its /oauth2/auth answering 401 (no session) and its sign-in page served for it
	server {{
		listen 127.0.0.1:{login};
		location = /oauth2/auth {{ internal; return 401; }}
		location = /oauth2/sign_in {{ default_type text/html; return 200 '{sign_in}'; }}
		location / {{
			auth_request /oauth2/auth;
			error_page 401 =200 /oauth2/sign_in;
			proxy_pass http://127.0.0.1:{backend};
		}}
	}}
	# auth_basic on generation and model management only: the reads stay open
	server {{
		listen 127.0.0.1:{partial};
		location ~ ^/api/(generate|chat|embed|embeddings|pull|push|create|copy|delete)$ {{
			auth_basic "ollama";
			auth_basic_user_file {dir}/htpasswd;
			proxy_pass http://127.0.0.1:{backend};
		}}
		location / {{ proxy_pass http://127.0.0.1:{backend}; }}
	}}
	# the upstream is down
	server {{
		listen 127.0.0.1:{down};
		location / {{ proxy_pass http://127.0.0.1:{dead}; }}
	}}
"""


def nginx_conf(directory: Path, ports: dict[str, int], backend: int, dead: int) -> Path:
    """Write the three-server nginx config under ``directory``; returns its path."""
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    (directory / "htpasswd").write_text("aiaudit:$apr1$Vb4Y0w9s$Pw6rx0yn1x0W6rK5d9bZg1\n")
    conf = directory / "nginx.conf"
    conf.write_text(nginx_main_conf(directory, NGINX_SERVERS.format(
        dir=directory, backend=backend, dead=dead, sign_in=SIGN_IN, **ports), user="root"))
    return conf


def expected_json(doc: Any) -> str:  # for error messages in the tests
    return json.dumps(doc, indent=1)[:2000]
