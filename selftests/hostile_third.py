"""A third set of hostile and deceptive servers: the kinds neither hostile_server.py nor
hostile_more.py tries.

Auth walls that cover the reads but not the generation route (a 401 on the model list, a
404 or 405 on GET of the POST route: what a gateway walling only its reads, and LiteLLM
with a master key, answer), walls that answer 200 with a JSON error, a 302 to a login, a
TLS client certificate; a 401 whose body lists the models; an SDK User-Agent allowlist
standing in for auth; auth on HEAD only or on GET only; HTTP/1.0 close-delimited bodies;
a 100 KB chunk extension; trailers (with a key; endless); a twice-gzipped bomb; ANSI, BEL
and NUL in JSON; Redis and Postfix on an AI port; a TLS server that answers only its SNI
name. :func:`caddy_conf` writes the real Caddy configurations (Ollama under a path prefix,
basic auth on the reads only, on everything, and on GET only).
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import json
import ssl
from pathlib import Path
from typing import Any

from aiaudit.lab.realproxies import nginx_main_conf
from selftests.hostile_server import (
    GO_JSON,
    GO_TEXT,
    OLLAMA_EMPTY_POSTS,
    OLLAMA_TAG,
    Persona,
    _Handler,
    _json,
    ollama_routes,
    raw_response,
)

UVICORN = [("server", "uvicorn"), ("content-type", "application/json")]
UNAUTHORIZED = _json({"error": "unauthorized"})
# the real LiteLLM 1.108.7 with master_key, to a POST on /v1/chat/completions without a key
LITELLM_NO_KEY = (b'{"error":{"message":"Authentication Error, No api key passed in.",'
                  b'"type":"auth_error","param":"None","code":"401"}}')
READS = ("/api/tags", "/api/version", "/api/ps", "/api/show", "/v1/models")


class WalledReads(Persona):
    """Ollama behind a gateway that asks for a key on its read routes only: 401 on the
    model list and version, while GET on the generation routes reaches Ollama, whose gin
    router answers a wrong method with 404 (routes.go registers POST only and gin's
    HandleMethodNotAllowed is off); a POST there would generate."""

    product, misbehaviour = "Ollama", "auth on the reads only, generation open"

    def __init__(self) -> None:
        super().__init__()
        self.routes = dict(ollama_routes())
        self.posts = dict(OLLAMA_EMPTY_POSTS)  # a POST reaches Ollama: its body error
        for path in READS:
            self.routes[path] = raw_response(401, GO_JSON, UNAUTHORIZED)


def litellm_key_routes() -> dict[str, bytes]:
    """LiteLLM proxy 1.108.7 with general_settings.master_key, as recorded from the real
    server (selftests/fixtures/exposure/answers/litellm-key.json), uvicorn's header added."""
    where = Path(__file__).parent / "fixtures/exposure/answers/litellm-key.json"
    doc = json.loads(where.read_text())
    out = {}
    for path, ans in doc["answers"].items():
        headers = [("server", "uvicorn")] + [(k, v) for k, v in ans["headers"].items()
                                             if k.lower() not in ("date", "content-length",
                                                                  "server")]
        out[path] = raw_response(ans["status"], headers, ans["body"].encode())
    return out


class WalledReadsOpenGeneration(WalledReads):
    """:class:`WalledReads` whose generation routes really answer a POST (one token)."""

    misbehaviour = "auth on the reads only; POST generates"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.command == "POST" and path in ("/v1/chat/completions", "/api/chat"):
            done = {"id": "chatcmpl-1", "object": "chat.completion", "model": "llama3.2:latest",
                    "choices": [{"index": 0, "finish_reason": "length",
                                 "message": {"role": "assistant", "content": "Hi"}}]}
            return self.write(h, raw_response(200, GO_JSON, _json(done)), path)
        super().handle(h, path, query)


class LiteLLMMasterKey(Persona):
    """LiteLLM proxy with a master key, replayed from the real server's recorded answers:
    401 auth_error on /model/info and /v1/models; GET /v1/chat/completions is FastAPI's
    405 (proxy_server.py: @router.post("/v1/chat/completions",
    dependencies=[Depends(user_api_key_auth)]): the method is matched before the key is)."""

    product, misbehaviour = "LiteLLM proxy", "master key: reads 401, generation route 405"

    def __init__(self) -> None:
        super().__init__()
        self.routes = litellm_key_routes()
        self.not_found = raw_response(404, UVICORN, b'{"detail":"Not Found"}')
        for path in ("/v1/chat/completions", "/chat/completions"):
            self.routes[path] = raw_response(
                405, UVICORN + [("allow", "POST")], b'{"detail":"Method Not Allowed"}')
            # an empty POST, as the real 1.108.7 answered it with its master key on
            # (user_api_key_auth checks the key before the missing 'messages')
            self.posts[path] = raw_response(401, UVICORN, LITELLM_NO_KEY)


class WallEverywhere(Persona):
    """An API gateway that answers 401 JSON to every path and method, generation included."""

    product, misbehaviour = "API gateway", "none: 401 everywhere"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        self.write(h, raw_response(401, [("content-type", "application/json"),
                                         ("www-authenticate", 'Bearer realm="api"')],
                                   UNAUTHORIZED), path)


class Json200Wall(Persona):
    """A gateway that never says 401: every path answers 200 with a JSON error envelope."""

    product, misbehaviour = "API gateway", "auth wall answered with 200 and a JSON error"
    BODY = _json({"error": "Unauthorized", "code": 401, "message": "missing API key"})

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        self.write(h, raw_response(200, [("content-type", "application/json")], self.BODY),
                   path)


# Secret-shaped, made up for this test: a deployment named after the key it calls with.
LEAK_SECRET = "sk-ant-api03-Hq3Vn7Bx1Mz5Lc9Kd2Fw6Gt0Yp4Rs8Ue2Io6Aj0Nb4Xv7Pm"


class LeakyRefusal(Persona):
    """401 on everything, but the refusal helpfully lists the models a key would reach
    (one of them named after the upstream key it uses)."""

    product, misbehaviour = "API gateway", "401 whose body lists the models"
    MODELS = ("llama3.1:70b-instruct", "acme-support-finetune-v2", f"claude-via-{LEAK_SECRET}")
    BODY = _json({"error": {"message": "invalid api key", "type": "auth_error"},
                  "available_models": list(MODELS)})

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        self.write(h, raw_response(401, [("content-type", "application/json")], self.BODY),
                   path)


class LoginRedirect(Persona):
    """oauth2-proxy-style front: every request without a session cookie is sent (302) to
    the sign-in start URL on the same host, with the original path as ``rd``."""

    product, misbehaviour = "oauth2-proxy front", "302 to /oauth2/start for every path"

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        self.write(h, raw_response(302, [("Location", f"/oauth2/start?rd={path}"),
                                         ("Content-Type", "text/html; charset=utf-8")],
                                   b'<a href="/oauth2/start">Found</a>.'), path)


class UserAgentAllowlist(Persona):
    """Ollama behind a gateway that lets known SDKs in by their User-Agent and refuses
    everything else with 401: an allowlist standing in for auth."""

    product, misbehaviour = "Ollama", "admits the OpenAI/Ollama SDKs by User-Agent"
    ADMIT = ("OpenAI/Python", "ollama-python", "curl/")

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        agent = h.headers.get("User-Agent", "")
        if agent.startswith(self.ADMIT):
            return super().handle(h, path, query)
        self.write(h, raw_response(401, GO_JSON, UNAUTHORIZED), path)


class HeadOnlyAuth(Persona):
    """Ollama whose gateway asks for a key on HEAD only: GET hands out everything."""

    product, misbehaviour = "Ollama", "auth on HEAD only"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.command == "HEAD":
            return self.write(h, raw_response(401, GO_JSON, UNAUTHORIZED), path)
        super().handle(h, path, query)


class GetOnlyAuth(Persona):
    """Ollama whose gateway asks for a key on GET only (its auth block lists GET and
    POST): HEAD and OPTIONS pass to Ollama."""

    product, misbehaviour = "Ollama", "auth on GET only; HEAD answered"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.command == "GET":
            return self.write(h, raw_response(401, GO_JSON, UNAUTHORIZED), path)
        super().handle(h, path, query)


def _http10(raw: bytes) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    lines[0] = lines[0].replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    lines = [ln for ln in lines if not ln.lower().startswith(b"content-length:")]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class Http10Close(Persona):
    """An open Ollama behind an HTTP/1.0 front: no Content-Length, the body ends when the
    connection closes (RFC 9112 6.3 item 8)."""

    product, misbehaviour = "Ollama", "HTTP/1.0, bodies delimited by close"

    def __init__(self) -> None:
        super().__init__()
        self.routes = {p: _http10(raw) for p, raw in ollama_routes().items()}
        self.not_found = _http10(raw_response(404, GO_TEXT, b"404 page not found"))


def _chunked(raw: bytes, size_line: bytes = b"", trailer: bytes = b"") -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length:")]
    lines.append(b"Transfer-Encoding: chunked")
    return (b"\r\n".join(lines) + b"\r\n\r\n" + b"%x" % len(body) + size_line + b"\r\n"
            + body + b"\r\n0\r\n" + trailer + b"\r\n")


class HugeChunkExtension(Persona):
    """An open Ollama whose chunked answers carry a 100 KB chunk extension on the chunk-size
    line (RFC 9112 7.1.1 allows extensions; no length limit is written there)."""

    product, misbehaviour = "Ollama", "a 100 KB chunk-size line"

    def __init__(self) -> None:
        super().__init__()
        ext = b";x=" + b"a" * 100_000
        self.routes = {p: _chunked(raw, size_line=ext) for p, raw in ollama_routes().items()}
        self.not_found = _chunked(raw_response(404, GO_TEXT, b"404 page not found"), ext)


# Secret-shaped values no real account owns (random, made up for this test).
TRAILER_SECRET = "sk-proj-Tq4Wm8Ze2Rx6Yb0Nv3Kc7Ls1Hd5Fg9Jp2Ua6Ie0Oo4Pq8Rr3"


class TrailerKey(Persona):
    """An open Ollama whose chunked answers end with a trailer section that carries an
    upstream key (RFC 9110 6.5)."""

    product, misbehaviour = "Ollama", "a key in the chunked trailer"

    def __init__(self) -> None:
        super().__init__()
        trailer = b"X-Upstream-Key: " + TRAILER_SECRET.encode() + b"\r\nX-Checksum: 1\r\n"
        self.routes = {p: _chunked(raw, trailer=trailer) for p, raw in ollama_routes().items()}


class EndlessTrailer(Persona):
    """An open Ollama whose chunked body is whole, then trailer lines come one every 50 ms,
    forever: the message never ends."""

    product, misbehaviour = "Ollama", "endless trailer section"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        whole = _chunked(data)[:-2]  # everything but the blank line that ends the trailers
        try:
            h.wfile.write(whole)
            n = 0
            while not h._stopped(0.05):
                n += 1
                h.wfile.write(b"X-T%d: y\r\n" % n)
                h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True


class GzipTwice(Persona):
    """An open-looking Ollama whose JSON reads are gzip inside gzip
    (``Content-Encoding: gzip, gzip``): 64 MiB of zeros from a few hundred bytes."""

    product, misbehaviour = "Ollama", "Content-Encoding gzip, gzip bomb"

    def __init__(self) -> None:
        super().__init__()
        body = gzip.compress(gzip.compress(bytes(64 << 20), 9), 9)
        self.routes = {"/": raw_response(200, GO_TEXT, b"Ollama is running")}
        for path in ("/api/version", "/api/tags", "/v1/models"):
            self.routes[path] = raw_response(200, GO_JSON + [("Content-Encoding", "gzip, gzip")],
                                             body)


ANSI_MODEL = "llama3.2\x1b[2J\x1b]0;owned\x07\x00:latest\x1b]8;;http://x.invalid\x07link"


class AnsiJson(Persona):
    """An open Ollama whose banner, version and model names carry ANSI clear-screen, an
    OSC title and hyperlink, BEL and NUL (terminal injection into a console report)."""

    product, misbehaviour = "Ollama", "ANSI, OSC, BEL and NUL in banner and JSON"

    def __init__(self) -> None:
        super().__init__()
        tag = dict(OLLAMA_TAG, name=ANSI_MODEL, model=ANSI_MODEL)
        self.routes = ollama_routes("0.5.7\x1b[31m\x00", [tag])
        self.routes["/"] = raw_response(200, GO_TEXT, b"Ollama is running\x1b]0;pwn\x07\x00")


class RedisSpeaks(Persona):
    """Redis on an AI port: it reads the request line as an inline command and answers in
    RESP, then drops the peer at the ``Host:`` line (its cross-protocol guard,
    networking.c: "Possible SECURITY ATTACK detected")."""

    product, misbehaviour = "Redis", "RESP, not HTTP"

    def on_connect(self, h: _Handler) -> None:
        try:
            line = h.rfile.readline(4096).split()
            args = " ".join(f"'{a.decode('latin-1')}'" for a in line[1:3])
            cmd = line[0].decode("latin-1") if line else ""
            h.wfile.write(f"-ERR unknown command '{cmd}', with args beginning with: {args} \r\n"
                          .encode("latin-1"))
            h.wfile.flush()
        except OSError:
            pass
        h.rfile.close()
        h.wfile.close()
        h.request.close()
        h.close_connection = True

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        h.close_connection = True


class PostfixGreeting(Persona):
    """Postfix smtpd on an AI port: it speaks first (220), answers an HTTP request line
    with 502 and hangs up on the header lines (smtpd.c: "I can break rules, too")."""

    product, misbehaviour = "Postfix", "SMTP greeting, not HTTP"

    def on_connect(self, h: _Handler) -> None:
        try:
            h.wfile.write(b"220 mx.example.invalid ESMTP Postfix (Debian/GNU)\r\n")
            h.wfile.flush()
            h.rfile.readline(4096)
            h.wfile.write(b"502 5.5.2 Error: command not recognized\r\n"
                          b"221 2.7.0 Error: I can break rules, too. Goodbye.\r\n")
            h.wfile.flush()
        except OSError:
            pass
        h.rfile.close()
        h.wfile.close()
        h.request.close()
        h.close_connection = True

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        h.close_connection = True


class _KeepAlive(Persona):
    """Keeps the connection (and its TLS session) open between answers, as Go's net/http
    and nginx do: a fresh handshake per request in this GIL-bound test process costs more
    than the host budget on a loaded machine."""

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        super().write(h, data, path)
        h.close_connection = False


# Secret-shaped, made up for this test.
BANNER_SECRET = "sk-proj-Bn6Xc2Vz8Lq4Wm0Ke7Rt3Yu9Io5Pa1Sd7Fg3Hj9Kl5Zx1Cv"


class BannerKey(PostfixGreeting):
    """A banner-first relay on an AI port whose greeting prints its token where a cut at 60
    characters splits it."""

    product, misbehaviour = "relay", "a key in its banner, across the quoting cut"

    def on_connect(self, h: _Handler) -> None:
        try:
            # the token starts at column 45: a quote cut at 60 keeps "sk-proj-" and 7 more
            h.wfile.write(f"220 relay.example.invalid ESMTP ready; token {BANNER_SECRET}\r\n"
                          .encode())
            h.wfile.flush()
        except OSError:
            pass
        h.rfile.close()
        h.wfile.close()
        h.request.close()
        h.close_connection = True


class SniVhost(_KeepAlive):
    """An open Ollama served only to the TLS name ``ollama.internal`` (SNI); a client that
    connects by address (no SNI) gets 421 Misdirected Request on every path."""

    product, misbehaviour = "Ollama", "answers only its SNI name; 421 by address"
    NAME = "ollama.internal"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if getattr(h.request, "aiaudit_sni", None) == self.NAME:
            return super().handle(h, path, query)
        self.write(h, raw_response(421, [("Content-Type", "text/plain")],
                                   b"Misdirected Request"), path)


NGINX_496 = (b"<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n"
             b"<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL "
             b"certificate was sent</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n"
             b"</html>\r\n")


class ClientCertWall(_KeepAlive):
    """Ollama behind nginx with ``ssl_verify_client on``: the handshake completes, and a
    client that sent no certificate gets nginx's 400 page (ngx_http_request.c answers
    NGX_HTTP_NO_CERT, 496, shown as 400) on every path."""

    product, misbehaviour = "nginx + Ollama", "a TLS client certificate required"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.request.getpeercert() is None:
            return self.write(h, raw_response(400, [("Server", "nginx"),
                                                    ("Content-Type", "text/html")], NGINX_496),
                              path)
        super().handle(h, path, query)


class OpenOllamaTls(Persona):
    """A plain open Ollama (behind the mutual-TLS listener)."""

    product, misbehaviour = "Ollama", "none (open)"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()
        self.posts = dict(OLLAMA_EMPTY_POSTS)  # what a POST without a body gets


def _cert(where: Path, name: str, dns: list[str], ips: list[str]) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    alt = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = where / f"{name}.crt", where / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def sni_context(where: Path) -> ssl.SSLContext:
    """A self-signed certificate for ``ollama.internal`` only; the SNI name the client sent
    is noted on the socket for :class:`SniVhost`."""
    cert, key = _cert(where, SniVhost.NAME, [SniVhost.NAME], [])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def note(sock: Any, name: str | None, _ctx: ssl.SSLContext) -> None:
        sock.aiaudit_sni = name

    ctx.sni_callback = note
    return ctx


def mtls_context(where: Path) -> ssl.SSLContext:
    """TLS that asks for a client certificate signed by a CA the auditor does not hold
    (nginx ``ssl_verify_client on``: requested in the handshake, checked per request)."""
    cert, key = _cert(where, "gateway.internal", ["gateway.internal"], ["127.0.0.1"])
    ca, _ = _cert(where, "client-ca.internal", ["client-ca.internal"], [])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL  # nginx asks, then answers 400 without one
    return ctx


def personas() -> dict[str, Persona]:
    """The plain-HTTP personas, keyed by a short name."""
    return {
        "reads-walled": WalledReads(), "litellm-key": LiteLLMMasterKey(),
        "wall-everywhere": WallEverywhere(), "json-200-wall": Json200Wall(),
        "leaky-401": LeakyRefusal(), "login-redirect": LoginRedirect(),
        "ua-allowlist": UserAgentAllowlist(), "head-only-auth": HeadOnlyAuth(),
        "get-only-auth": GetOnlyAuth(), "http10-close": Http10Close(),
        "chunk-ext-huge": HugeChunkExtension(), "trailer-key": TrailerKey(),
        "endless-trailer": EndlessTrailer(), "gzip-twice": GzipTwice(),
        "ansi-json": AnsiJson(), "redis": RedisSpeaks(), "postfix": PostfixGreeting(),
        "banner-key": BannerKey(),
    }


# -- real Caddy configurations --------------------------------------------------------------

CADDYFILE = """\
{{
	admin off
	auto_https off
}}
# Ollama published under a path prefix; the root is Caddy's own 404
http://127.0.0.1:{prefix} {{
	handle_path /ollama/* {{
		reverse_proxy 127.0.0.1:{backend}
	}}
	respond 404
}}
# basic auth on the model list and version only: generation is proxied without it
http://127.0.0.1:{reads} {{
	@reads path /api/tags /api/version /api/ps /api/show /v1/models
	basicauth @reads {{
		aiaudit {hash}
	}}
	reverse_proxy 127.0.0.1:{backend}
}}
# basic auth on everything
http://127.0.0.1:{all} {{
	basicauth {{
		aiaudit {hash}
	}}
	reverse_proxy 127.0.0.1:{backend}
}}
# basic auth on GET only: HEAD and OPTIONS are proxied without it
http://127.0.0.1:{getonly} {{
	@get method GET
	basicauth @get {{
		aiaudit {hash}
	}}
	reverse_proxy 127.0.0.1:{backend}
}}
"""

CADDY_KEYS = ("prefix", "reads", "all", "getonly")


def caddy_conf(directory: Path, ports: dict[str, int], backend: int, password_hash: str) -> Path:
    """Write the four-site Caddyfile under ``directory`` (Caddy 2.6's ``basicauth``);
    returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "Caddyfile"
    conf.write_text(CADDYFILE.format(backend=backend, hash=password_hash,
                                     **ports))
    return conf


# -- real nginx configurations --------------------------------------------------------------

NGINX_SERVERS = """\
	# mutual TLS: a client certificate from a CA the auditor does not hold
	server {{
		listen 127.0.0.1:{mtls} ssl;
		ssl_certificate {dir}/gateway.internal.crt;
		ssl_certificate_key {dir}/gateway.internal.key;
		ssl_client_certificate {dir}/client-ca.internal.crt;
		ssl_verify_client on;
		location / {{ proxy_pass http://127.0.0.1:{backend}; }}
	}}
	# auth_basic on the model list and version only: generation is proxied without it
	server {{
		listen 127.0.0.1:{reads};
		location ~ ^/(api/(tags|version|ps|show)|v1/models)$ {{
			auth_basic "ollama";
			auth_basic_user_file {dir}/htpasswd;
			proxy_pass http://127.0.0.1:{backend};
		}}
		location / {{ proxy_pass http://127.0.0.1:{backend}; }}
	}}
"""

NGINX_KEYS = ("mtls", "reads")


def nginx_conf(directory: Path, ports: dict[str, int], backend: int, htpasswd: str) -> Path:
    """Write the two-server nginx config (and its certificates) under ``directory``."""
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    _cert(directory, "gateway.internal", ["gateway.internal"], ["127.0.0.1"])
    _cert(directory, "client-ca.internal", ["client-ca.internal"], [])
    (directory / "htpasswd").write_text(htpasswd)
    conf = directory / "nginx.conf"
    conf.write_text(nginx_main_conf(directory, NGINX_SERVERS.format(
        dir=directory, backend=backend, **ports), user="root"))
    return conf
