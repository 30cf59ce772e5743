"""Where the callback listener lives: the address the target uses to reach the auditor."""

from __future__ import annotations

from aiaudit.injection.callback import source_address_towards
from aiaudit.injection.channel import Channel


def listener_address(channel: Channel) -> tuple[str, str]:
    """(bind, advertise): `[injection] callback_host`/`callback_bind`, else the local address
    the kernel routes towards the channel's host (bound to that address only)."""
    settings = channel.settings
    advertise = settings.callback_host or source_address_towards(channel.host or "127.0.0.1")
    return settings.callback_bind or advertise, advertise
