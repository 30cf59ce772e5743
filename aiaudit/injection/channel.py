"""A user-facing chat channel under audit: endpoint, adapter, identities and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiaudit.config import Endpoint, User
from aiaudit.context import AuditContext
from aiaudit.http import SafeClient
from aiaudit.injection.adapters import ChatAdapter, Message, Reply, make_adapter
from aiaudit.injection.settings import InjectionSettings, load_settings

CORPORA = ("builtin", "garak", "garak-native")


@dataclass
class Channel:
    name: str
    endpoint: Endpoint
    adapter: ChatAdapter
    settings: InjectionSettings
    users: list[User]
    canary: str | None
    memo: dict[str, Any] = field(default_factory=dict)  # results shared between cases

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint.url).hostname or ""

    def send(self, messages: list[Message], user: User | None = None) -> Reply:
        return self.adapter.send(messages, user)


@dataclass(frozen=True)
class ChannelCase:
    """One test case: a channel attacked with one corpus."""

    channel: Channel
    corpus: str = "builtin"


def injection_settings(ctx: AuditContext) -> InjectionSettings:
    return ctx.cached("injection:settings",
                      lambda: load_settings(ctx.config.area_section("injection")))


def model_client(ctx: AuditContext) -> SafeClient:
    """A SafeClient sized for model calls (seconds each, one at a time per host).

    The run's shared client keeps 10-20 s timeouts that suit metadata probes; completions
    on a busy 2-core box take longer. Its records still reach the report's request appendix
    through the `http:extra_clients` list the plugin reads.
    """

    def create() -> SafeClient:
        timeout = injection_settings(ctx).timeout_seconds
        client = SafeClient(read_timeout=timeout, total_timeout=timeout + 10, retries=0,
                            per_host_concurrency=1, per_host_rate=None)
        ctx.cached("http:extra_clients", list).append(client)
        return client

    return ctx.cached("injection:client", create)


def channels(ctx: AuditContext) -> list[Channel]:
    """The configured channels to attack (`[injection] channels`, default every endpoint)."""
    settings = injection_settings(ctx)
    wanted = settings.channels
    endpoints = ctx.config.endpoints
    if wanted is not None:
        known = {ep.name for ep in endpoints}
        missing = [name for name in wanted if name not in known]
        if missing:
            raise ValueError(f"[injection].channels names unknown endpoints: {missing} "
                             f"(known: {sorted(known)})")
        endpoints = [ep for ep in endpoints if ep.name in wanted]
    client = model_client(ctx)
    return [Channel(ep.name, ep, make_adapter(ep, client, max_tokens=settings.max_tokens,
                                              model=settings.model,
                                              probe_user=settings.probe_user),
                    settings, list(ctx.config.users), ctx.config.canary)
            for ep in endpoints]
