"""A fourth set of hostile and deceptive servers: what the first three never tried.

Auth per method, the kind a GET cannot see (real nginx `limit_except POST`, a real Caddy
`not method POST` matcher and a real HAProxy `!METH_POST` rule in front of Ollama, and real
nginx `limit_except` in front of the real llama-cpp-python server with its docs left
open); a generation route that misbehaves only for the audit's empty-body POST (a tarpit,
an endless 200 stream, a 307 off the host, a sign-in page, a 400 echoing a key with
terminal escapes); walls the others lacked (407 proxy auth, a 303 to an IdP, 429 for
everyone, 426 WebSocket-only, a JSON error wall on the reads only, a 403 blocklist of
browser-like User-Agents, OPTIONS that hands out the model list); an open Ollama that
sends a WWW-Authenticate challenge with its data, one whose /api/version lies with markup,
MySQL's binary greeting on an AI port. :func:`nginx_conf`, :func:`caddy_conf` and
:func:`haproxy_conf` write the real proxies' configurations.
"""

from __future__ import annotations

from pathlib import Path

from aiaudit.lab.realproxies import APACHE_MODULES, nginx_main_conf
from selftests.hostile_server import (
    GO_TEXT,
    OLLAMA_EMPTY_POSTS,
    Persona,
    _Handler,
    _json,
    ollama_routes,
    raw_response,
)

JSON = [("content-type", "application/json")]
UNAUTHORIZED = _json({"error": "unauthorized"})
GEN_PATHS = ("/v1/chat/completions", "/api/chat", "/api/chat/completions")
# Secret-shaped, made up for this test: a gateway that echoes the key it forwards with.
ECHO_SECRET = "sk-live-9fQ2mV7xK4pL8nR3tW6yB1cZ5hJ0dG2sE7aU4iO9"
MARKUP_VERSION = "0.17.1<script>alert(1)</script>"


def _close(h: _Handler) -> None:
    h.close_connection = True


class _ReadsWalled(Persona):
    """A gateway that refuses every GET, HEAD and OPTIONS with :attr:`WALL` and hands a
    POST to :meth:`on_post` (the audit's empty-body POST on the generation route)."""

    WALL = raw_response(401, JSON + [("www-authenticate", 'Bearer realm="api"')], UNAUTHORIZED)

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.command == "POST":
            self.on_post(h, path)
        else:
            self.write(h, self.WALL, path)

    def on_post(self, h: _Handler, path: str) -> None:
        self.write(h, self.posts.get(path, self.not_found), path)


class PostTarpit(_ReadsWalled):
    """401 on every read; a POST on the generation route is read and never answered."""

    product, misbehaviour = "API gateway", "reads 401; a POST is held open, unanswered"

    def on_post(self, h: _Handler, path: str) -> None:
        h._stopped(120)
        _close(h)


class PostEndless(_ReadsWalled):
    """401 on every read; a POST gets 200 and a server-sent-event stream that never ends."""

    product, misbehaviour = "API gateway", "reads 401; a POST streams 200 forever"

    def on_post(self, h: _Handler, path: str) -> None:
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        event = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
        chunk = f"{len(event):x}\r\n".encode() + event + b"\r\n"
        try:
            h.wfile.write(head)
            while not h._stopped(0.02):
                h.wfile.write(chunk * 50)
                h.wfile.flush()
        except OSError:
            pass
        _close(h)


class PostRedirectOffHost(_ReadsWalled):
    """401 on every read; a POST gets a 307 (which keeps the method and body) to a
    collector on another host: never followed."""

    product, misbehaviour = "API gateway", "reads 401; a POST is sent on, 307, off the host"

    def on_post(self, h: _Handler, path: str) -> None:
        self.write(h, raw_response(307, [("Location", "http://198.51.100.7/collect"),
                                         ("Content-Length", "0")], b"", length=False), path)


class PostSignIn(_ReadsWalled):
    """401 on every read; a POST gets the SSO portal's sign-in page with 200."""

    product, misbehaviour = "SSO portal", "reads 401; a POST gets a 200 sign-in page"
    PAGE = (b"<!doctype html><html><head><title>Sign in - Corp SSO</title></head><body>"
            b'<form method="post" action="/login"><input name="username">'
            b'<input type="password" name="password"></form></body></html>')

    def on_post(self, h: _Handler, path: str) -> None:
        self.write(h, raw_response(200, [("content-type", "text/html; charset=utf-8")],
                                   self.PAGE), path)


class PostEchoesKey(_ReadsWalled):
    """401 on every read; a POST reaches an app whose 400 echoes the upstream key it
    forwards with, with a terminal clear-screen, BEL and NUL in the message."""

    product, misbehaviour = "API gateway", "reads 401; a POST's 400 echoes a key and escapes"

    def on_post(self, h: _Handler, path: str) -> None:
        body = _json({"error": {"message": f"upstream rejected empty body (key {ECHO_SECRET})"
                                           "\x1b[2J\x07\x00", "type": "invalid_request_error"}})
        self.write(h, raw_response(400, JSON, body), path)


class JsonWallReadsOnly(_ReadsWalled):
    """Every read answered 200 with a JSON auth error; a POST reaches Ollama (its 400)."""

    product, misbehaviour = "Ollama", "reads: 200 JSON auth error; POST reaches Ollama"
    WALL = raw_response(200, JSON, _json({"error": "Unauthorized", "code": 401}))

    def __init__(self) -> None:
        super().__init__()
        self.posts = dict(OLLAMA_EMPTY_POSTS)


class ProxyAuth407(_ReadsWalled):
    """A forward-proxy-style wall: 407 with Proxy-Authenticate on every method."""

    product, misbehaviour = "API gateway", "407 Proxy Authentication Required everywhere"
    WALL = raw_response(407, [("Proxy-Authenticate", 'Basic realm="corp"'),
                              ("content-type", "text/plain")], b"proxy auth required")

    def on_post(self, h: _Handler, path: str) -> None:
        self.write(h, self.WALL, path)


class IdpRedirect(_ReadsWalled):
    """Keycloak-fronted: every request is sent (303) to the realm's authorization URL."""

    product, misbehaviour = "OIDC front", "303 to /realms/corp/.../auth for every method"
    WALL = raw_response(303, [("Location", "/realms/corp/protocol/openid-connect/auth?"
                                           "client_id=ai&response_type=code"),
                              ("Content-Length", "0")], b"", length=False)

    def on_post(self, h: _Handler, path: str) -> None:
        self.write(h, self.WALL, path)


class RateLimitAll(_ReadsWalled):
    """429 for everyone, an hour's Retry-After: no refusal, no data."""

    product, misbehaviour = "API gateway", "429 with Retry-After: 3600 for every request"
    WALL = raw_response(429, JSON + [("Retry-After", "3600")],
                        _json({"error": "rate limit exceeded"}))

    def on_post(self, h: _Handler, path: str) -> None:
        self.write(h, self.WALL, path)


class WebSocketOnly(_ReadsWalled):
    """A WebSocket-only server: every plain request gets 426 Upgrade Required."""

    product, misbehaviour = "WebSocket server", "426 Upgrade Required for every request"
    WALL = raw_response(426, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                              ("content-type", "text/plain")], b"Upgrade Required")

    def on_post(self, h: _Handler, path: str) -> None:
        self.write(h, self.WALL, path)


class ChallengeOn200(Persona):
    """An open Ollama whose gateway adds a WWW-Authenticate challenge to every answer,
    200s with data included: the challenge is decoration, the data is handed out."""

    product, misbehaviour = "Ollama", "WWW-Authenticate on 200 answers with data"

    def __init__(self) -> None:
        super().__init__()
        challenge = b"WWW-Authenticate: Bearer realm=\"ollama\"\r\n"
        self.routes = {p: r.replace(b"\r\n", b"\r\n" + challenge, 1)
                       for p, r in ollama_routes().items()}


class OptionsLeak(Persona):
    """A gateway that checks the key on GET and HEAD, and answers OPTIONS from a cache
    holding the model list: 200 with the data."""

    product, misbehaviour = "Ollama", "GET/HEAD 401; OPTIONS answers the model list"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.command in ("GET", "HEAD", "POST"):
            self.write(h, raw_response(401, JSON, UNAUTHORIZED), path)
        else:
            super().handle(h, path, query)


class BrowserBlocklist(Persona):
    """Ollama behind a bot filter that answers 403 to browser-like and scanner-like
    User-Agents (Mozilla, aiaudit, nmap) and lets everything else through."""

    product, misbehaviour = "Ollama", "403 for browser-like User-Agents only"
    BLOCK = ("mozilla", "aiaudit", "nmap", "zgrab")

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()
        self.posts = dict(OLLAMA_EMPTY_POSTS)

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        agent = h.headers.get("User-Agent", "").lower()
        if any(word in agent for word in self.BLOCK):
            return self.write(h, raw_response(403, JSON, _json({"error": "forbidden"})), path)
        super().handle(h, path, query)


class VersionLies(Persona):
    """An open Ollama look-alike (a honeypot) whose /api/version claims a patched release
    and carries markup, and whose banner has a Server header real Ollama never sends."""

    product, misbehaviour = "Ollama look-alike", "/api/version lies, with markup"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes(version=MARKUP_VERSION)
        self.routes["/"] = raw_response(200, GO_TEXT + [("Server", "Ollama")],
                                        b"Ollama is running")


class MysqlGreeting(Persona):
    """MySQL 8 on an AI port: it speaks first with its binary v10 handshake packet (NULs,
    a salt of raw bytes), then drops a client that answers with an HTTP request line."""

    product, misbehaviour = "MySQL", "binary handshake greeting, not HTTP"
    GREETING = (b"\x4a\x00\x00\x00\x0a8.0.36\x00\x2a\x00\x00\x00"
                b"\x3b\x5e\x1c\x6f\x04\x25\x7a\x11\x00\xff\xff\xff\x02\x00\xff\xdf\x15"
                b"\x00" * 10 + b"\x30\x4b\x0e\x3c\x47\x5a\x16\x61\x2b\x79\x4f\x06\x00"
                b"caching_sha2_password\x00")

    def on_connect(self, h: _Handler) -> None:
        try:
            h.wfile.write(self.GREETING)
            h.wfile.flush()
            h.rfile.readline(4096)
            h.wfile.write(b"\x21\x00\x00\x02\xff\x84\x04#08S01Got packets out of order")
            h.wfile.flush()
        except OSError:
            pass
        h.rfile.close()
        h.wfile.close()
        h.request.close()
        _close(h)

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        _close(h)


class SpaHeadFallback(_ReadsWalled):
    """A FastAPI app with a single-page UI mounted at / (Open WebUI's layout): its API
    routes take no HEAD, so HEAD falls through to the UI's static mount and gets 200
    text/html, while GET and POST without a token get 401 JSON (seen on the real Open
    WebUI 0.12.4: HEAD /api/models 200, GET 401)."""

    product, misbehaviour = "FastAPI + SPA", "HEAD answered 200 by the UI's static mount"
    WALL = raw_response(401, [("server", "uvicorn"), ("content-type", "application/json")],
                        b'{"detail":"Not authenticated"}')
    PAGE = raw_response(200, [("server", "uvicorn"), ("content-type", "text/html; charset=utf-8")],
                        b"<!doctype html><html><head><title>App</title></head></html>")

    def handle(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if h.command == "HEAD":
            self.write(h, self.PAGE, path)
        else:
            self.write(h, self.WALL, path)


def recorded_routes(name: str) -> dict[str, bytes]:
    """A real server's recorded GET answers (selftests/fixtures/exposure/answers)."""
    import json
    doc = json.loads((Path(__file__).parent / "fixtures/exposure/answers" / f"{name}.json")
                     .read_text())
    return {path: raw_response(ans["status"], [(k, v) for k, v in ans["headers"].items()
                                               if k.lower() not in ("date", "content-length")],
                               ans["body"].encode())
            for path, ans in doc["answers"].items()}


class WafHtml400(Persona):
    """The real llama-cpp-python with --api_key (its recorded answers: /openapi.json open,
    /v1/models 401 in its own words) behind a WAF that rejects a POST without a body with
    its own HTML 400 page before the app sees it: the app's key check never ran, so that
    400 says nothing about the route (not FAIL: MANUAL)."""

    product, misbehaviour = "llama-cpp-python behind a WAF", "its own HTML 400 to an empty POST"
    PAGE = raw_response(400, [("content-type", "text/html")],
                        b"<html><head><title>400 Bad Request</title></head><body>Request "
                        b"blocked: empty body (ref 7f3a)</body></html>")

    def __init__(self) -> None:
        super().__init__()
        self.routes = recorded_routes("llama-cpp-python-key")
        self.posts = {"/v1/chat/completions": self.PAGE}
        self.not_found = self.routes["/"]


class OllamaBackend(Persona):
    """A plain open Ollama, the backend of the real proxies, answering a POST without a
    body as Ollama does (400)."""

    product, misbehaviour = "Ollama", "none (open)"

    def __init__(self) -> None:
        super().__init__()
        self.routes = ollama_routes()
        self.posts = dict(OLLAMA_EMPTY_POSTS)

    def write(self, h: _Handler, data: bytes, path: str) -> None:
        super().write(h, data, path)
        h.close_connection = False  # Go's net/http keeps the connection alive


def personas() -> dict[str, Persona]:
    """The plain-HTTP personas, keyed by a short name."""
    return {
        "post-tarpit": PostTarpit(), "post-endless": PostEndless(),
        "post-307-offhost": PostRedirectOffHost(), "post-signin": PostSignIn(),
        "post-echo-key": PostEchoesKey(), "json-wall-reads": JsonWallReadsOnly(),
        "proxy-407": ProxyAuth407(), "idp-303": IdpRedirect(), "ratelimit-429": RateLimitAll(),
        "ws-only": WebSocketOnly(), "challenge-on-200": ChallengeOn200(),
        "options-leak": OptionsLeak(), "browser-blocklist": BrowserBlocklist(),
        "version-lies": VersionLies(), "mysql": MysqlGreeting(),
        "spa-head": SpaHeadFallback(), "waf-html-400": WafHtml400(),
    }


# -- real nginx: auth on every method but POST ------------------------------------------------

NGINX_SERVERS = """\
	# limit_except POST: GET, HEAD and OPTIONS ask for basic auth, POST is proxied as is
	server {{
		listen 127.0.0.1:{limit};
		location / {{
			limit_except POST {{
				auth_basic "ollama";
				auth_basic_user_file {dir}/htpasswd;
			}}
			proxy_pass http://127.0.0.1:{backend};
		}}
	}}
	# the same in front of the real llama-cpp-python server (no --api_key), its docs open
	# (the wall on / ends discovery: the open /openapi.json is never asked for)
	server {{
		listen 127.0.0.1:{llama};
		location = /openapi.json {{ proxy_pass http://127.0.0.1:{llama_backend}; }}
		location / {{
			limit_except POST {{
				auth_basic "llm";
				auth_basic_user_file {dir}/htpasswd;
			}}
			proxy_pass http://127.0.0.1:{llama_backend};
		}}
	}}
	# the real llama-cpp-python (no --api_key) with limit_except POST on /v1/ only: its
	# root and /openapi.json answer, so discovery names it
	server {{
		listen 127.0.0.1:{v1};
		location /v1/ {{
			limit_except POST {{
				auth_basic "llm";
				auth_basic_user_file {dir}/htpasswd;
			}}
			proxy_pass http://127.0.0.1:{llama_backend};
		}}
		location / {{ proxy_pass http://127.0.0.1:{llama_backend}; }}
	}}
"""

NGINX_KEYS = ("limit", "llama", "v1")


def nginx_conf(directory: Path, ports: dict[str, int], backend: int, llama_backend: int,
               htpasswd: str) -> Path:
    """Write the three-server nginx config under ``directory``; returns its path."""
    (directory / "tmp").mkdir(parents=True, exist_ok=True)
    (directory / "htpasswd").write_text(htpasswd)
    conf = directory / "nginx.conf"
    conf.write_text(nginx_main_conf(directory, NGINX_SERVERS.format(
        dir=directory, backend=backend, llama_backend=llama_backend, **ports), user="root"))
    return conf


# -- real Caddy: basic auth on every method but POST; and on POST only ----------------------

CADDYFILE = """\
{{
	admin off
	auto_https off
}}
http://127.0.0.1:{notpost} {{
	@notpost not method POST
	basicauth @notpost {{
		aiaudit {hash}
	}}
	reverse_proxy 127.0.0.1:{backend}
}}
http://127.0.0.1:{postonly} {{
	@post method POST
	basicauth @post {{
		aiaudit {hash}
	}}
	reverse_proxy 127.0.0.1:{backend}
}}
"""

CADDY_KEYS = ("notpost", "postonly")


def caddy_conf(directory: Path, ports: dict[str, int], backend: int, password_hash: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "Caddyfile"
    conf.write_text(CADDYFILE.format(backend=backend, hash=password_hash, **ports))
    return conf


# -- real HAProxy: basic auth unless the method is POST ---------------------------------------

HAPROXY_CFG = """\
global
	log stderr format raw local0 emerg
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
userlist users
	user aiaudit insecure-password {password}
frontend ai
	bind 127.0.0.1:{notpost}
	http-request auth realm llm if !METH_POST !{{ http_auth(users) }}
	default_backend ollama
backend ollama
	server o1 127.0.0.1:{backend}
"""


def haproxy_conf(directory: Path, port: int, backend: int, password: str) -> Path:
    """HAProxy's userlist with the run's made-up password (never sent by the audit)."""
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "haproxy.cfg"
    conf.write_text(HAPROXY_CFG.format(notpost=port, backend=backend, password=password))
    return conf


# -- real Apache httpd: <LimitExcept POST> Require valid-user -----------------------------------

APACHE_CONF = """\
ServerRoot "{dir}"
ServerName 127.0.0.1
PidFile {dir}/apache2.pid
Mutex file:{dir}
DefaultRuntimeDir {dir}
{modules}
User www-data
Group www-data
Listen 127.0.0.1:{port}
ErrorLog {dir}/error.log
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog {dir}/access.log common
<VirtualHost 127.0.0.1:{port}>
	ServerName 127.0.0.1
	<Location />
		AuthType Basic
		AuthName "llm"
		AuthBasicProvider file
		AuthUserFile {dir}/htpasswd
		<LimitExcept POST>
			Require valid-user
		</LimitExcept>
	</Location>
	ProxyPass / http://127.0.0.1:{backend}/
	ProxyPassReverse / http://127.0.0.1:{backend}/
</VirtualHost>
"""


def apache_conf(directory: Path, port: int, backend: int, htpasswd: str) -> Path:
    """Apache httpd asking for basic auth on every method but POST (Debian's modules; the
    lab's module list without TLS). ``directory`` must be readable by www-data."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "htpasswd").write_text(htpasswd)
    modules = "\n".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so"
                         for m in APACHE_MODULES if m not in ("ssl", "socache_shmcb"))
    conf = directory / "apache2.conf"
    conf.write_text(APACHE_CONF.format(dir=directory, port=port, backend=backend,
                                       modules=modules))
    return conf

