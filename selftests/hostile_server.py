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
``/redirect``    [code=302] redirect to [to=/ok]
anything else    404
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

BIG_SIZE = 100 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: HostileServer

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self.owner.lock:
            self.owner.connections += 1
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-stream is the point of these tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        ctx = self.server.owner.tls_context
        if ctx is not None:  # handshake in the handler thread, never in accept()
            self.request.settimeout(5)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _dispatch(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with owner.lock:
            owner.hits[(self.command, parts.path)] += 1
            owner.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers)}
            )
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
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

    def do_path_hangup(self, q: dict[str, str]) -> None:
        self.close_connection = True  # returning without a byte makes the server hang up

    def do_path_redirect(self, q: dict[str, str]) -> None:
        self.send_response(int(q.get("code", 302)))
        self.send_header("Location", q.get("to", "/ok"))
        self.send_header("Content-Length", "0")
        self.end_headers()


class HostileServer:
    """Context manager: ``with HostileServer() as srv: srv.url("/ok")``."""

    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        self.tls_context = tls_context
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.hits: Counter[tuple[str, str]] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.big_sent: list[int] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def scheme(self) -> str:
        return "https" if self.tls_context else "http"

    def url(self, path: str = "/", scheme: str | None = None) -> str:
        return f"{scheme or self.scheme}://127.0.0.1:{self.port}{path}"

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


def free_port() -> int:
    """A port nothing listens on (bound then released), for connection-refused tests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
