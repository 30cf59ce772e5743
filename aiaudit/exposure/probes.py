"""Every request the exposure area may send, declared up front (the probes' safe lists).

Each :class:`~aiaudit.http.Probe` lists exactly the method + path pairs its checks send,
built from the service catalog, so that the footprint on a target is reviewable and the
safety self-test can hold every request seen on the wire against these lists.
Management endpoints from the catalog are never among them: EXP-07 judges those from
identity plus auth state.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiaudit.http import Probe, SafeRoute, denied_reason
from aiaudit.services import load_services

MARKER_PARAM = "aiaudit-marker"
CORS_ORIGIN = "https://aiaudit-cors-check.invalid"
# Open WebUI: open_webui/main.py chat_completion, @app.post('/api/chat/completions'), the
# route its own chat UI posts to (its /ollama/api/chat and /openai/chat/completions proxies
# take the same Depends(get_verified_user))
COMPLETION_PATHS = {"openai": "/v1/chat/completions", "ollama": "/api/chat",
                    "open-webui": "/api/chat/completions"}


def _path(path: str) -> str:
    return path.split("?", 1)[0]


def _catalog_paths(field: str, first: tuple[str, ...] = ()) -> list[str]:
    """A catalog field's paths over all services, deduplicated, in a stable order."""
    seen = dict.fromkeys(first)
    for svc in load_services():
        seen.update(dict.fromkeys(getattr(svc, field)))
    return list(seen)


def discovery_paths() -> list[str]:
    """Every probe path of the catalog, plus `/` (scheme detection)."""
    return _catalog_paths("probes", first=("/",))


def read_paths() -> list[str]:
    """Every unauthenticated read of the catalog (EXP-02, -05, -06)."""
    return _catalog_paths("read")


#: The OpenAI Python SDK's User-Agent: a gateway that lets "its" clients in by User-Agent
#: (an allowlist of SDKs standing in for auth) answers it and refuses the audit's own.
SDK_USER_AGENT = "OpenAI/Python 1.54.0"

#: Spoofed client-address headers a gateway may trust to let "local" callers in; sent
#: together first, then one by one only when together they open the door (to name which).
CLIENT_ADDRESS_HEADERS = (("X-Forwarded-For", "127.0.0.1"), ("X-Real-IP", "127.0.0.1"),
                          ("Forwarded", "for=127.0.0.1"), ("X-Client-IP", "127.0.0.1"))
CLIENT_ADDRESS_LABEL = "X-Forwarded-For/X-Real-IP/Forwarded/X-Client-IP: 127.0.0.1"


@dataclass(frozen=True)
class Variant:
    """One way to ask for a protected read without credentials (EXP-02 bypass attempts)."""

    label: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()


def bypass_variants(path: str) -> list[Variant]:
    base, _, query = path.partition("?")
    q = f"?{query}" if query else ""
    out = [
        Variant(CLIENT_ADDRESS_LABEL, "GET", path, CLIENT_ADDRESS_HEADERS),
        Variant("Host: localhost", "GET", path, (("Host", "localhost"),)),
        Variant("path case", "GET", base.upper() + q),
        Variant("doubled slashes", "GET", base.replace("/", "//") + q),
    ]
    if not base.endswith("/"):
        out.append(Variant("trailing slash", "GET", base + "/" + q))
    out += [Variant("HEAD", "HEAD", path), Variant("OPTIONS", "OPTIONS", path),
            Variant(f"User-Agent: {SDK_USER_AGENT}", "GET", path,
                    (("User-Agent", SDK_USER_AGENT),))]
    return out


def _routes(method_paths: list[tuple[str, str]]) -> tuple[SafeRoute, ...]:
    seen = dict.fromkeys((m, _path(p)) for m, p in method_paths)
    return tuple(SafeRoute(m, p) for m, p in seen)


DISCOVERY = Probe("exposure.discovery", _routes([("GET", p) for p in discovery_paths()]))
UNAUTH_READ = Probe("exposure.unauth-read", _routes(
    [("GET", p) for p in read_paths()]
    + [(v.method, v.path) for p in read_paths() for v in bypass_variants(p)]))
AUTH_READ = Probe("exposure.proxy-auth", _routes(
    [("GET", p) for p in read_paths()] + [("GET", p) for p in discovery_paths()]))
CORS = Probe("exposure.cors", _routes(
    [(m, p) for p in read_paths() for m in ("OPTIONS", "GET")]))
MARKER = Probe("exposure.alert-marker", _routes([("GET", p) for p in read_paths()]))
COMPLETION = Probe("exposure.completion", _routes(
    [("POST", p) for p in COMPLETION_PATHS.values()]))
#: A POST with an empty body on the generation route (standard profile, only where the
#: reads were refused): no prompt, nothing to generate. Auth per method (nginx
#: `limit_except POST`) refuses a GET on the route and lets the POST through, so only a POST
#: shows the route's auth; a product that checks the credential before the body answers
#: 401 with its key on (llama-cpp-python's Depends(authenticate), LiteLLM's
#: user_api_key_auth, Open WebUI's get_verified_user) and a body error without it.
GENERATION_BODY = Probe("exposure.generation-body", _routes(
    [("POST", p) for p in COMPLETION_PATHS.values()]))

ALL_PROBES: tuple[Probe, ...] = (DISCOVERY, UNAUTH_READ, AUTH_READ, CORS, MARKER, COMPLETION,
                                 GENERATION_BODY)


def declared_safe(method: str, target: str) -> bool:
    """True when `method target` (a request line's target, query allowed) is on some
    exposure probe's safe list and not on the client's hard deny list."""
    path = target.split("?", 1)[0]
    return denied_reason(method, path) is None and any(p.allows(method, path)
                                                       for p in ALL_PROBES)
