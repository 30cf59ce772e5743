"""Resource providers of the injection area (registered on import)."""

from __future__ import annotations

from aiaudit.context import AuditContext
from aiaudit.injection import options
from aiaudit.injection.channel import ChannelCase, channels
from aiaudit.injection.settings import InjectionConfigError
from aiaudit.resources import provider
from aiaudit.status import CouldNotCheck

NO_CHANNEL = ("no user-facing chat channel is configured ([[endpoints]] in the audit config, "
              "selected by [injection] channels)")


def _channels(ctx: AuditContext):
    try:
        return ctx.cached("injection:channels", lambda: channels(ctx))
    except (InjectionConfigError, ValueError) as exc:
        raise CouldNotCheck(str(exc)) from None


@provider("injection_channels", empty_reason=NO_CHANNEL)
def _injection_channels(ctx: AuditContext) -> list[tuple[str, object]]:
    return [(ch.name, ChannelCase(ch)) for ch in _channels(ctx)]


@provider("injection_channels_corpora", empty_reason=NO_CHANNEL)
def _injection_channels_corpora(ctx: AuditContext) -> list[tuple[str, object]]:
    """Per channel: the built-in corpus, garak's corpus, and garak's own run if asked."""
    cases: list[tuple[str, object]] = []
    native = options.garak_native(ctx)
    for ch in _channels(ctx):
        cases.append((ch.name, ChannelCase(ch, "builtin")))
        if ch.settings.garak:
            cases.append((f"{ch.name}:garak", ChannelCase(ch, "garak")))
        if native:
            cases.append((f"{ch.name}:garak-native", ChannelCase(ch, "garak-native")))
    return cases
