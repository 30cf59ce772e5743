"""Network-side discovery: which AI services answer on the target's address, and what they are.

Concurrent TCP connect to the catalog's default ports plus the configured extra ports (and
the ports of configured proxy URLs), then, per open port, plain HTTP or TLS, then the
catalog's read-only probes in rounds: the probes of the services that default to that port,
then (only for ports still unnamed) each service's most telling probe, then the remaining
probes of the services that showed a signal. Every request goes through the run's
SafeClient under the probes declared in :mod:`aiaudit.exposure.probes`.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from aiaudit.concurrency import parallel_map
from aiaudit.exposure import probes
from aiaudit.exposure.fingerprint import Answer, Identification, identify, proxy_of, score
from aiaudit.http import Probe
from aiaudit.services import ServiceDef, ai_services, by_name, catalog_ports

CONNECT_TIMEOUT = 1.0
AUTH_WALL = (401, 403, 407)


#: Said of a catalog entry that was never checked against the real software (services.toml
#: ``confirmed = ""``): its signatures come from the product's documentation or source.
DOC_ONLY = "fingerprint from documentation only (not confirmed on the real software)"


@dataclass
class NetService:
    """One HTTP(S) listener on the target as seen from the auditor's position."""

    address: str
    port: int
    scheme: str
    answers: dict[str, Answer] = field(default_factory=dict)  # without credentials
    ident: Identification = Identification(None, 0.0, 0.0, (), None)
    proxy: str | None = None  # reverse proxy that answered (its Server header)
    tls: dict[str, Any] | None = None
    proxy_url: str | None = None  # the configured proxy URL this listener serves
    behind: Identification | None = None  # identified with the proxy credential
    extra_port: bool = False  # listed in [exposure] extra_ports
    stalled: str = ""  # an AI service's default port whose host was given up (timed out)
    unauth_reads: dict[str, Answer] = field(default_factory=dict)  # EXP checks' plain GETs

    @property
    def unread_probes(self) -> list[str]:
        """Discovery's probes that got no whole answer ("GET /api/tags (timed out after 6 s)"):
        routes whose answer could have named the service."""
        return [f"GET {p} ({a.cause()})" for p, a in self.answers.items()
                if a.status is None or a.problem]

    @property
    def identity_unread(self) -> str:
        """Why the identity is not established: nothing specific was named (only the generic
        OpenAI-compatible entry, or nothing) while some identifying route could not be read.
        "" when the identity stands on its own signals or every probe was answered."""
        named = self.service
        if named is not None and not named.generic:
            return ""
        unread = self.unread_probes
        if not unread:
            return ""
        what = f"named only as {named.name}" if named else "not identified"
        return (f"identity unconfirmed: {what}, and could not read "
                + ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if len(unread) > 3
                                           else ""))

    @property
    def host(self) -> str:
        return f"[{self.address}]" if ":" in self.address else self.address

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def service(self) -> ServiceDef | None:
        """The catalog entry of what answers (the backend, for an authenticated proxy)."""
        for ident in (self.ident, self.behind):
            if ident and ident.service:
                return by_name(ident.service)
        return None

    @property
    def name(self) -> str:
        if self.ident.service:
            return self.ident.service
        if self.behind and self.behind.service:
            return f"{self.behind.service} behind {self.proxy or 'a proxy'}"
        if self.proxy:
            return f"{self.proxy} (auth proxy)" if self.auth_wall else self.proxy
        if not any(a.status is not None for a in self.answers.values()):
            if any(a.refusal() for a in self.answers.values()):
                return "TLS listener requiring a client certificate"
            return "listener with no HTTP answer"  # kept: a configured AI port
        return "unidentified HTTP service"

    @property
    def case_id(self) -> str:
        return f"{self.name}@{self.endpoint}"

    @property
    def auth_wall(self) -> bool:
        """Every unauthenticated probe was refused (401/403, a sign-in page, a login
        redirect, a JSON auth error, a client certificate)."""
        answers = [a for a in self.answers.values() if a.status is not None]
        return bool(answers) and all(a.refusal() for a in answers)

    @property
    def is_ai(self) -> bool:
        """Worth the exposure controls: named by the catalog, behind a configured proxy, or on
        a port the audit config lists as an AI service's."""
        return bool(self.ident.service or self.proxy_url or self.extra_port or self.stalled)

    def tls_names(self) -> list[str]:
        """DNS names of the certificate that are not the audited address (a name-based
        virtual host may serve its API only to them)."""
        san = (self.tls or {}).get("san") or []
        return [str(n)[:100] for n in san if isinstance(n, str) and n != self.address
                and not re.fullmatch(r"[0-9.:a-fA-F]+", n)]

    def read_paths(self) -> list[str]:
        svc = self.service
        paths = list(svc.read) if svc and svc.read else ["/v1/models"]
        return paths

    def describe(self) -> str:
        """One evidence line: what answers, how sure, and on which signals."""
        info = self.summary()
        head = info["service"] + (f" {info['version']}" if info.get("version") else "")
        head += f" ({info['scheme']}, confidence {info['confidence']:.2f})"
        if info.get("resembles"):
            head += f"; resembles {info['resembles']}"
        if info.get("fingerprint") == DOC_ONLY:
            head += f"; {DOC_ONLY}"
        if self.stalled:
            head += f"; {self.stalled}"
        if self.identity_unread:
            head += f"; {self.identity_unread}"
        if info.get("emulates"):
            head += (f"; also imitates {', '.join(info['emulates'])}: emulation by the same "
                     "service, not a second one")
        return head + (f"; signals: {' | '.join(info['signals'])}" if info["signals"] else "")

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "endpoint": self.endpoint, "scheme": self.scheme, "service": self.name,
            "version": self.ident.version or (self.behind.version if self.behind else None),
            "confidence": self.ident.confidence or (self.behind.confidence if self.behind
                                                    else 0.0),
            "signals": list(self.ident.signals or (self.behind.signals if self.behind else ())),
        }
        if self.ident.resembles and not self.ident.service:
            out["resembles"] = f"{self.ident.resembles} (score {self.ident.score:g}, too low)"
        elif self.ident.resembles:  # named by the generic entry only
            out["resembles"] = f"{self.ident.resembles} (partial signals, not named)"
        if self.ident.emulates:
            out["emulates"] = list(self.ident.emulates)
        if self.identity_unread:
            out["identity_unread"] = self.identity_unread
        if self.proxy:
            out["proxy"] = self.proxy
        named = [d for d in (self.service, by_name(self.proxy) if self.proxy else None) if d]
        if named:
            out["fingerprint"] = ("; ".join(f"confirmed on {d.confirmed}" for d in named)
                                  if all(d.confirmed for d in named) else DOC_ONLY)
        return out


def open_ports(address: str, ports: list[int], timeout: float = CONNECT_TIMEOUT) -> list[int]:
    """TCP connect scan (no payload is sent), all ports at once."""

    def is_open(port: int) -> bool:
        try:
            with socket.create_connection((address, port), timeout=timeout):
                return True
        except ConnectionResetError:  # accepted, then reset at once: a listener all the same
            return True
        except OSError:
            return False

    flags = parallel_map(is_open, ports, max_workers=64)
    return [p for p, ok in zip(ports, flags, strict=True) if ok]


class _PortProber:
    def __init__(self, client: Any, address: str, port: int):
        self.client, self.address, self.port = client, address, port
        self.svc = NetService(address, port, "http")

    def get(self, probe: Probe, path: str, headers: dict[str, str] | None = None) -> Answer:
        result = self.client.get(probe, self.svc.base_url + path, headers=headers,
                                 max_bytes=256_000)
        if result.tls and self.svc.tls is None:
            self.svc.tls = result.tls
        return Answer.from_result(result)

    def _answers_over_tls(self) -> bool:
        """Try `/` over TLS; keep the answer and the scheme if it came, else back to HTTP."""
        self.svc.scheme = "https"
        secure = self.get(probes.DISCOVERY, "/")
        if secure.status is not None or secure.refusal():  # mTLS: TLS, and a wall
            self.svc.answers["/"] = secure
            return True
        self.svc.scheme = "http"
        return False

    def detect_scheme(self, prefer_tls: bool = False) -> bool:
        """Plain HTTP or TLS. A configured https:// proxy URL is tried with TLS first: a
        proxy such as Traefik answers plain HTTP on its TLS port too (404, no router)."""
        if prefer_tls and self._answers_over_tls():
            return True
        plain = self.get(probes.DISCOVERY, "/")
        looks_tls = plain.status is None or (plain.status == 400 and "https" in plain.text.lower())
        if looks_tls:
            if self._answers_over_tls():
                return True
            if plain.status is None:
                return False
        self.svc.answers["/"] = plain
        return True

    def fetch(self, paths: list[str], probe: Probe = probes.DISCOVERY,
              headers: dict[str, str] | None = None,
              into: dict[str, Answer] | None = None) -> dict[str, Answer]:
        into = self.svc.answers if into is None else into
        todo = [p for p in dict.fromkeys(paths) if p not in into]
        held = [p for p in todo if p in _costly_paths()]
        if held:  # first ask the services that do real work on them whether this is one
            owners = [s for s in ai_services() if set(s.costly) & set(held)]
            self.fetch([p for s in owners for p in s.probes], probe, headers, into)
            busy = {p for s in owners if score(s, into).score > 0 for p in s.costly}
            todo = [p for p in todo if p not in busy and p not in into]
        answers = parallel_map(lambda p: self.get(probe, p, headers), todo, max_workers=4)
        into.update(zip(todo, answers, strict=True))
        return into


@cache
def _costly_paths() -> frozenset[str]:
    """GETs that some catalog service answers by doing real work (LiteLLM's /health)."""
    return frozenset(p for svc in ai_services() for p in svc.costly)


def _first_round(port: int) -> list[str]:
    paths = ["/v1/models"]
    for svc in ai_services():
        if port in svc.ports:
            paths += svc.probes
    return paths


def _telling_probe(svc: ServiceDef) -> str | None:
    best = max(svc.signatures, key=lambda s: s.weight, default=None)
    return best.path if best else None


def fingerprint(prober: _PortProber, answers: dict[str, Answer], probe: Probe,
                headers: dict[str, str] | None = None) -> Identification:
    """Rounds of probing until the port is named or the catalog is exhausted."""
    prober.fetch(_first_round(prober.port), probe, headers, answers)
    ident = identify(answers)
    walled = all(a.refusal() for a in answers.values() if a.status is not None)
    # A wall that no catalog service recognises (a proxy's 401) ends here; a backend's own
    # refusal in its own words (LiteLLM's, Hermes', llama-cpp-python's 401) goes on, since
    # the service answers its public routes (/health, /) without credentials.
    if (ident.service and not by_name(ident.service).generic) or (walled and not ident.score):
        return ident
    telling = [_telling_probe(s) for s in ai_services() if not s.generic]
    prober.fetch([p for p in telling if p], probe, headers, answers)
    prober.fetch([p for s in _hinted(answers) for p in s.probes], probe, headers, answers)
    return identify(answers)


def _stalled(client: Any, svc: NetService) -> str:
    """Why an unidentified listener on an AI service's default port is kept anyway: it
    timed out (a drip or a tarpit) and was given up, so it may well be that service."""
    problem = getattr(client, "host_problem", lambda _url: None)(svc.base_url)
    if not problem or svc.ident.service:
        return ""
    names = [s.name for s in ai_services() if svc.port in s.ports]
    return f"{' / '.join(names)} default port; given up: {problem}" if names else ""


def _hinted(answers: dict[str, Answer]) -> list[ServiceDef]:
    """Services that showed a signal: a read of one of their probes, or a scoring answer
    (also a refusal in their own words)."""
    return [s for s in ai_services()
            if any(a.ok for p, a in answers.items() if p in s.probes and p != "/")
            or score(s, answers).score > 0]


def _probe_port(client: Any, address: str, port: int, extra: set[int],
                proxy_urls: dict[int, str], auth_headers: dict[str, str]) -> NetService | None:
    prober = _PortProber(client, address, port)
    svc = prober.svc
    if not prober.detect_scheme(proxy_urls.get(port, "").startswith("https:")):
        svc.stalled = _stalled(client, svc)
        if port not in extra and port not in proxy_urls and not svc.stalled:
            return None  # an open catalog port that speaks no HTTP: not an AI API
        # A port the audit config names as an AI service's: keep it, so its cases say why
        # it could not be read (reset, TLS error, timed out) instead of vanishing.
        svc.extra_port, svc.proxy_url = port in extra, proxy_urls.get(port)
        return svc
    svc.extra_port = port in extra
    svc.ident = fingerprint(prober, svc.answers, probes.DISCOVERY)
    proxy = proxy_of(svc.answers.get("/")) or next(
        (p for a in svc.answers.values() if (p := proxy_of(a))), None)
    svc.proxy = proxy.name if proxy else None
    svc.proxy_url = proxy_urls.get(port)
    if svc.proxy_url and auth_headers and not svc.ident.service:
        authed: dict[str, Answer] = {}
        svc.behind = fingerprint(prober, authed, probes.AUTH_READ, auth_headers)
    svc.stalled = _stalled(client, svc)
    return svc


def discover(client: Any, address: str, extra_ports: list[int], proxy_urls: tuple[str, ...] = (),
             auth_headers: dict[str, str] | None = None,
             catalog: bool = True, only: list[int] | None = None) -> list[NetService]:
    """Every HTTP(S) service on the catalog ports + extra ports of `address` (only the extra
    ports with catalog=False: a docker://NAME audit on the Docker host's loopback looks at
    its container's published ports, not at what else that host runs; only `only` when
    given: the IPv6-only listeners of a local audit, each still a catalog or extra port)."""
    configured: dict[int, str] = {}
    for url in proxy_urls:
        parts = urlsplit(url)
        if (parts.hostname or "") == address:
            configured[parts.port or (443 if parts.scheme == "https" else 80)] = url
    ports = sorted(set(catalog_ports() if catalog else ()) | set(extra_ports) | set(configured))
    if only is not None:
        ports = sorted(set(only))
    found = open_ports(address, ports)
    if not found:
        return []
    extra = set(extra_ports)
    # Every open port at once: each host:port spends its own time budget, so nine hostile
    # listeners cost the slowest one's budget, not the sum.
    results = parallel_map(lambda p: _probe_port(client, address, p, extra, configured,
                                                 auth_headers or {}), found, max_workers=64)
    return [r for r in results if r is not None]


def scanned_ports(extra_ports: list[int]) -> list[int]:
    return sorted(set(catalog_ports()) | set(extra_ports))
