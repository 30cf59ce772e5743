"""The one HTTP client every aiaudit probe uses.

Why this module exists: the suite talks to *live* AI deployments that belong to someone
else. A sloppy request can pull a 40 GB model, delete a vector collection, hang the audit
on an endpoint that streams forever, or hammer a single-GPU box. So every request goes
through :class:`SafeClient`, which

* refuses, before anything is sent, any method + path on the module's hard deny list
  (:data:`DENY_RULES`, :data:`ALLOWED_METHODS`) and any method + path the calling
  :class:`Probe` has not declared safe;
* sends a neutral User-Agent, never follows redirects unless asked (and then only to the
  same host, re-checking every hop), ignores proxy / ``.netrc`` settings from the
  environment, and keeps no cookies between requests;
* bounds every call: connect and read timeouts, a total-time bound enforced by a
  watchdog that shuts the socket down (so a server that streams forever or trickles one
  byte at a time cannot hang the audit), and a cap on the bytes read;
* retries only idempotent requests, only on transport failures, a bounded number of
  times;
* limits concurrency and request rate per target (scheme + host + port);
* records every request actually sent (with secrets redacted) for the report appendix;
* turns every transport failure (refused, timeout, TLS, protocol) into an
  :class:`HttpResult` with a short human-readable ``error`` instead of an exception.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json as _json
import posixpath
import re
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions as u3exc
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse as _U3Response

__all__ = [
    "ALLOWED_METHODS",
    "DEFAULT_USER_AGENT",
    "DENY_RULES",
    "DenyRule",
    "Headers",
    "HttpResult",
    "Probe",
    "RefusedRequest",
    "RequestRecord",
    "SafeClient",
    "SafeRoute",
    "UnsafeRequestRefused",
    "abort_all",
    "catalog_deny_rules",
    "denied_reason",
    "loads_json",
    "redact_url",
]

DEFAULT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) aiaudit/0.1"

#: Methods the client will ever send. Everything else (PUT, PATCH, DELETE, WebDAV verbs,
#: CONNECT...) changes state or tunnels, so it is refused whatever a probe declares.
ALLOWED_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "POST"})
#: Methods that must not change server state; deny rules marked ``any_method`` also
#: apply to these.
READ_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Only these are retried: repeating them cannot change anything on the target.
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_METHOD_OVERRIDE_HEADERS = ("x-http-method-override", "x-http-method", "x-method-override")


class UnsafeRequestRefused(Exception):
    """Raised *before* anything is sent when a request is not allowed.

    Reasons: the method/path is on the hard deny list, the probe did not declare it, the
    URL scheme is not http(s), or the client's request budget is exhausted.
    """

    def __init__(
        self, message: str, *, probe: str | None = None, method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.probe = probe
        self.method = method
        self.url = url


# --------------------------------------------------------------------------- deny list


@dataclass(frozen=True)
class DenyRule:
    """A path glob (matched lower-case, ``*`` also crosses ``/``) that is never sent.

    By default the rule applies to state-changing methods only (anything not in
    :data:`READ_METHODS`), so e.g. ``GET /slots`` (an exposure check) stays possible while
    ``POST /slots`` is refused. ``any_method=True`` refuses even GET, for endpoints that
    change state on GET.
    """

    pattern: str
    reason: str
    any_method: bool = False
    exact: re.Pattern[str] | None = None  # catalog rules: {param} is one segment only

    def applies(self, method: str, path: str) -> bool:
        if not self.any_method and method in READ_METHODS:
            return False
        if self.exact is not None:
            return self.exact.fullmatch(path) is not None
        return fnmatchcase(path, self.pattern)


def _rules(reason: str, *patterns: str, any_method: bool = False) -> tuple[DenyRule, ...]:
    return tuple(DenyRule(p, reason, any_method) for p in patterns)


#: The hard deny list. It overrides every probe declaration. Patterns start with ``*`` so
#: the same endpoint behind a reverse-proxy prefix (``/ollama/api/pull``) is covered too.
DENY_RULES: tuple[DenyRule, ...] = (
    *_rules(
        "Ollama model management",
        "*/api/pull", "*/api/push", "*/api/create", "*/api/copy", "*/api/delete",
        "*/api/blobs/*",
    ),
    *_rules("Ollama model deletion", "*/api/delete", any_method=True),
    *_rules(
        "vLLM / SGLang engine control",
        "*/pause", "*/resume", "*/sleep", "*/wake_up", "*/update_weight*", "*/init_weight*",
        "*/collective_rpc", "*/reset_*", "*/abort_request*", "*/start_profile",
        "*/stop_profile", "*/scale_elastic_ep", "*/load_lora_adapter", "*/unload_lora_adapter",
        "*/flush_cache", "*/release_memory_occupation", "*/resume_memory_occupation",
        "*/shutdown",
    ),
    *_rules(
        "llama.cpp server state", "*/props", "*/slots*", "*/lora-adapters", "*/models/load",
        "*/models/unload",
    ),
    *_rules("Ray job / serve control", "*/api/jobs*", "*/api/serve/*"),
    *_rules(
        "Ray actor kill", "*/api/actors/kill*", "*/logical/kill_actor*", any_method=True,
    ),
    *_rules(
        "ComfyUI queue / upload", "*/prompt", "*/interrupt", "*/upload/*", "*/queue",
        "*/history", "*/free",
    ),
    *_rules(
        "ComfyUI-Manager (state change on GET)", "*/manager/reboot*", "*/manager/queue/*",
        "*/snapshot/restore*", "*/snapshot/remove*", "*/customnode/install*",
        "*/model/install*", any_method=True,
    ),
    *_rules(
        "LocalAI model / backend management", "*/models/apply", "*/models/delete/*",
        "*/backends/apply", "*/backends/delete/*",
    ),
    *_rules("OpenClaw tool invocation", "*/tools/invoke*", any_method=True),
    # signin too: with WEBUI_AUTH=False it creates the admin@localhost account when no user
    # exists (open_webui/routers/auths.py signin -> signup_handler, 0.12.4)
    *_rules("Open WebUI account creation", "*/api/v1/auths/signup", "*/api/v1/auths/add",
            "*/api/v1/auths/signin"),
    *_rules(
        "OpenAI-style stored objects", "*/v1/files", "*/v1/fine_tuning/*", "*/v1/batches*",
        "*/v1/assistants*", "*/v1/threads*", "*/v1/vector_stores*",
    ),
    *_rules(
        "vector DB create / delete / reset", "*/reset", "*/collections", "*/tenants",
        "*/databases", "*/points/delete", "*/points/payload*", "*/snapshots*", "*/aliases",
        "*/v1/schema*", "*/v1/objects*", "*/v1/batch/*", "*/v1/backups/*", "*/v1/tenants*",
        "*/v2/repository/models/*",
    ),
)

#: Hand-listed model launches on a read-looking path: Xinference's ``POST /v1/models``
#: starts a model (xinference/api/restful_api.py registers ``launch_model`` there).
DENY_RULES += _rules("model launch (Xinference)", "*/v1/models")

_HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE"})


def catalog_rule(service: str, entry: str) -> DenyRule | None:
    """The deny rule for one catalog ``management`` entry (``"POST /key/generate"``,
    ``"POST /slots/{id}?action=save"``), or None for prose entries that name no request
    (``"control UI / WebSocket RPC"``). ``{param}`` becomes ``*``; a read method (GET)
    refuses the path for every method, since that endpoint changes state on GET."""
    words = entry.split()
    if len(words) < 2 or words[0].upper() not in _HTTP_METHODS or not words[1].startswith("/"):
        return None
    method = words[0].upper()
    path = words[1].split("?", 1)[0].lower().rstrip("/")
    if not path:
        return None
    # Any prefix (the same endpoint behind a reverse-proxy path), each {param} one segment.
    regex = "(?:/.*)?" + "".join("[^/]+" if re.fullmatch(r"\{[^}/]*\}", part) else re.escape(part)
                                 for part in re.split(r"(\{[^}/]*\})", path))
    return DenyRule("*" + re.sub(r"\{[^}/]*\}", "*", path),
                    f"{service} management endpoint {method} {words[1]}",
                    any_method=method in READ_METHODS, exact=re.compile(regex))


@functools.cache
def catalog_deny_rules() -> tuple[DenyRule, ...]:
    """Never-send rules derived from every ``management`` entry of the service catalog
    (aiaudit/data/services.toml), so that what the catalog calls management is refused by
    construction, not only by each probe's allow-list."""
    from aiaudit.services import load_services  # data-only module; imported late by design

    rules = (catalog_rule(svc.name, entry) for svc in load_services() for entry in svc.management)
    return tuple(r for r in rules if r is not None)


#: Path segments that name a state change; on a non-read method any segment equal to one
#: of these (or starting with it plus ``_``) is refused. Defence in depth for servers
#: nobody listed above.
_DESTRUCTIVE_SEGMENTS: frozenset[str] = frozenset(
    {
        "abort", "alter", "apply", "backup", "cancel", "clear", "copy", "create", "delete",
        "drop", "erase", "flush", "import", "insert", "install", "interrupt", "kill",
        "load", "pause", "pull", "purge", "push", "reboot", "register", "release",
        "reload", "remove", "rename", "reset", "restart", "restore", "resume", "shutdown",
        "signup", "sleep", "stop", "truncate", "uninstall", "unload", "update", "upload",
        "upsert", "wake_up",
    }
)


def _path_variants(path: str) -> set[str]:
    """Every spelling of ``path`` a lenient server might route to the same handler."""
    out: set[str] = set()
    raw = path.split("?", 1)[0].split("#", 1)[0]
    for candidate in (raw, unquote(raw), unquote(unquote(raw))):
        p = candidate.replace("\\", "/").lower()
        p = "/".join(seg.split(";", 1)[0] for seg in p.split("/"))  # drop ;matrix params
        p = re.sub(r"/{2,}", "/", "/" + p.lstrip("/"))
        out.add(p)
        norm = posixpath.normpath(p)
        out.add(norm if norm.startswith("/") else "/" + norm)
    return {p.rstrip("/") or "/" for p in out} | out


def denied_reason(method: str, path: str) -> str | None:
    """Why ``method path`` is on the hard deny list, or ``None`` if it is not.

    Public so probe authors can check declarations up front; :class:`SafeClient` calls it
    on every request and redirect hop.
    """
    method = method.strip().upper()
    if method not in ALLOWED_METHODS:
        return f"method {method} is never sent (state-changing or tunnelling)"
    rules = (*DENY_RULES, *catalog_deny_rules())
    for variant in _path_variants(path):
        for rule in rules:
            if rule.applies(method, variant):
                return f"{rule.reason}: {rule.pattern}"
        if method not in READ_METHODS:
            for seg in variant.split("/"):
                if seg in _DESTRUCTIVE_SEGMENTS or seg.split("_", 1)[0] in _DESTRUCTIVE_SEGMENTS:
                    return f"path segment {seg!r} names a state change"
    return None


# ------------------------------------------------------------------- probes and routes


@dataclass(frozen=True)
class SafeRoute:
    """One request a probe declares safe: an HTTP method and a URL-path glob.

    ``path`` uses :func:`fnmatch.fnmatchcase` (``*`` also matches ``/``); it is matched
    against the path only, never the query string. ``method`` may be ``"*"``.
    """

    method: str
    path: str

    def __post_init__(self) -> None:
        if not self.method.strip():
            raise ValueError("SafeRoute.method must not be empty")
        if not self.path.startswith(("/", "*")):
            raise ValueError(f"SafeRoute.path must start with '/' or '*': {self.path!r}")

    def matches(self, method: str, path: str) -> bool:
        return fnmatchcase(method.strip().upper(), self.method.strip().upper()) and fnmatchcase(
            path.split("?", 1)[0], self.path
        )


@dataclass(frozen=True)
class Probe:
    """A named probe and the requests it declares safe.

    Declaring routes up front makes each probe's footprint on the target reviewable, and
    lets the client refuse anything the probe's author did not intend to send.
    """

    name: str
    routes: tuple[SafeRoute, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.routes, tuple):  # accept lists for convenience
            object.__setattr__(self, "routes", tuple(self.routes))

    def allows(self, method: str, path: str) -> bool:
        """True if some declared route matches (the deny list is checked separately)."""
        return any(route.matches(method, path) for route in self.routes)


# --------------------------------------------------------------------- results/records


class Headers(dict[str, str]):
    """Response headers: a real ``dict`` (JSON-serialisable) whose keys are stored
    lower-case; ``[]``, ``get``, ``in``, ``pop`` accept any case. Repeated headers are
    joined with ``", "``."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = (), **kw: str):
        super().__init__()
        self.update(items, **kw)

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        return super().pop(key.lower(), *default)

    def setdefault(self, key: str, default: str = "") -> str:  # type: ignore[override]
        return super().setdefault(key.lower(), default)

    def update(self, other: Any = (), /, **kw: str) -> None:  # type: ignore[override]
        pairs = other.items() if isinstance(other, Mapping) else other
        for k, v in pairs:
            self[k] = v
        for k, v in kw.items():
            self[k] = v

    def copy(self) -> Headers:
        return Headers(self)


@dataclass
class HttpResult:
    """What came back from one call (the final hop when redirects are followed).

    ``headers`` is a :class:`Headers` dict: lower-case keys, case-insensitive lookups.
    ``url`` is the URL as requested (not redacted); records carry the redacted form.
    """

    method: str
    url: str
    status: int | None
    headers: Headers
    body: bytes
    truncated: bool
    elapsed: float
    error: str | None
    error_kind: str | None
    tls: dict[str, Any] | None
    attempts: int = 1
    #: Why the body is incomplete although a response arrived, one line: "response too
    #: large: ...", "stream did not end within ...", "timed out after ...", "truncated
    #: body: ..."; ``cut_kind`` is "size" | "time" | "closed".
    cut: str | None = None
    cut_kind: str | None = None

    @property
    def cause(self) -> str | None:
        """The one-line cause when the call did not yield a whole answer (transport error,
        skipped, or a body cut short), else None."""
        return self.error or self.cut

    @property
    def timed_out(self) -> bool:
        """The target took too long (no answer in time, or a body that never ended)."""
        return self.error_kind == "timeout" or self.cut_kind == "time"

    @property
    def ok(self) -> bool:
        """True when an HTTP response (any status) arrived."""
        return self.status is not None

    def text(self, limit: int | None = None) -> str:
        """Body decoded with the declared charset (else UTF-8), ``errors="replace"``;
        cut to ``limit`` characters if given."""
        charset = "utf-8"
        match = re.search(r"charset=[\"']?([\w.:-]+)", self.headers.get("content-type", ""))
        if match:
            charset = match.group(1)
        try:
            text = self.body.decode(charset, errors="replace")
        except LookupError:
            text = self.body.decode("utf-8", errors="replace")
        return text if limit is None else text[:limit]

    def json(self) -> Any:
        """Parsed JSON body, or ``ValueError`` with a one-line reason (no chained
        traceback), so a probe's failure message stays readable."""
        if self.status is None:
            raise ValueError(f"no response to parse as JSON ({self.error})")
        try:
            return loads_json(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            what = exc.msg if isinstance(exc, _json.JSONDecodeError) else type(exc).__name__
            cut = f", body truncated at {len(self.body)} bytes" if self.truncated else ""
            if self.cut:
                cut = f"; {self.cut}"
            raise ValueError(
                f"response from {self.method} {redact_url(self.url)} is not JSON "
                f"({what}{cut}); body starts {self.body[:60]!r}"
            ) from None

    def __repr__(self) -> str:  # bodies can be 1 MB: never dump them into pytest output
        body = self.body[:80] + (b"..." if len(self.body) > 80 else b"")
        return (
            f"HttpResult({self.method} {redact_url(self.url)} status={self.status} "
            f"error={self.error!r} error_kind={self.error_kind!r} truncated={self.truncated} "
            f"elapsed={self.elapsed:.3f} body[{len(self.body)}]={body!r})"
        )


@dataclass(frozen=True)
class RequestRecord:
    """One request actually sent (each retry and redirect hop is its own record)."""

    probe: str
    method: str
    url: str  # redacted, see redact_url
    status: int | None
    started: float  # epoch seconds
    elapsed: float
    bytes_read: int
    error: str | None  # the one-line cause: transport error, or why the body was cut short


@dataclass(frozen=True)
class RefusedRequest:
    """A request the client refused to send (kept apart from :class:`RequestRecord`)."""

    probe: str
    method: str
    url: str  # redacted
    reason: str
    when: float  # epoch seconds


_SECRET_KEY = re.compile(
    r"key|token|secret|passw|pwd|auth|credential|signature|session|cookie|jwt", re.I
)


def redact_url(url: str) -> str:
    """``url`` with the userinfo password and secret-looking query values set to ``***``.

    A query key counts as secret when its name contains key/token/secret/password/auth/...
    (so ``api_key``, ``access_token``, ``X-Amz-Signature`` are all covered).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostport}"
    query = parts.query
    if query:
        pieces = []
        for piece in query.split("&"):
            name, eq, _value = piece.partition("=")
            if eq and _SECRET_KEY.search(unquote(name.replace("+", " "))):
                piece = f"{name}=***"
            pieces.append(piece)
        query = "&".join(pieces)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# ------------------------------------------------------------- transport instrumentation

_local = threading.local()  # .attempt: the _Attempt running in this thread, if any
_OWNER_LOCK = threading.Lock()  # guards conn._aiaudit_owner against watchdog races


def _shutdown_socket(sock: Any) -> None:
    try:  # base-class method: acts on the fd, also for SSLSocket, without touching TLS state
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError, ValueError):
        pass


class _Attempt:
    """One request on the wire plus its watchdog.

    The watchdog enforces the total-time bound even while a read is blocked inside
    http.client (e.g. headers trickling in one byte at a time) by shutting the socket
    down. It only ever touches a connection this attempt still owns: the pool clears
    ownership under :data:`_OWNER_LOCK` before a connection can be handed to another
    thread.
    """

    def __init__(self, budget_s: float) -> None:
        self.conn: Any = None
        self.sock: Any = None
        self.tls: dict[str, Any] | None = None
        self.handshaking = False  # TCP connected, TLS handshake not finished yet
        self.handshake_sock: Any = None  # the watchdog's dup of the socket meanwhile
        self.fired = False
        self.aborted = False
        self._finished = False
        self._timer = threading.Timer(max(budget_s, 0.0), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Attempt:
        _local.attempt = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        _local.attempt = None
        self._timer.cancel()
        with _OWNER_LOCK:
            self._finished = True

    def bind(self, conn: Any) -> None:
        with _OWNER_LOCK:
            conn._aiaudit_owner = self
            self.conn = conn
            if getattr(conn, "sock", None) is not None:
                self.sock = conn.sock

    def note_socket(self, sock: Any) -> None:
        with _OWNER_LOCK:
            if sock is not None:
                self.sock = sock

    def abort(self) -> None:
        """Abandon the attempt now (the audit was interrupted): same socket shutdown."""
        self.aborted = True
        self._fire()

    def _fire(self) -> None:
        with _OWNER_LOCK:
            if self._finished:
                return
            self.fired = True
            if self.conn is not None and getattr(self.conn, "_aiaudit_owner", None) is self:
                if self.sock is not None:
                    _shutdown_socket(self.sock)


def _current_attempt() -> _Attempt | None:
    return getattr(_local, "attempt", None)


def _note_sock(conn: Any) -> None:
    attempt = _current_attempt()
    if attempt is not None and getattr(conn, "_aiaudit_owner", None) is attempt:
        attempt.note_socket(getattr(conn, "sock", None))


def _note_raw_sock(conn: Any, sock: Any, tls: bool) -> None:
    """The TCP socket as soon as it is connected, before any TLS handshake: a server that
    drips its handshake is then cut by the watchdog (or an interrupt) like any other.

    ``ssl.wrap_socket`` detaches the socket object it wraps and only returns once the
    handshake is over, so the watchdog gets a ``dup`` of the descriptor: shutting that down
    ends the handshake, and it is this attempt's own descriptor (never reused by another
    connection while the watchdog may still use it).
    """
    attempt = _current_attempt()
    if attempt is None or getattr(conn, "_aiaudit_owner", None) is not attempt:
        return
    if not tls:
        attempt.note_socket(sock)
        return
    try:
        dup = sock.dup()
    except OSError:
        return
    with _OWNER_LOCK:
        attempt.handshake_sock = dup
        attempt.sock = dup
        attempt.handshaking = True


def _end_handshake(conn: Any) -> None:
    """Close the watchdog's duplicate descriptor once the TLS handshake ended either way."""
    attempt = _current_attempt()
    if attempt is None or attempt.handshake_sock is None:
        return
    with _OWNER_LOCK:
        dup, attempt.handshake_sock = attempt.handshake_sock, None
        if attempt.sock is dup:
            attempt.sock = None
    dup.close()


#: Interim (1xx) answers accepted before the final one: a server sending ``100 Continue``
#: forever would otherwise keep http.client reading heads until the time limit.
MAX_INTERIM = 20


class InterimFlood(http.client.HTTPException):
    """More interim (1xx) responses than :data:`MAX_INTERIM` before a final one."""


class HeadCut(http.client.HTTPException):
    """The connection closed inside the response head (http.client takes that EOF for the
    blank line that ends the head, so a cut head would read as a whole, empty answer)."""


class _HeadWatch:
    """Wraps the response's file while the head is parsed: notes an EOF and counts lines."""

    def __init__(self, fp: Any) -> None:
        self.fp, self.eof, self.lines = fp, False, 0

    def readline(self, *args: Any) -> bytes:
        line = self.fp.readline(*args)
        if line:
            self.lines += 1
        else:
            self.eof = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fp, name)


class _GuardedResponse(http.client.HTTPResponse):
    """http.client's response, hardened against hostile heads: interim answers (``102``,
    ``103 Early Hints``) are skipped like ``100 Continue`` instead of being taken for the
    final answer, at most :data:`MAX_INTERIM` of them, and a head cut by the server closing
    the connection is an error, not an empty answer."""

    _statuses = 0

    def _read_status(self) -> tuple[str, int, str]:
        self._statuses += 1
        if self._statuses > MAX_INTERIM + 1:
            raise InterimFlood(f"more than {MAX_INTERIM} interim (1xx) responses and no "
                               "final one")
        return super()._read_status()  # type: ignore[misc]

    def begin(self) -> None:
        if self.headers is not None:
            return
        real = self.fp
        watch = _HeadWatch(real)
        self.fp = watch  # type: ignore[assignment]
        try:
            super().begin()
            while 102 <= self.status < 200:  # interim: its head is read, the answer follows
                self.headers = self.msg = None  # type: ignore[assignment]
                super().begin()
        finally:
            if self.fp is watch:
                self.fp = real
        if watch.eof:
            where = ("after the status line" if watch.lines <= 1 else
                     f"inside the response head (after {watch.lines - 1} header lines)")
            raise HeadCut(f"connection closed {where}")


class _WatchedHTTPConnection(HTTPConnection):
    response_class = _GuardedResponse

    def _new_conn(self) -> Any:
        sock = super()._new_conn()
        _note_raw_sock(self, sock, tls=False)
        return sock

    def connect(self) -> None:
        super().connect()
        _note_sock(self)

    def getresponse(self) -> Any:  # type: ignore[override]
        _note_sock(self)  # http.client may drop self.sock on "Connection: close"
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    response_class = _GuardedResponse

    def _new_conn(self) -> Any:
        sock = super()._new_conn()
        _note_raw_sock(self, sock, tls=True)
        return sock

    def connect(self) -> None:
        try:
            super().connect()
        finally:
            _end_handshake(self)
        attempt = _current_attempt()
        if attempt is not None:
            attempt.handshaking = False
        _note_sock(self)

    def getresponse(self) -> Any:  # type: ignore[override]
        _note_sock(self)
        attempt = _current_attempt()
        if attempt is not None and attempt.tls is None:
            attempt.tls = _tls_facts(self.sock)
        return super().getresponse()


class _OwnershipMixin:
    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        attempt = _current_attempt()
        if attempt is not None:
            attempt.bind(conn)
        return conn

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            with _OWNER_LOCK:
                conn._aiaudit_owner = None
        super()._put_conn(conn)  # type: ignore[misc]


class _WatchedHTTPPool(_OwnershipMixin, HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_OwnershipMixin, HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _validate_conn(self, conn: Any) -> None:
        # urllib3 emits InsecureRequestWarning here for every unverified request. Lab
        # targets use internal CAs, so verify_tls=False is the norm; skip the warning for
        # this client's pools only (a global warnings filter would hide it for everyone,
        # and warnings.catch_warnings is not thread-safe).
        if str(self.cert_reqs).upper().endswith("CERT_NONE"):
            HTTPConnectionPool._validate_conn(self, conn)
            if conn.is_closed:
                conn.connect()
            return
        super()._validate_conn(conn)


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {  # type: ignore[assignment]
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def _tls_facts(sock: Any) -> dict[str, Any] | None:
    """Peer-certificate facts that are cheap to get (no extra connection)."""
    if sock is None or not hasattr(sock, "getpeercert"):
        return None
    try:
        facts: dict[str, Any] = {"version": sock.version()}
        cipher = sock.cipher()
        if cipher:
            facts["cipher"] = cipher[0]
        der = sock.getpeercert(binary_form=True)
        if der:
            facts["sha256"] = hashlib.sha256(der).hexdigest()
        parsed = sock.getpeercert()  # only populated when the chain was verified
        if parsed:
            facts["subject"] = _rdn_string(parsed.get("subject", ()))
            facts["issuer"] = _rdn_string(parsed.get("issuer", ()))
            facts["notBefore"] = parsed.get("notBefore")
            facts["notAfter"] = parsed.get("notAfter")
            facts["san"] = [v for _k, v in parsed.get("subjectAltName", ())]
        elif der:
            facts.update(_parse_der(der))
        if "subject" in facts:
            facts["self_signed"] = facts["subject"] == facts.get("issuer")
        return facts
    except (OSError, ValueError, AttributeError):
        return None


def _rdn_string(rdns: Iterable[Iterable[tuple[str, str]]]) -> str:
    names = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
             "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}
    return ",".join(f"{names.get(k, k)}={v}" for rdn in rdns for k, v in rdn)


def _parse_der(der: bytes) -> dict[str, Any]:
    """Unverified certificates are only available as DER; parse them with
    ``cryptography`` when it is importable (paramiko pulls it in), else skip."""
    try:
        from cryptography import x509
    except ImportError:
        return {}
    try:
        cert = x509.load_der_x509_certificate(der)
        fmt = "%b %d %H:%M:%S %Y GMT"  # same format as ssl.getpeercert()
        out: dict[str, Any] = {
            "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(),
            "notBefore": cert.not_valid_before_utc.strftime(fmt),
            "notAfter": cert.not_valid_after_utc.strftime(fmt),
        }
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            out["san"] = [str(name.value) for name in san.value]
        except x509.ExtensionNotFound:
            out["san"] = []
        return out
    except Exception:  # malformed certificate: facts are best-effort only
        return {}


# ------------------------------------------------------------------ error classification


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f}" if round(seconds, 1) == seconds else f"{seconds:.3g}"


def _short(text: str, limit: int = 160) -> str:
    """One line of at most ``limit`` characters, secrets masked before it is cut (a key cut
    in half loses the shape redaction knows it by)."""
    from aiaudit.redact import redact

    text = redact(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def loads_json(body: bytes) -> Any:
    """``json.loads`` that reads bytes which are not UTF-8 inside otherwise valid JSON as
    U+FFFD: no real server sends them, and a deceptive one must not dodge identification
    (or turn an open API into "malformed JSON") by salting its answers with one."""
    try:
        return _json.loads(body)
    except UnicodeDecodeError:
        return _json.loads(body.decode(_json.detect_encoding(body), "replace"))


def _undecodable(encoding: str) -> str:
    """The content codings in a Content-Encoding header that urllib3 cannot undo here
    (``br`` without brotli, ``zstd`` without its backend, anything made up): urllib3 then
    hands the coded bytes over as if they were the body."""
    known = set(_U3Response.CONTENT_DECODERS) | {"identity", ""}
    return ", ".join(c for c in (t.strip().lower() for t in encoding.split(","))
                     if c not in known)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps (requests and urllib3 nest errors deeply)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 32:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        yield cur
        nxt = [cur.__cause__, cur.__context__, getattr(cur, "reason", None)]
        nxt += [a for a in getattr(cur, "args", ()) if isinstance(a, BaseException)]
        todo += [n for n in nxt if isinstance(n, BaseException)]


def _classify(
    exc: BaseException, phase: str, read_timeout: float, connect_timeout: float | None = None
) -> tuple[str, str]:
    """Map a transport exception to (error_kind, short message)."""
    chain = list(_causes(exc))

    def find(*types: type[BaseException]) -> BaseException | None:
        return next((c for c in chain if isinstance(c, types)), None)

    if find(u3exc.NewConnectionError, ConnectionRefusedError, socket.gaierror):
        if find(ConnectionRefusedError):
            return "connect", "connection refused"
        if find(u3exc.NameResolutionError, socket.gaierror):
            return "connect", "DNS lookup failed"
        if find(ConnectionResetError):  # accepted, then reset before the request went out
            return "connect", "connection reset by peer (on connect)"
        # requests' ConnectionError is an OSError too, without strerror: take the socket's
        os_err = next((c for c in chain if isinstance(c, OSError) and c.strerror), None)
        detail = getattr(os_err, "strerror", None) or _short(str(exc), 100)
        return "connect", f"cannot connect: {detail}"
    if find(u3exc.ConnectTimeoutError, requests.exceptions.ConnectTimeout):
        limit = read_timeout if connect_timeout is None else connect_timeout
        return "timeout", f"connect timed out after {_fmt_s(limit)}s"
    if find(u3exc.ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError):
        where = "reading body" if phase == "body" else "waiting for response"
        return "timeout", f"timed out after {_fmt_s(read_timeout)}s {where}"
    ssl_err = find(ssl.SSLError)
    if ssl_err is not None or find(requests.exceptions.SSLError, u3exc.SSLError):
        if isinstance(ssl_err, ssl.SSLCertVerificationError):
            return "tls", f"TLS error: certificate verify failed ({ssl_err.verify_message})"
        reason = getattr(ssl_err, "reason", None)
        if reason:
            return "tls", f"TLS error: {str(reason).lower().replace('_', ' ')}"
        return "tls", f"TLS error: {_short(str(ssl_err or exc), 120)}"
    guarded = find(InterimFlood, HeadCut)
    if guarded is not None:
        return "protocol", str(guarded)
    framing = find(u3exc.InvalidHeader)
    if framing is not None:
        return "protocol", f"invalid framing: {_short(str(framing), 120)}"
    # A chunk-size line that is not hex: urllib3 says InvalidChunkLength, http.client's
    # read1 an IncompleteRead raised from int(line, 16)'s ValueError ("0 bytes read").
    chunk = find(u3exc.InvalidChunkLength)
    bad_hex = next((c for c in chain if type(c) is ValueError and "base 16" in str(c)), None)
    if chunk is not None or bad_hex is not None:  # before IncompleteRead, which it also is
        line = (bytes(getattr(chunk, "length", b"") or b"") if chunk is not None else
                str(bad_hex).rpartition(": ")[2])
        shown = line.strip()[:40] if isinstance(line, bytes) else line[:60]
        return "protocol", f"invalid framing: chunk size {shown} is not a hex number"
    too_long = find(http.client.LineTooLong)
    if too_long is not None:  # http.client names the line: "status line", "header line",
        # "chunk size" (a chunk-size line with its extensions) or "trailer line"
        what = next((w for w in ("chunk size", "trailer", "header", "status")
                     if w in str(too_long)), "")
        line = {"chunk size": "a chunk-size line", "trailer": "a trailer line",
                "header": "a header line", "status": "the status line"}.get(
                    what, "a status or header line")
        return "protocol", f"response too large: {line} over 64 KiB"
    too_many = find(http.client.HTTPException)
    if too_many is not None and "more than" in str(too_many) and "headers" in str(too_many):
        return "protocol", f"response too large: {_short(str(too_many), 80)}"
    bad = find(http.client.BadStatusLine)
    line = str(bad.args[0]) if bad is not None and bad.args else ""
    if isinstance(bad, http.client.RemoteDisconnected) or (bad is not None and not line):
        return "protocol", "connection closed without response"
    if bad is not None:
        if line[:2] in ("\x15\x03", "\x16\x03"):
            return "protocol", "server answered in TLS on a plain-HTTP request (try https://)"
        from aiaudit.redact import redact

        return "protocol", f"invalid HTTP response: {redact(line)[:60]!r}"
    if find(ConnectionResetError):
        return "protocol", "connection reset by peer"
    if find(http.client.IncompleteRead, u3exc.IncompleteRead):
        return "protocol", "connection closed mid-body"
    if find(u3exc.DecodeError):
        return "protocol", "could not decode the content-encoding"
    if find(http.client.HTTPException, u3exc.ProtocolError, BrokenPipeError):
        return "protocol", f"protocol error: {_short(str(exc), 120)}"
    return "other", f"{type(exc).__name__}: {_short(str(exc), 120)}"


# ------------------------------------------------------------------------ the client


class _HostGate:
    """Per-target concurrency semaphore and token-bucket rate limit: up to ``burst``
    requests at once (still under the concurrency cap), then ``rate`` per second. Over any
    stretch of t seconds a target gets at most ``burst + rate * t`` requests; a fixed
    interval from the first request on would make every short discovery wait out the rate
    even when it sends only a second's worth."""

    def __init__(self, concurrency: int, rate: float | None, burst: int = 1) -> None:
        self.sem = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._interval = 1.0 / rate if rate and rate > 0 else 0.0
        self._burst = max(1, int(burst))
        self._next = 0.0  # theoretical arrival time of the next request (GCRA)

    def wait_turn(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next - (self._burst - 1) * self._interval)
            self._next = max(self._next, slot) + self._interval
        if slot > now:
            time.sleep(slot - now)


def _origin(parts: Any) -> str:
    """``scheme://host:port`` of a split URL: what a redirect may never leave."""
    try:
        return f"{parts.scheme.lower()}://{_host_key(parts)}"
    except ValueError:  # a port that is not a number
        return f"{parts.scheme.lower()}://{parts.netloc}"


def _host_key(parts: Any) -> str:
    """``host:port`` of a split URL (the unit a host budget is kept for)."""
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _HostBudget:
    """The time one host:port may cost the whole audit, and why it is no longer probed.

    Time counts while at least one request to it is in flight (wall-clock, so concurrent
    probes share it), not while the audit is busy elsewhere. After its first timeout the
    host is given up: a drip host then costs one timeout, not (probes x timeout).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.failed: str | None = None
        self._spent = 0.0
        self._active = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def remaining(self) -> float:
        with self._lock:
            busy = time.monotonic() - self._since if self._active else 0.0
            return self.seconds - self._spent - busy

    def enter(self) -> None:
        with self._lock:
            if self._active == 0:
                self._since = time.monotonic()
            self._active += 1

    def leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self._spent += time.monotonic() - self._since

    def fail(self, why: str) -> None:
        with self._lock:
            if self.failed is None:
                self.failed = why


@dataclass
class _Call:
    probe: Probe
    headers: dict[str, str]
    cap: int
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    attempts: int = 0
    limit_s: float = 0.0  # this attempt's time bound and what set it
    limit_label: str = "total time limit"

    def timeout_msg(self) -> str:
        return f"timed out after {_fmt_s(self.limit_s)}s ({self.limit_label})"


_CLIENTS: weakref.WeakSet[SafeClient] = weakref.WeakSet()


def abort_all(reason: str = "the audit was interrupted") -> None:
    """:meth:`SafeClient.abort` on every client alive in this process (SIGINT/SIGTERM)."""
    for client in list(_CLIENTS):
        client.abort(reason)


class SafeClient:
    """Thread-safe HTTP client with the guard rails described in the module docstring.

    ``total_timeout`` bounds the time spent talking to the target per call, from the
    first byte sent to the end of the body, retries and redirect hops included; waiting
    for a per-host concurrency/rate slot is not counted. DNS resolution is not bounded.
    ``per_host_rate`` is requests per second per target (``None``/``0`` = unlimited), after
    a burst of at most ``per_host_burst`` requests (default 1: evenly spaced from the first).
    ``request_budget`` caps the number of requests sent (retries and hops count).
    ``host_budget`` is the total time (seconds) one host:port may cost over the client's
    life; after a host's first timeout its further requests are not sent and come back at
    once with ``error_kind="skipped"`` and the first timeout as the reason.
    :meth:`abort` abandons every request in flight (an interrupted audit).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        total_timeout: float = 20.0,
        max_bytes: int = 1_000_000,
        retries: int = 1,
        per_host_concurrency: int = 4,
        per_host_rate: float | None = 20.0,
        per_host_burst: int = 1,
        verify_tls: bool = False,
        user_agent: str = DEFAULT_USER_AGENT,
        request_budget: int | None = None,
        host_budget: float | None = None,
    ) -> None:
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.total_timeout = float(total_timeout)
        self.max_bytes = int(max_bytes)
        self.retries = max(0, int(retries))
        self.per_host_concurrency = max(1, int(per_host_concurrency))
        self.per_host_rate = per_host_rate
        self.per_host_burst = max(1, int(per_host_burst))
        self.verify_tls = verify_tls
        self.user_agent = user_agent
        self.request_budget = request_budget
        self.host_budget = host_budget
        self._budgets: dict[str, _HostBudget] = {}
        self._active: set[_Attempt] = set()
        self._aborted: str | None = None
        self._adapter = _WatchedAdapter(
            pool_connections=32, pool_maxsize=self.per_host_concurrency, max_retries=0
        )
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._records: list[tuple[int, RequestRecord]] = []
        self._refused: list[RefusedRequest] = []
        self._seq = 0
        self._sent = 0
        self._closed = False
        _CLIENTS.add(self)

    # -- public API ----------------------------------------------------------------------

    def request(
        self,
        probe: Probe,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Any = None,
        max_bytes: int | None = None,
        allow_redirects: bool = False,
    ) -> HttpResult:
        """Send one request (plus bounded retries / same-host redirect hops).

        Raises :class:`UnsafeRequestRefused` before sending anything if the request is
        deny-listed, undeclared by ``probe``, not http(s), or over budget. Transport
        failures never raise: they come back as an :class:`HttpResult` with ``error``.
        """
        if self._closed:
            raise RuntimeError("SafeClient is closed")
        if not isinstance(probe, Probe):
            raise TypeError(f"probe must be an aiaudit.http.Probe, not {type(probe).__name__}")
        method = method.strip().upper()
        merged = {
            "User-Agent": self.user_agent, "Accept": "*/*", "Accept-Encoding": "identity",
        }
        for key, value in (headers or {}).items():
            for existing in [k for k in merged if k.lower() == key.lower()]:
                del merged[existing]
            merged[key] = value
        cap = self.max_bytes if max_bytes is None else max(0, int(max_bytes))
        call = _Call(probe=probe, headers=merged, cap=cap)
        prepared = self._vet(probe, method, url, merged, json=json, data=data)
        if not self._take_budget():
            self._refuse(probe, method, url, f"request budget of {self.request_budget} exhausted")
        result = self._send(call, prepared)
        hops = 0
        while allow_redirects and result.status in _REDIRECT_CODES and "location" in result.headers:
            if hops >= MAX_REDIRECTS:
                result.error = f"too many redirects (max {MAX_REDIRECTS})"
                result.error_kind = "other"
                break
            nxt = self._redirect(call, prepared, result)
            if isinstance(nxt, str):
                result.error, result.error_kind = nxt, "other"
                break
            hops += 1
            prepared = nxt
            result = self._send(call, prepared)
        result.elapsed = time.monotonic() - call.started
        result.attempts = call.attempts
        return result

    def get(self, probe: Probe, url: str, **kw: Any) -> HttpResult:
        return self.request(probe, "GET", url, **kw)

    def head(self, probe: Probe, url: str, **kw: Any) -> HttpResult:
        return self.request(probe, "HEAD", url, **kw)

    def post(self, probe: Probe, url: str, **kw: Any) -> HttpResult:
        return self.request(probe, "POST", url, **kw)

    @property
    def records(self) -> list[RequestRecord]:
        """Snapshot of every completed request sent, in send order."""
        with self._lock:
            return [rec for _seq, rec in sorted(self._records, key=lambda item: item[0])]

    @property
    def refused(self) -> list[RefusedRequest]:
        """Snapshot of requests refused before sending."""
        with self._lock:
            return list(self._refused)

    def abort(self, reason: str = "the audit was interrupted") -> None:
        """Abandon every request in flight now (their sockets are shut down, so probe
        threads return at once) and send nothing more: each later call comes back with
        ``error_kind="interrupted"``."""
        self._aborted = reason
        with self._lock:
            active = list(self._active)
        for attempt in active:
            attempt.abort()

    def host_problem(self, url: str) -> str | None:
        """Why the host:port of ``url`` is no longer probed (its first timeout), if so."""
        budget = self._budgets.get(_host_key(urlsplit(url)))
        return budget.failed if budget else None

    def close(self) -> None:
        """Close pooled connections; further requests raise ``RuntimeError``."""
        self._closed = True
        self._adapter.close()

    def __enter__(self) -> SafeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- vetting ---------------------------------------------------------------------------

    def _refuse(self, probe: Probe, method: str, url: str, reason: str) -> None:
        with self._lock:
            self._refused.append(
                RefusedRequest(probe.name, method, redact_url(url), reason, time.time())
            )
        raise UnsafeRequestRefused(
            f"refused {method} {redact_url(url)} for probe {probe.name!r}: {reason}",
            probe=probe.name, method=method, url=redact_url(url),
        )

    def _vet(
        self, probe: Probe, method: str, url: str, headers: Mapping[str, str], *,
        json: Any = None, data: Any = None,
    ) -> requests.PreparedRequest:
        """Build the exact request to send and check it; raise if it must not go out."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ValueError(f"unparseable URL {redact_url(url)!r}: {exc}") from None
        if parts.scheme.lower() not in ("http", "https"):
            self._refuse(probe, method, url, f"only http/https URLs are sent, not {parts.scheme!r}")
        if not parts.hostname:
            raise ValueError(f"URL has no host: {redact_url(url)!r}")
        prepared = requests.Request(method, url, headers=dict(headers), json=json, data=data)
        prep = prepared.prepare()
        sent = urlsplit(prep.url or url)
        paths = [sent.path or "/", parts.path or "/"]
        methods = [method]
        for key, value in headers.items():
            if key.lower() in _METHOD_OVERRIDE_HEADERS:
                methods.append(str(value).strip().upper())
        for piece in sent.query.split("&"):
            name, _, value = piece.partition("=")
            if unquote(name).lower() == "_method" and value:
                methods.append(unquote(value).strip().upper())
        for m in methods:
            for p in paths:
                reason = denied_reason(m, p)
                if reason:
                    self._refuse(probe, method, url, f"{m} {p} is on the hard deny list ({reason})")
        for m in methods:
            path = sent.path or "/"
            if not (probe.allows(m, path) or probe.allows(m, unquote(path))):
                self._refuse(probe, method, url, f"probe has not declared {m} {path} safe")
        return prep

    def _take_budget(self) -> bool:
        with self._lock:
            if self.request_budget is not None and self._sent >= self.request_budget:
                return False
            self._sent += 1
            return True

    def _redirect(
        self, call: _Call, prev: requests.PreparedRequest, result: HttpResult
    ) -> requests.PreparedRequest | str:
        """The next hop, or a reason it is not followed (the 3xx is returned as-is)."""
        target = urljoin(result.url, result.headers["location"])
        shown = redact_url(target)
        method = prev.method or "GET"
        body = prev.body
        headers = dict(call.headers)
        if result.status == 303 or (result.status in (301, 302) and method == "POST"):
            method = "HEAD" if method == "HEAD" else "GET"
            body = None
            for name in list(headers):
                if name.lower() in ("content-type", "content-length", "transfer-encoding"):
                    del headers[name]
        try:
            old, new = urlsplit(prev.url or ""), urlsplit(target)
            if _origin(new) != _origin(old):  # another host, port or scheme: never
                self._refuse(call.probe, method, target, "redirect leaves the audited "
                             f"{_origin(old)} (to {_origin(new)})")
            prep = self._vet(call.probe, method, target, headers, data=body)
            if not self._take_budget():
                self._refuse(
                    call.probe, method, target,
                    f"request budget of {self.request_budget} exhausted",
                )
        except (UnsafeRequestRefused, ValueError) as exc:
            return f"redirect to {shown} not followed: {exc}"
        return prep

    # -- sending ---------------------------------------------------------------------------

    def _gate(self, key: str) -> _HostGate:
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                gate = _HostGate(self.per_host_concurrency, self.per_host_rate,
                                 self.per_host_burst)
                self._gates[key] = gate
            return gate

    def _send(self, call: _Call, prep: requests.PreparedRequest) -> HttpResult:
        """One attempt plus retries for idempotent requests that got no response."""
        result = self._attempt(call, prep)
        tries = 0
        while (
            tries < self.retries
            and result.status is None
            and prep.method in IDEMPOTENT_METHODS
            and result.error_kind in ("connect", "timeout", "protocol")
            and self.host_problem(prep.url or "") is None  # given up: keep the timeout
        ):
            remaining = (call.deadline or 0.0) - time.monotonic()
            if remaining <= 0.05:
                break
            time.sleep(min(0.1 * 2**tries, remaining / 4))
            if not self._take_budget():
                break
            tries += 1
            result = self._attempt(call, prep)
        return result

    def _attempt(self, call: _Call, prep: requests.PreparedRequest) -> HttpResult:
        url = prep.url or ""
        method = prep.method or "GET"
        parts = urlsplit(url)
        gate = self._gate(_host_key(parts))  # one server socket: http and https share it
        budget = self._host_budget(parts)
        with gate.sem:
            gate.wait_turn()
            skip = self._not_sent(budget)
            if skip is not None:  # nothing sent, so nothing recorded
                return self._result(method, url, error=skip[1], error_kind=skip[0])
            t0 = time.monotonic()
            if call.deadline is None:
                call.deadline = t0 + self.total_timeout
            remaining = call.deadline - t0
            call.limit_s, call.limit_label = self.total_timeout, "total time limit"
            left = budget.remaining() if budget else remaining
            if left < remaining:
                remaining = left
                call.limit_s = max(left, 0.0)
                call.limit_label = f"host budget of {_fmt_s(budget.seconds)}s used up"
            if remaining <= 0:
                return self._result(method, url, error=call.timeout_msg(), error_kind="timeout")
            with self._lock:
                self._seq += 1
                seq = self._seq
            call.attempts += 1
            started = time.time()
            if budget:
                budget.enter()
            try:
                result = self._exchange(call, prep, remaining)
            finally:
                if budget:
                    budget.leave()
            if budget and result.timed_out:
                budget.fail(f"{method} {parts.path or '/'}: {result.cause}")
            elapsed = time.monotonic() - t0
            result.elapsed = elapsed
            record = RequestRecord(
                probe=call.probe.name, method=method, url=redact_url(url),
                status=result.status, started=started, elapsed=elapsed,
                bytes_read=len(result.body), error=result.cause,
            )
            with self._lock:
                self._records.append((seq, record))
        return result

    def _abandoned(self) -> str:
        return f"abandoned: {self._aborted or 'the audit was interrupted'}"

    def _host_budget(self, parts: Any) -> _HostBudget | None:
        if not self.host_budget:
            return None
        key = _host_key(parts)
        with self._lock:
            if key not in self._budgets:
                self._budgets[key] = _HostBudget(float(self.host_budget))
            return self._budgets[key]

    def _not_sent(self, budget: _HostBudget | None) -> tuple[str, str] | None:
        """(error_kind, reason) when a request must not go out any more."""
        if self._aborted:
            return "interrupted", f"not sent: {self._aborted}"
        if budget is None:
            return None
        if budget.failed is None and budget.remaining() <= 0:
            budget.fail(f"host budget of {_fmt_s(budget.seconds)}s used up")
        if budget.failed:
            return "skipped", f"skipped, host given up after its first timeout ({budget.failed})"
        return None

    def _result(self, method: str, url: str, **kw: Any) -> HttpResult:
        base: dict[str, Any] = dict(
            status=None, headers=Headers(), body=b"", truncated=False, elapsed=0.0,
            error=None, error_kind=None, tls=None,
        )
        base.update(kw)
        return HttpResult(method=method, url=url, **base)

    def _exchange(
        self, call: _Call, prep: requests.PreparedRequest, remaining: float
    ) -> HttpResult:
        method, url = prep.method or "GET", prep.url or ""
        ct = min(self.connect_timeout, remaining)
        rt = min(self.read_timeout, remaining)
        with _Attempt(remaining) as attempt:
            with self._lock:
                self._active.add(attempt)
            try:
                return self._exchange_in(call, prep, attempt, method, url, ct, rt,
                                         time.monotonic() + remaining)
            finally:
                with self._lock:
                    self._active.discard(attempt)

    def _exchange_in(
        self, call: _Call, prep: requests.PreparedRequest, attempt: _Attempt, method: str,
        url: str, ct: float, rt: float, deadline: float,
    ) -> HttpResult:
        try:
            resp = self._adapter.send(
                prep, stream=True, timeout=(ct, rt), verify=self.verify_tls,
                cert=None, proxies={},
            )
        except Exception as exc:  # every transport failure becomes a result
            in_handshake = " during the TLS handshake" if attempt.handshaking else ""
            if attempt.aborted:
                kind, msg = "interrupted", self._abandoned()
            elif attempt.fired:
                kind, msg = "timeout", call.timeout_msg() + in_handshake
            else:
                kind, msg = _classify(exc, "connect", rt, ct)
                if kind == "timeout" and time.monotonic() >= deadline:
                    # the socket timeout was this call's limit (total time or host budget),
                    # not the read/connect timeout: name the limit, as the watchdog does
                    msg = call.timeout_msg() + in_handshake
                elif kind == "timeout" and in_handshake:
                    # the handshake runs under the connect timeout (one deadline for it all)
                    msg = f"TLS handshake did not finish within {_fmt_s(ct)}s (connect timeout)"
            return self._result(method, url, error=msg, error_kind=kind, tls=attempt.tls)
        if attempt.fired:  # http.client takes the shutdown's EOF as "end of headers"
            resp.close()
            if attempt.aborted:
                return self._result(method, url, error_kind="interrupted",
                                    error=self._abandoned())
            return self._result(method, url, error_kind="timeout", error=call.timeout_msg())
        announced = resp.headers.get("content-length", "")
        try:
            got = self._read_body(resp.raw, call, deadline, attempt, rt,
                                  int(announced) if announced.isdigit() else None,
                                  resp.headers.get("content-encoding", ""))
        finally:
            resp.close()  # closes the socket unless the body was read to the end
        unknown = _undecodable(resp.headers.get("content-encoding", ""))
        if unknown and not got["error"]:
            got.update(error=f"Content-Encoding {unknown!r} that this client cannot decode "
                             f"({len(got['body'])} bytes kept as sent)", error_kind="protocol")
        if attempt.aborted:
            got.update(error=self._abandoned(), error_kind="interrupted", cut=None,
                       cut_kind=None)
        return self._result(
            method, url, status=resp.status_code, headers=Headers(resp.headers.items()),
            tls=attempt.tls if url.lower().startswith("https:") else None, **got,
        )

    @staticmethod
    def _read_body(
        raw: Any, call: _Call, deadline: float, attempt: _Attempt, read_timeout: float,
        announced: int | None, encoding: str = "",
    ) -> dict[str, Any]:
        """Read at most ``call.cap`` bytes, stopping at ``deadline``; say why it stopped
        short (``cut``: too large, stream did not end, timed out, truncated).

        ``read1`` returns whatever has arrived (one recv) instead of waiting for a full
        chunk, so a trickling server is noticed between bytes; the watchdog covers a
        single blocked recv. The cap counts decoded bytes: a server that compresses
        although asked for ``identity`` (a gzip bomb: kilobytes inflating to gigabytes)
        is cut after ``cap`` inflated bytes (urllib3 >= 2.6 inflates at most what is
        asked for).
        """
        cap = call.cap
        buf = bytearray()

        def out(cut: str | None = None, kind: str | None = None, error: str | None = None,
                error_kind: str | None = None) -> dict[str, Any]:
            return {"body": bytes(buf), "truncated": cut is not None, "cut": cut,
                    "cut_kind": kind, "error": error, "error_kind": error_kind}

        def out_of_time() -> dict[str, Any]:
            if buf:
                return out(f"stream did not end within {_fmt_s(call.limit_s)}s "
                           f"({call.limit_label}; {len(buf)} bytes read)", "time")
            return out(f"{call.timeout_msg()} waiting for the body", "time")

        coded = encoding.strip().lower() not in ("", "identity")
        if announced is not None and announced > cap:
            too_large = f"response too large: announced {announced} bytes (limit {cap})"
        elif coded:
            wire = f"{announced} bytes on the wire" if announced is not None else "unannounced"
            too_large = (f"response too large: more than {cap} bytes after "
                         f"Content-Encoding {_short(encoding, 40)!r} ({wire}; limit {cap})")
        else:
            too_large = f"response too large: more than {cap} bytes read (limit {cap})"
        try:
            while True:
                if time.monotonic() >= deadline:
                    return out_of_time()
                chunk = raw.read1(min(_CHUNK, cap + 1 - len(buf)), decode_content=True)
                if not chunk:
                    return out_of_time() if attempt.fired else out()
                buf += chunk
                if len(buf) > cap:
                    del buf[cap:]
                    return out(too_large, "size")
        except Exception as exc:  # mid-body failure: keep what arrived
            if attempt.fired:
                return out_of_time()
            kind, msg = _classify(exc, "body", read_timeout)
            if kind == "timeout" and time.monotonic() >= deadline:
                # the socket timeout was the call's own limit, a hair before the watchdog:
                # the same time truncation the watchdog would have reported
                return out_of_time()
            if msg == "connection closed mid-body" and announced is not None:
                msg = (f"truncated body: connection closed after {len(buf)} of {announced} "
                       "announced bytes")
            elif msg == "connection closed mid-body":
                msg = f"truncated body: connection closed after {len(buf)} bytes"
            return out(error=msg, error_kind=kind)
