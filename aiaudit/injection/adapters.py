"""Chat adapters: one way to talk to each kind of user-facing channel, all through SafeClient.

The controls speak in OpenAI-style messages; an adapter turns them into the channel's own
request (OpenAI chat, Ollama `/api/chat`, or an operator-described REST template) and the
answer back into a `Reply`. Only the chat POST the operator configured is ever declared
safe, and every completion is bounded by `max_tokens`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiaudit.config import Endpoint, User
from aiaudit.http import Probe, SafeClient, SafeRoute, UnsafeRequestRefused

Message = dict[str, str]
INPUT_PLACEHOLDER = "$INPUT"
USER_PLACEHOLDER = "$USER"
_REJECTION_CODES = frozenset({400, 403, 406, 413, 422})


@dataclass(frozen=True)
class Reply:
    """What one chat request produced, whatever the channel's wire format."""

    status: int | None  # HTTP status; None when no HTTP answer came back
    text: str  # the answer text ("" when there is none)
    finish_reason: str | None = None
    error: str | None = None  # transport error or the channel's own error message
    elapsed: float = 0.0

    @property
    def answered(self) -> bool:
        """The channel produced an answer (its content may still be a refusal)."""
        return self.status == 200 and self.error is None

    @property
    def rejected(self) -> bool:
        """The channel refused the input itself (validation), not for lack of access."""
        return self.status in _REJECTION_CODES

    def describe(self) -> str:
        if self.answered:
            return f"HTTP 200 ({self.finish_reason or 'no finish_reason'})"
        if self.status is None:
            return f"no answer: {self.error}"
        return f"HTTP {self.status}: {self.error or 'no error message'}"


def _error_message(body: Any) -> str | None:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("code") or err)[:300]
        if isinstance(err, str):
            return err[:300]
        if "detail" in body:
            return str(body["detail"])[:300]
    return None


def json_path(doc: Any, path: str) -> Any:
    """The value at a simple JSONPath (`$.a.b[0]['c']`); KeyError/IndexError if absent."""
    tokens = re.findall(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]",
                        path.strip().removeprefix("$"))
    value = doc
    for name, index, quoted1, quoted2 in tokens:
        if index:
            value = value[int(index)]
        else:
            value = value[name or quoted1 or quoted2]
    return value


def fill_template(template: Any, text: str, user: str) -> Any:
    """Substitute the placeholders inside every string of a parsed JSON body template."""
    if isinstance(template, str):
        return template.replace(INPUT_PLACEHOLDER, text).replace(USER_PLACEHOLDER, user)
    if isinstance(template, list):
        return [fill_template(v, text, user) for v in template]
    if isinstance(template, dict):
        return {k: fill_template(v, text, user) for k, v in template.items()}
    return template


class ChatAdapter:
    """Base: auth, identity and the one declared route; subclasses build and parse bodies."""

    api = "base"
    supports_roles = True  # can carry system/assistant turns in one request

    def __init__(self, endpoint: Endpoint, client: SafeClient, *, max_tokens: int,
                 model: str | None = None, probe_user: str = "aiaudit-probe") -> None:
        self.endpoint = endpoint
        self.client = client
        self.max_tokens = max_tokens
        self.model = model
        self.probe_user = probe_user
        path = urlsplit(endpoint.url).path or "/"
        self.probe = Probe(f"injection:{endpoint.name}", (SafeRoute("POST", path),))

    def headers_for(self, user: User | None) -> dict[str, str]:
        """The user's own credential when it has one, else the endpoint's."""
        token = user.credential.value() if user is not None else None
        if token:
            ep = self.endpoint
            return {ep.auth_header: f"{ep.auth_scheme} {token}" if ep.auth_scheme else token}
        return self.endpoint.auth_headers()

    def identity(self, user: User | None) -> str:
        return user.name if user is not None else self.probe_user

    def body(self, messages: list[Message], user: User | None) -> Any:
        raise NotImplementedError

    def parse(self, doc: Any) -> tuple[str, str | None]:
        raise NotImplementedError

    def send(self, messages: list[Message], user: User | None = None) -> Reply:
        """One bounded chat request; transport failures come back as a Reply, never raise."""
        started = time.monotonic()
        try:
            result = self.client.request(
                self.probe, "POST", self.endpoint.url, headers=self.headers_for(user),
                json=self.body(messages, user), max_bytes=256_000)
        except UnsafeRequestRefused as exc:
            return Reply(None, "", error=f"refused by the safe client: {exc}",
                         elapsed=time.monotonic() - started)
        elapsed = time.monotonic() - started
        if result.status is None:
            return Reply(None, "", error=result.error, elapsed=elapsed)
        try:
            doc = result.json()
        except ValueError as exc:
            return Reply(result.status, "", error=str(exc), elapsed=elapsed)
        if result.status != 200:
            return Reply(result.status, "", error=_error_message(doc), elapsed=elapsed)
        try:
            text, finish = self.parse(doc)
        except (KeyError, IndexError, TypeError) as exc:
            return Reply(result.status, "", error=f"unexpected answer shape ({exc!r})",
                         elapsed=elapsed)
        return Reply(200, text, finish, elapsed=elapsed)


class OpenAIChat(ChatAdapter):
    api = "openai"

    def body(self, messages: list[Message], user: User | None) -> Any:
        body: dict[str, Any] = {"messages": messages, "max_tokens": self.max_tokens,
                                "temperature": 0, "stream": False}
        if self.model:
            body["model"] = self.model
        if self.endpoint.user_field:
            body[self.endpoint.user_field] = self.identity(user)
        return body

    def parse(self, doc: Any) -> tuple[str, str | None]:
        choice = doc["choices"][0]
        return str(choice["message"].get("content") or ""), choice.get("finish_reason")


class OllamaChat(ChatAdapter):
    api = "ollama"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parts = urlsplit(self.endpoint.url)
        self.tags_url = urlunsplit((parts.scheme, parts.netloc, "/api/tags", "", ""))
        self.probe = Probe(self.probe.name, (*self.probe.routes, SafeRoute("GET", "/api/tags")))

    def ensure_model(self) -> str | None:
        """Ollama needs a model name: the configured one, else the first one it lists."""
        if not self.model:
            result = self.client.request(self.probe, "GET", self.tags_url,
                                         headers=self.endpoint.auth_headers())
            try:
                models = result.json().get("models") or []
                self.model = str(models[0]["name"]) if models else None
            except (ValueError, AttributeError, KeyError, TypeError):
                self.model = None
        return self.model

    def body(self, messages: list[Message], user: User | None) -> Any:
        return {"model": self.ensure_model() or "", "messages": messages, "stream": False,
                "options": {"num_predict": self.max_tokens, "temperature": 0}}

    def parse(self, doc: Any) -> tuple[str, str | None]:
        return str(doc["message"].get("content") or ""), doc.get("done_reason")


class RestChat(ChatAdapter):
    """An operator-described JSON API: body template with `$INPUT` (and `$USER`), JSONPath
    to the answer. It carries one text, so role turns are flattened into it."""

    api = "rest"
    supports_roles = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        template = self.endpoint.body_template or json.dumps({"input": INPUT_PLACEHOLDER})
        try:
            self.template = json.loads(template)
        except ValueError as exc:
            raise ValueError(f"endpoint {self.endpoint.name}: body_template is not JSON: "
                             f"{exc}") from None
        if INPUT_PLACEHOLDER not in template:
            raise ValueError(f"endpoint {self.endpoint.name}: body_template has no "
                             f"{INPUT_PLACEHOLDER} placeholder")
        self.answer_path = self.endpoint.answer_path or "$.output"

    def body(self, messages: list[Message], user: User | None) -> Any:
        text = "\n\n".join(m["content"] for m in messages if m.get("role") == "user")
        return fill_template(self.template, text, self.identity(user))

    def parse(self, doc: Any) -> tuple[str, str | None]:
        value = json_path(doc, self.answer_path)
        return (value if isinstance(value, str) else json.dumps(value)), None


ADAPTERS: dict[str, type[ChatAdapter]] = {"openai": OpenAIChat, "ollama": OllamaChat,
                                          "rest": RestChat}


def make_adapter(endpoint: Endpoint, client: SafeClient, *, max_tokens: int,
                 model: str | None = None, probe_user: str = "aiaudit-probe") -> ChatAdapter:
    return ADAPTERS[endpoint.api](endpoint, client, max_tokens=max_tokens, model=model,
                                  probe_user=probe_user)
