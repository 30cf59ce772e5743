"""STO-06 facts: can user B list or read a conversation user A had, through the app's API?

The suite's only write: one chat message as user A (a unique marker, max_tokens 1) to the
chat endpoint the operator configured. Then, as A, it finds that conversation through the
history API, and as B it lists conversations and asks for A's directly. History APIs
known: Hermes-style `/api/sessions[/<id>/messages]` and Open WebUI `/api/v1/chats/[<id>]`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiaudit.config import Endpoint, User
from aiaudit.http import Probe, SafeClient, SafeRoute
from aiaudit.resources import safe_id
from aiaudit.status import CouldNotCheck

PLANT = Probe("storage-sto06-plant-canary-as-user-a", (
    SafeRoute("GET", "/v1/models"), SafeRoute("POST", "/v1/chat/completions"),
    SafeRoute("POST", "*/v1/chat/completions")))
READ = Probe("storage-sto06-history-read", (
    SafeRoute("GET", "/api/sessions"), SafeRoute("GET", "/api/sessions/*/messages"),
    SafeRoute("GET", "/api/v1/chats/"), SafeRoute("GET", "/api/v1/chats/*")))
SESSIONS_TO_SEARCH = 25
MODEL_TIMEOUT_S = 120.0  # one tiny completion, but a busy 2-core host takes seconds per call


@dataclass(frozen=True)
class HistoryFlavour:
    name: str
    list_path: str
    item_path: str  # with {id}


FLAVOURS = (
    HistoryFlavour("hermes-style /api/sessions", "/api/sessions", "/api/sessions/{id}/messages"),
    HistoryFlavour("Open WebUI /api/v1/chats", "/api/v1/chats/", "/api/v1/chats/{id}"),
)


@dataclass(frozen=True)
class UserPair:
    owner: User
    other: User
    endpoint: Endpoint

    @property
    def case_id(self) -> str:
        return safe_id(f"{self.owner.name}->{self.other.name}@{self.endpoint.name}")


@dataclass
class IsolationFacts:
    marker: str = ""
    planted: str = ""
    reached: str = ""
    flavour: str = ""
    session_id: str | None = None
    listed_to_other: bool = False
    other_list_status: int | None = None
    other_read_status: int | None = None
    other_read_leaks: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def leaks(self) -> list[str]:
        out = []
        if self.listed_to_other:
            out.append(f"B's conversation list includes A's conversation {self.session_id}")
        if self.other_read_leaks:
            out.append(f"B read A's conversation {self.session_id} (HTTP "
                       f"{self.other_read_status}, the planted marker is in it)")
        return out


def _auth(endpoint: Endpoint, user: User) -> dict[str, str]:
    token = user.credential.value()
    if not token:
        raise CouldNotCheck(f"no credential for user {user.name} "
                            f"({user.credential.describe()} is empty or unreadable)")
    value = f"{endpoint.auth_scheme} {token}" if endpoint.auth_scheme else token
    return {endpoint.auth_header: value, "Accept": "application/json"}


def _query(endpoint: Endpoint, user: User) -> str:
    """Deployments without auth take the user from a field (the endpoint's user_field)."""
    return f"?{endpoint.user_field}={quote(user.name)}" if endpoint.user_field else ""


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        doc = doc.get("data", doc.get("items", doc.get("chats", [])))
    return doc if isinstance(doc, list) else []


def _session_ids(doc: Any) -> list[str]:
    ids = [str(item.get("id")) for item in _items(doc) if isinstance(item, dict) and item.get("id")]
    return list(reversed(ids))  # newest last in Hermes listings: search newest first


class HistoryClient:
    def __init__(self, ctx: Any, base: str, endpoint: Endpoint) -> None:
        self.client, self.base, self.endpoint = ctx.client, base, endpoint

    def get(self, path: str, user: User) -> tuple[int | None, Any, bytes]:
        result = self.client.request(READ, "GET", self.base + path + _query(self.endpoint, user),
                                     headers=_auth(self.endpoint, user), max_bytes=512 * 1024)
        try:
            doc = result.json() if result.status and 200 <= result.status < 300 else None
        except ValueError:
            doc = None
        return result.status, doc, result.body


def model_client(ctx: Any) -> SafeClient:
    """A SafeClient with a model-sized timeout; the plugin reports its requests too
    (the `http:extra_clients` list, shared with the injection area)."""

    def create() -> SafeClient:
        client = SafeClient(read_timeout=MODEL_TIMEOUT_S, total_timeout=MODEL_TIMEOUT_S + 10,
                            retries=0, per_host_concurrency=1, per_host_rate=None)
        ctx.cached("http:extra_clients", list).append(client)
        return client

    return ctx.cached("storage:model-client", create)


def plant(ctx: Any, base: str, path: str, endpoint: Endpoint, user: User, marker: str) -> str:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": f"Audit isolation check {marker}. "
                      "Reply with OK."}],
        "max_tokens": 1, "stream": False,
    }
    models = ctx.client.request(PLANT, "GET", base + "/v1/models" + _query(endpoint, user),
                                headers=_auth(endpoint, user))
    try:
        model_list = models.json().get("data") if models.status == 200 else None
        if model_list:
            body["model"] = model_list[0]["id"]
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        pass
    if endpoint.user_field:
        body[endpoint.user_field] = user.name
    result = model_client(ctx).request(PLANT, "POST", base + path,
                                       headers=_auth(endpoint, user), json=body,
                                       max_bytes=256 * 1024)
    if result.status is None or not 200 <= result.status < 300:
        raise CouldNotCheck(f"planting the marker as {user.name} failed: "
                            f"{result.error or f'HTTP {result.status}'}")
    return f"POST {path} as {user.name}: HTTP {result.status} in {result.elapsed:.1f}s"


def find_marker(history: HistoryClient, flavour: HistoryFlavour, user: User,
                marker: str) -> tuple[str | None, list[str]]:
    """The id of `user`'s conversation holding the marker, and the ids `user` can list."""
    status, doc, _ = history.get(flavour.list_path, user)
    if status is None or not 200 <= status < 300:
        return None, []
    ids = _session_ids(doc)
    for session_id in ids[:SESSIONS_TO_SEARCH]:
        s, _, body = history.get(flavour.item_path.format(id=quote(session_id, safe="")), user)
        if s and 200 <= s < 300 and marker.encode() in body:
            return session_id, ids
    return None, ids


def check_isolation(ctx: Any, pair: UserPair, base: str, reached: str) -> IsolationFacts:
    facts = IsolationFacts(marker=f"aiaudit-sto06-{secrets.token_hex(6)}", reached=reached)
    path = pair.endpoint.url.split("://", 1)[-1].split("/", 1)[-1]
    path = "/" + path.split("?", 1)[0]
    history = HistoryClient(ctx, base, pair.endpoint)
    facts.planted = plant(ctx, base, path, pair.endpoint, pair.owner, facts.marker)
    for flavour in FLAVOURS:
        session_id, _ = find_marker(history, flavour, pair.owner, facts.marker)
        if session_id:
            facts.session_id, facts.flavour = session_id, flavour.name
            break
    if facts.session_id is None:
        raise CouldNotCheck(
            f"{pair.owner.name} cannot find the planted conversation through a known history "
            f"API ({', '.join(f.list_path for f in FLAVOURS)}): isolation is not testable here")
    flavour = next(f for f in FLAVOURS if f.name == facts.flavour)
    status, doc, list_body = history.get(flavour.list_path, pair.other)
    facts.other_list_status = status
    facts.listed_to_other = bool(status and 200 <= status < 300 and (
        facts.session_id in _session_ids(doc) or facts.session_id.encode() in list_body))
    item = flavour.item_path.format(id=quote(facts.session_id, safe=""))
    status, _, body = history.get(item, pair.other)
    facts.other_read_status = status
    if status is None:
        raise CouldNotCheck(f"reading A's conversation as {pair.other.name} got no answer")
    facts.other_read_leaks = 200 <= status < 300 and facts.marker.encode() in body
    return facts
