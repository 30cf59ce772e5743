"""Naming a service from its answers to the catalog's probes, by scoring signals.

Pure functions over recorded answers, so that the fingerprints are unit-tested against
responses captured from the real servers (selftests/fixtures/exposure/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiaudit.http import loads_json
from aiaudit.redact import redact
from aiaudit.services import ServiceDef, Signature, ai_services, proxies

_MISSING = object()
#: A gateway's own answer that its upstream is down, busy or too slow: nothing of the
#: service behind it was read.
GATEWAY_ERRORS = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
#: Keys an error envelope is made of ({"error": "Unauthorized", "code": 401}): a JSON body
#: holding nothing else is a message, not data.
_ERROR_KEYS = frozenset({"error", "errors", "message", "msg", "detail", "details", "code",
                         "status", "status_code", "statuscode", "success", "ok", "reason",
                         "type", "hint", "request_id", "requestid", "timestamp", "path"})
_AUTH_WORDS = re.compile(r"(?i)\b(unauthori[sz]ed|unauthenticated|not authenticated|"
                         r"authentication (?:error|required|failed)|forbidden|invalid api key|"
                         r"missing api key|no api key|api key (?:required|missing|invalid)|"
                         r"invalid token|missing token|login required|not logged in|"
                         r"credentials|access denied|permission denied)\b")
#: A redirect to one of these is a login, not the resource (oauth2-proxy's /oauth2/start,
#: Authelia's and Keycloak's portals, a login form)
_LOGIN_PATH = re.compile(r"(?i)/(log-?in|sign[-_]?in|oauth2?|authori[sz]e|auth|sso|saml2?|"
                         r"openid|oidc|realms|cas|adfs)(/|$|\?|\.)")
_REDIRECTS = (301, 302, 303, 307, 308)
#: nginx's answer under ``ssl_verify_client on`` to a client without a certificate
#: (src/http/ngx_http_special_response.c, ngx_http_error_496_page; 496 is sent as 400)
_NO_CLIENT_CERT = re.compile(r"No required SSL certificate was sent")
_LISTING_KEYS = re.compile(r"(?i)^(models?|available_?models|allowed_?models|model_?ids|"
                           r"model_?list|deployments|data)$")


@dataclass
class Answer:
    """One HTTP answer as fingerprinting needs it (status, lower-case headers, body)."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    problem: str | None = None  # why no whole answer came (the client's one-line cause)
    _json: Any = _MISSING

    @classmethod
    def from_result(cls, result: Any) -> Answer:
        return cls(result.status, {k.lower(): v for k, v in result.headers.items()}, result.body,
                   result.cause)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Answer:
        return cls(raw.get("status"), {k.lower(): v for k, v in raw.get("headers", {}).items()},
                   raw.get("body", "").encode("utf-8"))

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "headers": self.headers,
                "body": self.body.decode("utf-8", "replace")}

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        if self._json is _MISSING:
            try:
                self._json = loads_json(self.body) if self.body else None
            except ValueError:
                self._json = None
        return self._json

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def unreadable(self) -> bool:
        """No whole, well-formed answer: nothing came, the body was cut short, or a
        JSON-typed body does not parse (as opposed to a clean page or status)."""
        return (self.status is None or bool(self.problem) or self.status in GATEWAY_ERRORS
                or self.cause().startswith(("malformed JSON", "JSON null")))

    def sign_in(self) -> str:
        """The page's title when this 2xx answer is an HTML sign-in page (oauth2-proxy's,
        an SSO portal's, a login form) rather than the API: an auth wall that answers 200,
        as a proxy with ``error_page 401 =200 /sign_in`` does. Else ""."""
        if not self.ok or "html" not in self.headers.get("content-type", ""):
            return ""
        page = self.text[:65536]
        form = re.search(r"<form\b", page, re.I)
        # bounded runs: `[^>]*` was quadratic on a page of `<input ` without a `>`
        password = re.search(r"<input\b[^>]{0,2000}type=[\"']?password", page, re.I)
        title = re.search(r"<title[^>]{0,200}>([^<]{0,80})", page, re.I)
        words = re.search(r"\b(sign[ -]?in|log[ -]?in|authenticat\w*)\b", page, re.I)
        if form and (password or words):
            return " ".join((title.group(1) if title else words.group(1) if words
                             else "login form").split()) or "login form"
        return ""

    def auth_error(self) -> str:
        """The refusal when this 2xx answer is an auth error in a JSON envelope
        (``200 {"error": "Unauthorized", "code": 401}``: gateways that never use 401), else
        "". Only a body made of nothing but envelope keys counts: data is never a refusal."""
        if not self.ok:
            return ""
        doc = self.json()
        if not isinstance(doc, dict) or not doc or not {str(k).lower() for k in doc} <= _ERROR_KEYS:
            return ""
        found = _AUTH_WORDS.search(json.dumps(doc, ensure_ascii=False)[:4000])
        return " ".join(found.group(0).split())[:60] if found else ""

    def login_redirect(self) -> str:
        """Where a redirect sends the caller when it is a login (never followed), else ""."""
        if self.status not in _REDIRECTS:
            return ""
        where = " ".join(self.headers.get("location", "").split())
        try:
            path = urlsplit(where).path
        except ValueError:
            return ""
        return redact(where)[:100] if _LOGIN_PATH.search(path or "") else ""

    def refusal(self) -> str:
        """How this answer refuses a caller without credentials ("" when it does not): the
        401/403/407 status, a sign-in page or a JSON auth error answered with 200, or a
        redirect to a login."""
        if self.status is None:  # TLS 1.3 alert 116 (nginx ssl_verify_client on)
            cert = re.search(r"(?i)certificate required", self.problem or "")
            return "a TLS client certificate (mutual TLS: the handshake ended with " \
                   f"{cert.group(0)!r})" if cert else ""
        if self.status in (401, 403, 407):
            return f"HTTP {self.status}"
        if self.status == 400 and _NO_CLIENT_CERT.search(self.text[:2000]):
            return "a TLS client certificate (HTTP 400 'No required SSL certificate was sent')"
        if page := self.sign_in():
            return f"a sign-in page (HTTP {self.status}, {page!r})"
        if error := self.auth_error():
            return f"an auth error in a JSON body answered with HTTP {self.status} ({error!r})"
        if where := self.login_redirect():
            return f"HTTP {self.status} redirect to a login: {where} (not followed)"
        return ""

    def leaked_listing(self) -> list[str]:
        """Model names a refusal (or other non-2xx JSON answer) hands out all the same
        (``401 {"error": "unauthorized", "available_models": [...]}``)."""
        if self.ok or self.status is None:
            return []
        names: list[str] = []

        def walk(node: Any, depth: int) -> None:
            if depth > 3 or not isinstance(node, dict):
                return
            for key, value in node.items():
                if isinstance(value, list) and _LISTING_KEYS.match(str(key)):
                    for item in value[:50]:
                        name = item if isinstance(item, str) else next(
                            (item[k] for k in ("id", "name", "model") if isinstance(item, dict)
                             and isinstance(item.get(k), str)), None)
                        if name and name.strip():  # whole: cut only after redaction
                            names.append(" ".join(name[:4096].split()))
                elif isinstance(value, dict):
                    walk(value, depth + 1)

        walk(self.json(), 0)
        return names

    def cause(self) -> str:
        """One line on why this answer is not usable data, naming the cause: no response
        (refused, reset, TLS, timed out), a body cut short (too large, endless stream,
        truncated), malformed JSON, a page instead of an API answer, or the HTTP status."""
        if self.status is None or self.problem:
            return self.problem or "no response"
        if not self.ok:
            where = self.headers.get("location", "") if 300 <= self.status < 400 else ""
            if where:  # redirects are never followed: say where it wanted to send us
                shown = redact(" ".join(where.split()))  # masked before it is cut
                shown = shown[:100] + ("…" if len(shown) > 100 else "")
                return f"HTTP {self.status} redirect to {shown} (not followed)"
            if self.status in GATEWAY_ERRORS:
                server = self.headers.get("server", "")
                return (f"HTTP {self.status} {GATEWAY_ERRORS[self.status]}"
                        + (f" from {redact(' '.join(server.split()))[:60]}" if server else "")
                        + ": the service behind it did not answer")
            return f"HTTP {self.status}"
        if self.json() is not None:
            return ""
        ctype = self.headers.get("content-type", "").split(";", 1)[0].strip() or "no type"
        stripped = self.body.lstrip()[:1]
        if "json" in ctype or stripped in (b"{", b"["):
            try:
                loads_json(self.body)
            except ValueError as exc:
                what = (f"{exc.msg}: char {exc.pos}" if isinstance(exc, json.JSONDecodeError)
                        else type(exc).__name__)
                return f"malformed JSON ({what} of {len(self.body)} bytes)"
            return "JSON null"
        if not self.body:
            return f"HTTP {self.status} with an empty body"
        return f"not an API answer (HTTP {self.status}, {ctype}, {len(self.body)} bytes)"


def json_values(doc: Any, path: str) -> list[Any]:
    """Values at a key path: "a.b" walks objects, "a[].b" looks into every list element;
    "" is the document itself."""
    if path == "":
        return [] if doc is None else [doc]
    values = [doc]
    for part in path.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        nxt = []
        for value in values:
            if isinstance(value, dict) and key in value:
                inner = value[key]
                if each:
                    nxt.extend(inner if isinstance(inner, list) else [])
                else:
                    nxt.append(inner)
        values = nxt
    return values


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def signal_matches(sig: Signature, answer: Answer | None) -> bool:
    if answer is None or answer.status is None:
        return False
    if sig.status is not None:
        if answer.status != sig.status:
            return False
    elif not answer.ok:
        return False
    if sig.header:
        value = answer.headers.get(sig.header)
        return value is not None and (sig.match is None or bool(sig.match.search(value)))
    if sig.json is not None:
        values = json_values(answer.json(), sig.json)
        if sig.equals is not None:
            return any(_same(v, sig.equals) for v in values)
        if sig.match is not None:
            return any(sig.match.search(str(v)) for v in values if not isinstance(v, dict | list))
        return bool(values)
    if sig.regex is not None:
        return bool(sig.regex.search(answer.text))
    if sig.body is not None:
        return sig.body in answer.text
    return True  # status-only signal


@dataclass(frozen=True)
class Score:
    service: ServiceDef
    score: float
    matched: tuple[Signature, ...]

    @property
    def confidence(self) -> float:
        top = self.service.max_score or 1.0
        value = min(1.0, self.score / top)
        return round(min(value, 0.5) if self.service.generic else value, 2)

    @property
    def identified(self) -> bool:
        """At least two positive signals, and the score (penalties included) clears the
        service's bar: one matching string never names a service."""
        positive = [s for s in self.matched if s.weight > 0]
        return len(positive) >= 2 and self.score >= self.service.min_score


def score(service: ServiceDef, answers: dict[str, Answer]) -> Score:
    matched = tuple(s for s in service.signatures if signal_matches(s, answers.get(s.path)))
    return Score(service, sum(s.weight for s in matched), matched)


@dataclass(frozen=True)
class Identification:
    service: str | None  # None: not identified
    confidence: float
    score: float
    signals: tuple[str, ...]  # described matched signals (the evidence)
    version: str | None
    resembles: str | None = None  # best partial candidate when nothing was identified
    kind: str = ""
    emulates: tuple[str, ...] = ()  # other products' APIs it imitates ("Ollama (GET /api/tags)")


def version_of(service: ServiceDef, answers: dict[str, Answer]) -> str | None:
    if not service.version:
        return None
    path, key = service.version
    answer = answers.get(path)
    if answer is None or not answer.ok:
        return None
    if service.version_regex is not None:  # e.g. MLflow's /version answers "3.17.2" as text
        found = service.version_regex.search(answer.text)
        return redact(found.group(1))[:80] if found else None
    values = [v for v in json_values(answer.json(), key) if isinstance(v, str | int | float)]
    return redact(str(values[0]))[:80] if values else None


def identify(answers: dict[str, Answer],
             services: tuple[ServiceDef, ...] | None = None) -> Identification:
    """The best-scoring catalog service whose signals clear its bar, generic entries last."""
    scores = [score(s, answers) for s in (services if services is not None else ai_services())]
    ranked = sorted(scores, key=lambda s: (not s.service.generic, s.score, s.confidence),
                    reverse=True)
    for candidate in ranked:
        if candidate.identified:
            svc = candidate.service
            # a generic name over a product's partial signals: say which (one-route drip)
            near = max((s for s in scores if not s.service.generic and s.score > 0),
                       key=lambda s: s.score, default=None) if svc.generic else None
            return Identification(svc.name, candidate.confidence, candidate.score,
                                  tuple(s.describe() for s in candidate.matched),
                                  version_of(svc, answers), kind=svc.kind,
                                  emulates=_emulated(svc, scores),
                                  resembles=near.service.name if near else None)
    partial = max(scores, key=lambda s: s.score, default=None)
    if partial is not None and partial.score > 0:
        return Identification(None, 0.0, partial.score,
                              tuple(s.describe() for s in partial.matched), None,
                              resembles=partial.service.name)
    return Identification(None, 0.0, 0.0, (), None)


_SHARED_PATHS = frozenset({"/", "/v1/models", "/health", "/healthz", "/version"})


def _emulated(winner: ServiceDef, scores: list[Score]) -> tuple[str, ...]:
    """Other products whose own routes the identified service answers like them (KoboldCpp
    and LocalAI serve Ollama's /api/tags): one service imitating an API, not a second one."""
    out = []
    for other in scores:
        if other.service is winner or other.service.generic:
            continue
        own = sorted({s.path for s in other.matched if s.weight > 0
                      and s.path not in _SHARED_PATHS and s.path not in winner.probes})
        if own:
            out.append(f"{other.service.name} ({', '.join('GET ' + p for p in own)})")
    return tuple(out)


def proxy_of(answer: Answer | None) -> ServiceDef | None:
    """The reverse proxy that produced an answer, from its Server header."""
    if answer is None:
        return None
    server = answer.headers.get("server", "")
    named = next((p for p in proxies() if p.server and p.server.search(server)), None)
    if named is not None or server or answer.status not in (401, 403, 407):
        return named
    # No Server header: a refusal in a proxy's own words (its default realm or 401 page)
    challenge = answer.headers.get("www-authenticate", "")
    return next((p for p in proxies()
                 if (p.challenge and challenge and p.challenge.search(challenge))
                 or (p.refusal_body and p.refusal_body.search(answer.text[:2000]))), None)
