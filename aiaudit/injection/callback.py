"""The auditor-side callback listener: proof that an injected action really happened.

An attack asks the deployment to fetch a URL that exists nowhere else (a fresh random
token per attempt). Any request for that token, from anyone, shows that injected text
made the deployment act. The listener also serves documents (indirect-injection pages)
at their own tokens. It answers every request with a short fixed body and never follows
anything itself.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

PATH_PREFIX = "/aiaudit-cb/"
MAX_HITS = 500
MAX_BODY = 4096


@dataclass(frozen=True)
class Hit:
    token: str
    method: str
    path: str
    client: str
    user_agent: str
    at: float

    def describe(self) -> str:
        agent = f", User-Agent {self.user_agent[:60]!r}" if self.user_agent else ""
        return f"{self.method} {self.path} from {self.client}{agent}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 5

    def _handle(self) -> None:
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        if length > 0:
            self.rfile.read(length)
        path = urlsplit(self.path).path
        token = path[len(PATH_PREFIX):].split("/", 1)[0] if path.startswith(PATH_PREFIX) else ""
        self.server.listener.record(Hit(token, self.command, path[:200], self.client_address[0],
                                        self.headers.get("User-Agent", ""), time.time()))
        body = self.server.listener.pages.get(token, "ok\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_PUT = _handle

    def log_message(self, *args: object) -> None:  # keep the auditor's terminal quiet
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], listener: CallbackListener) -> None:
        super().__init__(address, _Handler)
        self.listener = listener


def source_address_towards(host: str, port: int = 80) -> str:
    """The local address the kernel would use to reach `host` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        return str(sock.getsockname()[0])


class CallbackListener:
    """`with CallbackListener(bind, advertise) as cb: url = cb.url(cb.token())`."""

    def __init__(self, bind_host: str, advertise_host: str | None = None) -> None:
        self.bind_host = bind_host
        self.advertise_host = advertise_host or bind_host
        self.pages: dict[str, str] = {}
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> CallbackListener:
        self._server = _Server((self.bind_host, 0), self)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="aiaudit-callback", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> CallbackListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "listener not started"
        return int(self._server.server_address[1])

    @staticmethod
    def token() -> str:
        return secrets.token_hex(6)

    def url(self, token: str) -> str:
        return f"http://{self.advertise_host}:{self.port}{PATH_PREFIX}{token}"

    def serve(self, token: str, page: str) -> str:
        """Serve `page` at the token's URL and return that URL."""
        self.pages[token] = page
        return self.url(token)

    def record(self, hit: Hit) -> None:
        with self._lock:
            if len(self._hits) < MAX_HITS:
                self._hits.append(hit)

    def hits(self, tokens: set[str] | None = None) -> list[Hit]:
        with self._lock:
            return [h for h in self._hits if tokens is None or h.token in tokens]

    def wait(self, tokens: set[str], seconds: float) -> list[Hit]:
        """Hits for `tokens`, waiting up to `seconds` for late (asynchronous) fetches."""
        deadline = time.monotonic() + seconds
        while True:
            found = self.hits(tokens)
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.1)
