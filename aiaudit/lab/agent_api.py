"""HTTP surface of the lab agent: routing, body limits, error shapes, access logging.

Kept apart from the chat logic in ``agent.py`` so the protocol rules the audits probe
(401 with ``WWW-Authenticate``, 413 above 64 KB, JSON errors) are easy to find and review.
"""

from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from .agent import Agent

MODEL_ID = "lab-agent"
MAX_BODY = 64 * 1024
DRAIN_LIMIT = 4 * 1024 * 1024
SESSION_PATH = re.compile(r"^/api/sessions/([^/]+)/messages$")


class ApiError(Exception):
    """An error answered as OpenAI-style JSON ``{"error": {...}}`` with ``status``."""

    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.kind = status, code, kind
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": str(self), "type": self.kind, "code": self.code}}


class Handler(BaseHTTPRequestHandler):
    """Routes: /health, /v1/models, /v1/chat/completions, /api/sessions[/<id>/messages]."""

    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections must not pin a thread forever
    server_version = "lab-agent/0.1"

    @property
    def agent(self) -> Agent:
        assert isinstance(self.server, AgentServer)
        return self.server.agent

    def version_string(self) -> str:
        if self.agent.cfg.hide_server_version:
            return MODEL_ID
        return super().version_string()

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        self._status, self._user = 0, "-"
        try:
            body = self._read_body() if method in ("POST", "PUT") else b""
            status, payload = self._route(method, body)
            self._send(status, payload)
        except ApiError as exc:
            self._send(exc.status, exc.body(), exc.headers)
        except Exception as exc:  # noqa: BLE001 (a request must never kill the server)
            self.log_error("internal error: %r", exc)
            self._send(500, ApiError(500, "internal error", "internal_error",
                                     "server_error").body())
        finally:
            self.agent.log_access({
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "client_ip": self.client_address[0], "method": method,
                "path": urlsplit(self.path).path, "status": self._status, "user": self._user,
                "user_agent": self.headers.get("User-Agent", ""),
            })

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise ApiError(411, "chunked bodies are not supported; send Content-Length",
                           "length_required")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "invalid Content-Length", "invalid_request") from None
        if length > MAX_BODY:
            self.close_connection = True  # the unread body must not be parsed as a request
            self._discard(length)
            raise ApiError(413, f"request body larger than {MAX_BODY} bytes",
                           "request_too_large")
        return self.rfile.read(length) if length > 0 else b""

    def _discard(self, length: int) -> None:
        """Swallow a moderately oversized body so the client reads our 413 instead of a
        connection reset (closing with unread input makes the kernel send RST)."""
        if length > DRAIN_LIMIT:
            return
        self.connection.settimeout(5)
        try:
            while length > 0:
                chunk = self.rfile.read(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)
        except OSError:
            pass

    def _route(self, method: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query_user = (parse_qs(url.query).get("user") or [None])[0]
        routes = {"/health": "GET", "/v1/models": "GET", "/v1/chat/completions": "POST",
                  "/api/sessions": "GET"}
        expected = routes.get(path) or ("GET" if SESSION_PATH.match(path) else None)
        if expected is None:
            raise ApiError(404, f"no route for {path}", "not_found")
        if method != expected:
            raise ApiError(405, f"{method} not allowed on {path}", "method_not_allowed",
                           headers={"Allow": expected})
        if path == "/health":
            return 200, {"status": "ok"}
        body: dict[str, Any] = {}
        if method == "POST":
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                body = None  # type: ignore[assignment]
            if not isinstance(body, dict):
                self._user = self.agent.user_for(self.headers, None, query_user)
                raise ApiError(400, "request body must be a JSON object", "invalid_json")
        self._user = self.agent.user_for(self.headers, body.get("user"), query_user)
        return 200, self._dispatch(path, body)

    def _dispatch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        agent, user = self.agent, self._user
        if path == "/v1/models":
            return {"object": "list", "data": [{"id": MODEL_ID, "object": "model",
                                                "created": 0, "owned_by": "aiaudit-lab"}]}
        if path == "/v1/chat/completions":
            return agent.chat(body, user)
        scope = user if agent.cfg.isolation else None
        if path == "/api/sessions":
            return {"object": "list", "data": agent.store.sessions(scope)}
        match = SESSION_PATH.match(path)
        assert match is not None
        messages = agent.store.messages(match.group(1), scope)
        if messages is None:
            raise ApiError(404, "no such session", "session_not_found")
        return {"object": "list", "session_id": match.group(1), "data": messages}

    def _send(self, status: int, payload: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        self._status = status
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


class AgentServer(ThreadingHTTPServer):
    """Threaded server with a real listen backlog (the stdlib default is 5)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], agent: Agent) -> None:
        super().__init__(address, Handler)
        self.agent = agent
