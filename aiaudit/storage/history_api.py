"""STO-08 facts: do history APIs and vector stores answer without credentials?

Discovery is the exposure area's (one network sweep per run, shared): this module only adds
which read-only paths of each discovered service return conversations or collections, and
asks them once each without credentials through the SafeClient.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiaudit.http import Probe, SafeRoute
from aiaudit.products import hermes as _hermes
from aiaudit.products import open_webui as _open_webui
from aiaudit.products.appstore import store_apps

# Read-only paths that list conversations or collections, by catalog service name.
HISTORY_PATHS: dict[str, tuple[str, ...]] = {
    _open_webui.service_name(): tuple(r for r in _open_webui.history_routes() if "{" not in r),
    _hermes.service_name(): tuple(r for r in _hermes.history_routes() if "{" not in r),
    "OpenAI-compatible API": ("/api/sessions",),  # Hermes-style agents (and the lab agent)
    "OpenClaw gateway": ("/api/sessions",),
    "AnythingLLM": ("/api/v1/workspaces", "/api/workspaces"),
    "Flowise": ("/api/v1/chatmessage", "/api/v1/chatflows"),
    "Meilisearch": ("/indexes",),
    "Qdrant": ("/collections",),
    "Weaviate": ("/v1/schema",),
    "Chroma": ("/api/v2/tenants/default_tenant/databases/default_database/collections",
               "/api/v1/collections"),
    "Milvus": ("/v1/vector/collections",),
}
HISTORY_PATHS.update({app.data.service_name(): app.history_routes()
                      for app in store_apps().values() if app.history_routes()})
IN_SCOPE_KINDS = ("vector-db", "ui", "agent-gateway", "api")
# Asked on loopback-only services the catalog has no history paths for.
GENERIC_PATHS = ("/api/sessions", "/api/v1/chats/")
REFUSED = (401, 403, 407)
PROBE = Probe("storage-history-api-unauthenticated", tuple(
    SafeRoute("GET", path) for path in sorted({p for ps in HISTORY_PATHS.values() for p in ps})))


@dataclass(frozen=True)
class HistoryApi:
    """A discovered service with the history paths to ask."""

    service: str
    kind: str
    base_url: str
    paths: tuple[str, ...]
    loopback_only: bool = False  # seen listening on the host's loopback, not the network

    @property
    def case_id(self) -> str:
        where = self.base_url.split("://", 1)[-1]
        if self.loopback_only:
            where = "127.0.0.1:" + where.rsplit(":", 1)[-1]
        return f"{self.service}@{where}"


@dataclass
class PathAnswer:
    path: str
    status: int | None
    outcome: str  # "history" | "refused" | "absent" | "unreachable"
    detail: str


@dataclass
class HistoryApiFacts:
    answers: list[PathAnswer] = field(default_factory=list)

    def of(self, outcome: str) -> list[PathAnswer]:
        return [a for a in self.answers if a.outcome == outcome]


def history_apis(services: list[Any]) -> list[HistoryApi]:
    """Services from the exposure discovery that may hand out history or collections."""
    found = []
    for svc in services:
        definition = svc.service
        name = definition.name if definition else None
        kind = definition.kind if definition else "unidentified"
        paths = HISTORY_PATHS.get(name or "", ())
        if not paths and kind not in IN_SCOPE_KINDS:
            continue
        if not paths and definition and kind == "vector-db":
            paths = tuple(p for p in definition.read if PROBE.allows("GET", p))
        if paths:
            found.append(HistoryApi(svc.name, kind, svc.base_url, paths))
    return found


def loopback_apis(listeners: list[Any], address: str) -> list[HistoryApi]:
    """Host-side AI listeners bound to loopback only: local users can still ask them."""
    from aiaudit.services import by_name

    found = []
    for ai in listeners:
        if not ai.listener.is_loopback:
            continue
        definition = by_name(ai.service)
        kind = definition.kind if definition else "unidentified"
        if kind == "llm-server" or kind == "compute":
            continue
        paths = HISTORY_PATHS.get(ai.service, GENERIC_PATHS)
        found.append(HistoryApi(ai.service, kind, f"http://{address}:{ai.listener.port}", paths,
                                loopback_only=True))
    return found


def judge_answer(path: str, status: int | None, content_type: str, body: bytes,
                 error: str | None) -> PathAnswer:
    """One unauthenticated answer: history (JSON data), refused, absent, or unreachable."""
    if status is None:
        return PathAnswer(path, None, "unreachable", error or "no answer")
    if status in REFUSED:
        return PathAnswer(path, status, "refused", f"HTTP {status}")
    if 200 <= status < 300 and "json" in content_type.lower():
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            return PathAnswer(path, status, "absent", f"HTTP {status}, body is not JSON")
        items = doc.get("data", doc.get("result", doc)) if isinstance(doc, dict) else doc
        count = len(items) if isinstance(items, list | dict) else 0
        return PathAnswer(path, status, "history",
                          f"HTTP {status} without credentials, {count} item(s) listed")
    return PathAnswer(path, status, "absent", f"HTTP {status} ({content_type or 'no type'})")


def probe_history_api(client: Any, api: HistoryApi, base: str | None = None) -> HistoryApiFacts:
    facts = HistoryApiFacts()
    for path in api.paths:
        result = client.request(PROBE, "GET", (base or api.base_url) + path,
                                headers={"Accept": "application/json"}, max_bytes=256 * 1024)
        facts.answers.append(judge_answer(path, result.status, result.headers.get(
            "content-type", ""), result.body, result.error))
    return facts
