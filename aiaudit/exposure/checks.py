"""Network-side exposure facts per discovered service: auth state (EXP-02), the proxy in
front (EXP-03), CORS (EXP-06), marker requests (EXP-05). Facts only; tests judge.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiaudit.concurrency import parallel_map
from aiaudit.exposure import probes
from aiaudit.exposure.discovery import AUTH_WALL, NetService
from aiaudit.exposure.fingerprint import GATEWAY_ERRORS, Answer, proxy_of, signal_matches
from aiaudit.redact import redact

_SNIPPET = 160
# what the real products answer an empty POST on their generation route once past (or
# without) their key check: LiteLLM 400 (missing 'messages'), llama-cpp-python 500
# (FastAPI's body validation error through its own route class), FastAPI's 422, Ollama 400
_BODY_ERRORS = (400, 422, 500)


def _snippet(answer: Answer) -> str:
    """The start of a body for the evidence, secrets masked BEFORE it is cut: a key cut in
    half by the snippet no longer has the shape the report's redaction knows, and its first
    characters would reach every output."""
    text = redact(" ".join(answer.text[:8192].split()))
    return text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")


def answered(answer: Answer, method: str = "GET") -> bool:
    """A read that handed out data: 2xx with a JSON body (HEAD, only asked where GET was
    refused: 2xx with a JSON Content-Type, the data's head). An HTML page (SPA fallback,
    login form) is not an API answer: the real Open WebUI answers HEAD /api/models with its
    SPA's 200 text/html (FastAPI routes take no HEAD; its static mount does) while GET is
    401."""
    if not answer.ok or answer.auth_error():  # a 200 {"error": "Unauthorized"} is a refusal
        return False
    if method == "HEAD":
        return "json" in answer.headers.get("content-type", "").lower()
    return answer.json() is not None


@dataclass
class AuthState:
    """How a service treats requests without credentials, from the auditor's position."""

    state: str  # "open" | "bypass" | "protected" | "unknown"
    reads: list[str] = field(default_factory=list)  # "GET /v1/models -> 200: {...}"
    bypasses: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)
    refused_by: str = ""  # "proxy Caddy" | "backend (server: uvicorn)"
    completion: str = ""  # --profile full only
    # The generation route of a service whose reads are refused: "refused" (a POST without
    # credentials is refused too), "open" (a product that checks the credential before the
    # body answered an empty POST: no check guards the route), "reached" (answered without
    # a refusal, but what answered may read the body before any key), "unread" (no whole
    # answer), "" (not asked: reads open or unknown, or the service has no generation route)
    generation: str = ""
    generation_line: str = ""  # "POST /v1/chat/completions with an empty body ... -> 401 ..."
    own_refusal: bool = False  # a read was refused in the product's own words (its key check)
    causes: list[str] = field(default_factory=list)  # "GET /v1/models: timed out after 20s"
    unconfirmed: bool = False  # open, but what answers is not identified
    leaks: list[str] = field(default_factory=list)  # refusals that list models all the same
    transport: bool = False  # some read got no whole answer (vs. answers that are not data)

    @property
    def reachable_unauthenticated(self) -> bool:
        return self.state in ("open", "bypass")

    @property
    def open_line(self) -> str:
        """The first read that handed out data (a 2xx), for a verdict's one line: the list
        may start with a refused read (Open WebUI's /api/models 401 before its config)."""
        return next((r for r in self.reads if re.search(r" -> 2\d\d\b", r)),
                    self.reads[0] if self.reads else "")

    def why_unknown(self) -> str:
        """One line naming why neither an answer nor a refusal was seen."""
        return "; ".join(self.causes) or "no read was tried"

    @property
    def answered(self) -> int:
        """Requests that got an HTTP answer (what the verdict rests on)."""
        return (sum(1 for line in self.reads if re.search(r"-> [1-5]\d\d\b", line))
                + sum(1 for line in self.tried if re.search(r": [1-5]\d\d$", line))
                + bool(self.generation in ("refused", "reached", "open")))


def _get(client: Any, probe: Any, svc: NetService, method: str, path: str,
         headers: dict[str, str] | None = None) -> Answer:
    result = client.request(probe, method, svc.base_url + path, headers=headers,
                            max_bytes=64_000)
    return Answer.from_result(result)


def _unauth_get(client: Any, svc: NetService, path: str) -> Answer:
    """The plain (credential-free) GET of a read path, sent once per service: EXP-02's
    read and EXP-03's proxy check ask the same question of the same route."""
    answer = svc.unauth_reads.get(path)
    if answer is None:
        answer = svc.unauth_reads[path] = _get(client, probes.UNAUTH_READ, svc, "GET", path)
    return answer


def _read_line(method: str, path: str, answer: Answer) -> str:
    cause = answer.cause()
    if answer.status is None:
        return f"{method} {path} -> no answer: {cause}"
    return f"{method} {path} -> {answer.status}: " + (cause if cause and answer.ok
                                                      else _snippet(answer))


def _discovery_reads(svc: NetService) -> list[str]:
    """Discovery's own unauthenticated answers that handed out JSON data: any path for a
    service the catalog does not name (its read paths are only a guess), the service's read
    paths for one it names (their fresh read got no whole answer: a route that drips or a
    host given up since, which must not hide data it already handed out)."""
    reads = None if svc.service is None else set(svc.read_paths())
    return [f"GET {path} -> {a.status} (discovery): {_snippet(a)}"
            for path, a in svc.answers.items()
            if (reads is None or path in reads)
            and answered(a) and isinstance(a.json(), dict | list) and a.json()]


def _bypass(client: Any, svc: NetService, path: str, wall: int | None, out: AuthState) -> None:
    """Try the bypass variants of one refused read; name each that turns the refusal into
    data (a header variant that works is retried header by header to name the header).
    Behind a sign-in page that answers 200, a bare 2xx to HEAD proves nothing: only data
    counts."""
    for variant in probes.bypass_variants(path):
        how = variant.method if wall in AUTH_WALL else "GET"
        answer = _get(client, probes.UNAUTH_READ, svc, variant.method, variant.path,
                      dict(variant.headers))
        out.tried.append(f"{variant.label}: {answer.status if answer.status else answer.cause()}")
        if not answered(answer, how):
            continue
        culprits = [(variant.label, answer)]
        if len(variant.headers) > 1:
            singles = [(f"{k}: {v}", _get(client, probes.UNAUTH_READ, svc, variant.method,
                                          variant.path, {k: v})) for k, v in variant.headers]
            culprits = [(label, a) for label, a in singles if answered(a, how)] or [
                (variant.label + " (together)", answer)]
        for label, hit in culprits:
            out.bypasses.append(f"{label}: {variant.method} {variant.path} {wall} -> "
                                f"{hit.status} {_snippet(hit)}")


def auth_state(client: Any, svc: NetService, full_profile: bool = False) -> AuthState:
    out = AuthState("unknown")
    refused: list[tuple[str, Answer]] = []
    for path in svc.read_paths()[:2]:
        answer = _unauth_get(client, svc, path)
        out.reads.append(_read_line("GET", path, answer))
        if answered(answer):
            out.state = "open"
        elif answer.refusal():
            refused.append((path, answer))
            if names := answer.leaked_listing():
                out.leaks.append(f"GET {path} -> {answer.status} lists {len(names)} model(s) "
                                 f"in its refusal: {', '.join(n[:120] for n in names[:5])}")
        else:
            out.causes.append(f"GET {path}: {answer.cause()}")
            out.transport = out.transport or answer.unreadable
    if out.state != "open" and (why := open_by_design(svc)):
        out.state = "open"
        out.reads.append(why)
    if out.state != "open" and not refused:
        extra = _discovery_reads(svc)
        if extra:
            out.state = "open"
            out.reads += extra
    out.unconfirmed = out.state == "open" and svc.service is None
    if out.state != "open" and refused:
        out.state = "protected"
        path, first = refused[0]
        proxy = proxy_of(first)
        server = first.headers.get("server", "no Server header")
        out.refused_by = f"proxy {proxy.name}" if proxy else f"backend (server: {server})"
        # the product's own refusal body came through whatever proxy sits in front (TLS
        # termination): its key is on; a proxy's own wall never matches these signatures
        out.own_refusal = any(refused_in_own_words(svc, p, a) for p, a in refused)
        if out.own_refusal:
            out.refused_by += " in its own words (its key check)"
        if first.status not in AUTH_WALL:  # a sign-in page, a 200 JSON error, a login redirect
            out.refused_by += f" with {first.refusal()}"
        _bypass(client, svc, path, first.status, out)
        if out.bypasses:
            out.state = "bypass"
    if full_profile:
        out.completion = try_completion(client, svc)
    if out.state == "protected":
        generation_route(client, svc, out)
    return out


def open_by_design(svc: NetService) -> str:
    """The line naming how an identified product lets anyone in, read from an answer it
    gives everyone by design (services.toml open_if: Open WebUI's /api/config saying
    features.auth=false or onboarding), or ""."""
    if svc.service is None:
        return ""
    for sig, why in svc.service.open_if:
        answer = svc.answers.get(sig.path)
        if signal_matches(sig, answer):
            assert answer is not None
            return f"GET {sig.path} -> {answer.status} (discovery): {sig.describe()}: {why}"
    return ""


def completion_path(svc: NetService) -> str:
    """The service's generation route ("" for a vector DB, notebook or UI); an unnamed
    service is asked the OpenAI one."""
    return probes.COMPLETION_PATHS.get(svc.service.completion if svc.service else "openai", "")


def generation_route(client: Any, svc: NetService, out: AuthState) -> None:
    """Whether the generation route refuses too, when the reads do: auth on the reads says
    nothing about the route that spends compute (a proxy with auth_basic on /v1/models
    only), nor does a refused GET on it (nginx `limit_except POST`, Apache `<Limit GET>`,
    a Caddy `method` matcher: GET, HEAD and OPTIONS refused, POST let through). Under
    --profile full the one-token POST tells; otherwise one POST with an empty body, which
    carries no prompt and cannot generate: a refusal is the route's own (for POST), and
    any other answer came from behind the auth. The products whose source checks the
    credential before it reads the body (`key_before_body` in services.toml: seen on the
    real llama-cpp-python, 401 keyed and 500 open, and LiteLLM, 401 keyed and 400 open)
    then took the POST without credentials: open. Anything else may have judged the
    body before asking for a key: it cannot tell."""
    path = completion_path(svc)
    if not path:
        return
    if out.completion:
        status = re.search(r"-> (\d{3})", out.completion)
        code = int(status.group(1)) if status else None
        out.generation_line = out.completion
        out.generation = ("refused" if code in AUTH_WALL else "unread" if code is None
                          or code in GATEWAY_ERRORS else "reached")
        return
    result = client.request(probes.GENERATION_BODY, "POST", svc.base_url + path,
                            headers={"Content-Type": "application/json"}, data=b"",
                            max_bytes=16_000)
    answer = Answer.from_result(result)
    what = f"POST {path} with an empty body (nothing to generate)"
    server = answer.headers.get("server", "no Server header")
    if answer.status is None and answer.refusal():
        out.generation_line = f"{what} -> refused with {answer.refusal()}"
        out.generation = "refused"
        return
    if answer.status is None or answer.status in GATEWAY_ERRORS or answer.unreadable:
        # no answer, a gateway's error, or a body that never ended whole (an endless 200
        # stream to a POST is no refusal, but what it carried was not read)
        out.generation_line = f"{what} -> no answer: {answer.cause()}" if (
            answer.status is None) else f"{what} -> {answer.status}: {answer.cause()}"
        out.generation = "unread"
        return
    out.generation_line = (f"{what} -> {answer.status} (server: "
                           f"{redact(' '.join(server.split()))[:60]}): {_snippet(answer)}")
    if answer.refusal():
        out.generation = "refused"
        return
    out.generation = "reached"
    if answered(answer):  # JSON data for a POST that carried nothing: no credential asked
        out.generation = "open"
        return
    # the product's own body error (JSON, or uvicorn's plain 500), never a front's own page:
    # a 404/405 says the POST never reached the route; an HTML 400 is a proxy's error page
    body_error = answer.status in _BODY_ERRORS and "html" not in answer.headers.get(
        "content-type", "").lower()
    if svc.service and svc.service.key_before_body and body_error:
        out.generation = "open"
        out.generation_line += (f"; {svc.service.name} checks the credential before it reads "
                                f"the body ({svc.service.key_before_body}): no credential "
                                "check guards this route")


def refused_in_own_words(svc: NetService, path: str, answer: Answer) -> bool:
    """Whether a refusal is in the identified product's own words: one of its catalog
    signatures for a refused status matches it (llama-cpp-python's {"detail":"Invalid API
    key"}), so it came from the product's key check rather than from a proxy's rule (a
    proxy's 401 page or realm is in its own words, never in these)."""
    if svc.service is None:
        return False
    return any(sig.status in AUTH_WALL and sig.path == path and sig.weight > 0
               and signal_matches(sig, answer) for sig in svc.service.signatures)


def try_completion(client: Any, svc: NetService) -> str:
    """One real completion without credentials, max_tokens=1 (only under --profile full)."""
    style = svc.service.completion if svc.service else "openai"
    path = probes.COMPLETION_PATHS.get(style)
    if not path:  # a vector DB, notebook or UI: nothing to complete
        return ""
    model = "aiaudit-probe"
    listing = svc.answers.get("/v1/models") or svc.answers.get("/api/tags")
    if listing and listing.ok:
        doc = listing.json() or {}
        ids = [m.get("id") or m.get("name") for m in (doc.get("data") or doc.get("models") or [])
               if isinstance(m, dict)]
        model = next((i for i in ids if i), model)
    if style == "ollama":
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}],
                "stream": False, "options": {"num_predict": 1}}
    else:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 1, "stream": False}
    result = client.request(probes.COMPLETION, "POST", svc.base_url + path, json=body,
                            max_bytes=16_000)
    answer = Answer.from_result(result)
    return f"POST {path} (max_tokens=1) -> {answer.status}: {_snippet(answer)}"


@dataclass
class ProxyCheck:
    proxied: bool
    proxy: str
    unauth: list[str] = field(default_factory=list)
    proxy_refused: bool = False  # the proxy itself (not the backend) said 401/403
    with_credential: str = ""
    credential_works: bool | None = None  # None: no credential configured
    tls: dict[str, Any] | None = None
    problem: str = ""  # the unauthenticated read got no answer: why


def proxy_check(client: Any, svc: NetService, auth_headers: dict[str, str]) -> ProxyCheck:
    path = svc.read_paths()[0]
    answer = _unauth_get(client, svc, path)
    seen = svc.answers.get(path)
    if answer.status is None and seen is not None and seen.status is not None:
        answer = seen  # no answer now (a dripping route, the host given up): discovery's
    proxy = proxy_of(answer) or proxy_of(svc.answers.get("/"))
    out = ProxyCheck(proxied=proxy is not None or bool(svc.proxy_url),
                     proxy=proxy.name if proxy else (svc.proxy or ""), tls=svc.tls)
    challenge = answer.headers.get("www-authenticate", "")
    if answer.status is None:
        out.unauth.append(f"GET {path} -> no answer: {answer.cause()}")
        out.problem = f"GET {path}: {answer.cause()}"
        return out
    out.unauth.append(f"GET {path} -> {answer.status} (server: "
                      f"{answer.headers.get('server', '-')}"
                      + (f", WWW-Authenticate: {redact(challenge)[:80]}" if challenge
                         else "") + ")")
    out.proxy_refused = bool(answer.refusal()) and proxy is not None
    if auth_headers and out.proxied:
        authed = _get(client, probes.AUTH_READ, svc, "GET", path, auth_headers)
        out.with_credential = f"GET {path} with the configured credential -> {authed.status}"
        out.credential_works = answered(authed)
    return out


@dataclass
class Cors:
    preflight: dict[str, str]
    simple: dict[str, str]
    path: str
    problem: str = ""  # no answer to the Origin-carrying GET: why (nothing to judge)

    def verdicts(self, unauth_open: bool) -> list[str]:
        problems = []
        for what, headers in (("preflight OPTIONS", self.preflight), ("GET", self.simple)):
            acao = headers.get("access-control-allow-origin", "")
            creds = headers.get("access-control-allow-credentials", "").lower() == "true"
            if acao == probes.CORS_ORIGIN:
                problems.append(f"{what} reflects the arbitrary Origin"
                                + (" with Allow-Credentials: true" if creds else ""))
            elif acao == "*" and creds:
                problems.append(f"{what} answers Allow-Origin: * with Allow-Credentials: true")
            elif acao == "*" and unauth_open:
                problems.append(f"{what} answers Allow-Origin: * on an API that needs no "
                                "credentials: any web page can drive it")
        return problems


def cors_check(client: Any, svc: NetService) -> Cors:
    path = svc.read_paths()[0]
    origin = {"Origin": probes.CORS_ORIGIN}
    pre = _get(client, probes.CORS, svc, "OPTIONS", path,
               {**origin, "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization"})
    simple = _get(client, probes.CORS, svc, "GET", path, origin)

    def pick(a: Answer) -> dict[str, str]:
        keep = {k: v for k, v in a.headers.items() if k.startswith("access-control-")}
        keep["status"] = str(a.status)
        return keep

    # No answer, or only a gateway's error page: the API's own CORS headers were not seen.
    problem = "" if simple.status is not None and simple.status not in GATEWAY_ERRORS else (
        f"GET {path} with Origin: {simple.cause()}")
    return Cors(pick(pre), pick(simple), path, problem)


@dataclass
class MarkerResult:
    marker: str
    request: str
    found: bool
    waited: float
    logs: list[str]
    missing_logs: list[str]
    problem: str = ""  # the marked request was not sent or got no answer: why
    host_access: bool = True  # False: no log can be read here; the auditor looks by hand
    sent_at: str = ""  # UTC, when the marked requests went out (to find them in a log)


def marker_checks(client: Any, services: list[NetService], host_ops: Any, log_paths: list[str],
                  wait_seconds: float) -> dict[str, MarkerResult]:
    """Send one marked request per service, then watch the configured logs for the markers.

    `host_ops` has existing_files(paths) and markers_in(paths, markers) (host-side reads);
    None without host access: the marked requests are still sent, so the reason can name
    the exact request the auditor is to look for in the logs by hand.
    """
    sent: dict[str, tuple[str, str]] = {}
    problems: dict[str, str] = {}

    def mark(svc: NetService) -> tuple[str, str, Any]:
        marker = f"aiaudit-{secrets.token_hex(8)}"
        path = svc.read_paths()[0].split("?", 1)[0]
        url = f"{svc.base_url}{path}?{probes.MARKER_PARAM}={marker}"
        return marker, path, client.request(probes.MARKER, "GET", url,
                                            headers={"X-Aiaudit-Marker": marker}, max_bytes=4096)

    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    # All at once: a slow host spends its own budget, not every other host's turn.
    for svc, (marker, path, result) in zip(services, parallel_map(mark, services, 16),
                                           strict=True):
        sent[svc.case_id] = (marker, f"GET {path}?{probes.MARKER_PARAM}={marker} -> "
                                     f"{result.status or 'no answer: ' + str(result.cause)}")
        if result.error_kind in ("skipped", "interrupted"):  # never on the wire
            problems[svc.case_id] = f"marked request not sent: {result.cause}"
    present = host_ops.existing_files(log_paths) if host_ops is not None else []
    missing = [p for p in log_paths if p not in present]
    found: set[str] = set()
    started = time.monotonic()
    markers = [m for m, _ in sent.values()]
    while present:
        found = host_ops.markers_in(present, markers)
        if len(found) == len(markers) or time.monotonic() - started >= wait_seconds:
            break
        time.sleep(0.5)
    waited = round(time.monotonic() - started, 1)
    return {case: MarkerResult(m, req, m in found, waited, present, missing,
                               problems.get(case, ""), host_ops is not None, sent_at)
            for case, (m, req) in sent.items()}


def describe_tls(tls: dict[str, Any] | None) -> str:
    if not tls:
        return ""
    keys = ("version", "subject", "issuer", "notAfter", "san", "sha256")
    return json.dumps({k: tls[k] for k in keys if k in tls}, default=str)
