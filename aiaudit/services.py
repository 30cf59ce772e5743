"""The AI service catalog (data in aiaudit/data/services.toml) and process matching."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

SIGNAL_KINDS = ("body", "regex", "json", "header", "status")
DEFAULT_MIN_SCORE = 4


class ServiceCatalogError(ValueError):
    """services.toml does not match its schema."""


@dataclass(frozen=True)
class Signature:
    """One independent signal: what a probe's answer must show, and what it is worth."""

    path: str
    weight: float
    body: str | None = None
    regex: re.Pattern[str] | None = None
    json: str | None = None
    equals: Any = None
    match: re.Pattern[str] | None = None
    header: str | None = None
    status: int | None = None

    @property
    def kind(self) -> str:
        return next(k for k in ("header", "json", "regex", "body", "status")
                    if getattr(self, k) is not None)

    def describe(self) -> str:
        if self.header:
            what = f"header {self.header} ~ /{self.match.pattern if self.match else '.'}/"
        elif self.json is not None:
            what = f"JSON {self.json or '(body)'}"
            if self.equals is not None:
                what += f" == {self.equals!r}"
            elif self.match:
                what += f" ~ /{self.match.pattern}/"
        elif self.regex:
            what = f"body ~ /{self.regex.pattern}/"
        elif self.body is not None:
            what = f"body contains {self.body!r}"
        else:
            what = ""
        if self.status is not None:
            what = f"status {self.status}" + (f", {what}" if what else "")
        against = " (counts against)" if self.weight < 0 else ""
        return f"GET {self.path}: {what}{against}"


@dataclass(frozen=True)
class ServiceDef:
    name: str
    ports: tuple[int, ...]
    process: tuple[re.Pattern[str], ...]
    is_proxy: bool = False
    kind: str = "api"
    probes: tuple[str, ...] = ()
    signatures: tuple[Signature, ...] = ()
    read: tuple[str, ...] = ()
    management: tuple[str, ...] = ()
    costly: tuple[str, ...] = ()  # GETs that make this service do real work (see the toml)
    completion: str = ""
    version: tuple[str, str] | None = None  # (path, json key path)
    version_regex: re.Pattern[str] | None = None  # a plain-text version: group 1 of this
    confirmed: str = ""
    min_score: float = DEFAULT_MIN_SCORE
    generic: bool = False
    server: re.Pattern[str] | None = None  # proxies: their Server header
    # proxies that send no Server header (HAProxy, Traefik): their own refusal, told by its
    # WWW-Authenticate challenge or its built-in 401 page
    challenge: re.Pattern[str] | None = None
    refusal_body: re.Pattern[str] | None = None
    # Where the product checks the credential before it reads a request's body (or has no
    # credential at all), its source: its body error to an empty POST on the generation
    # route then proves no credential check guards that route (EXP-02, standard profile)
    key_before_body: str = ""
    # Public-by-design answers that tell the auth state (Open WebUI's /api/config, which its
    # sign-in page reads): (signal, why) pairs, any of which matching means anyone gets in
    open_if: tuple[tuple[Signature, str], ...] = ()

    def matches_process(self, cmdline: str) -> re.Pattern[str] | None:
        return next((p for p in self.process if p.search(cmdline)), None)

    @property
    def max_score(self) -> float:
        return sum(s.weight for s in self.signatures if s.weight > 0)


def _signature(raw: dict[str, Any], where: str) -> Signature:
    unknown = set(raw) - {"path", "weight", "body", "regex", "json", "equals", "match",
                          "header", "status"}
    if unknown or "path" not in raw or not str(raw["path"]).startswith("/"):
        raise ServiceCatalogError(f"{where}: bad signature {raw!r}")
    if not any(k in raw for k in SIGNAL_KINDS):
        raise ServiceCatalogError(f"{where}: signature without a signal kind: {raw!r}")
    return Signature(
        path=raw["path"], weight=float(raw.get("weight", 1)), body=raw.get("body"),
        regex=re.compile(raw["regex"]) if "regex" in raw else None, json=raw.get("json"),
        equals=raw.get("equals"), match=re.compile(raw["match"]) if "match" in raw else None,
        header=raw.get("header", "").lower() or None, status=raw.get("status"),
    )


def _service(raw: dict[str, Any], is_proxy: bool) -> ServiceDef:
    name = raw["name"]
    sigs = tuple(_signature(s, name) for s in raw.get("signatures", ()))
    probes = tuple(raw.get("probes", ()))
    missing = {s.path for s in sigs} - set(probes)
    missing |= {o["path"] for o in raw.get("open_if", ())} - set(probes)
    if missing:
        raise ServiceCatalogError(f"{name}: signatures use paths not in probes: {missing}")
    version = raw.get("version")
    return ServiceDef(
        name=name,
        ports=tuple(raw.get("ports", ())),
        process=tuple(re.compile(p) for p in raw.get("process", ())),
        is_proxy=is_proxy,
        kind=raw.get("kind", "proxy" if is_proxy else "api"),
        probes=probes,
        signatures=sigs,
        read=tuple(raw.get("read", ())),
        management=tuple(raw.get("management", ())),
        costly=tuple(raw.get("costly", ())),
        completion=raw.get("completion", ""),
        version=(version["path"], version.get("json", "")) if version else None,
        version_regex=re.compile(version["regex"]) if version and "regex" in version else None,
        confirmed=raw.get("confirmed", ""),
        min_score=float(raw.get("min_score", DEFAULT_MIN_SCORE)),
        generic=bool(raw.get("generic", False)),
        server=re.compile(raw["server"]) if raw.get("server") else None,
        challenge=re.compile(raw["challenge"]) if raw.get("challenge") else None,
        refusal_body=re.compile(raw["refusal_body"]) if raw.get("refusal_body") else None,
        key_before_body=raw.get("key_before_body", ""),
        open_if=tuple((_signature({k: v for k, v in o.items() if k != "why"}, name),
                       str(o.get("why", ""))) for o in raw.get("open_if", ())),
    )


@cache
def load_services() -> tuple[ServiceDef, ...]:
    text = (resources.files("aiaudit") / "data" / "services.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    out = []
    for kind in ("service", "proxy"):
        for raw in doc.get(kind, []):
            out.append(_service(raw, kind == "proxy"))
    return tuple(out)


def ai_services() -> tuple[ServiceDef, ...]:
    return tuple(s for s in load_services() if not s.is_proxy)


def proxies() -> tuple[ServiceDef, ...]:
    return tuple(s for s in load_services() if s.is_proxy)


def by_name(name: str) -> ServiceDef | None:
    return next((s for s in load_services() if s.name == name), None)


def catalog_ports() -> list[int]:
    return sorted({p for s in load_services() for p in s.ports})
