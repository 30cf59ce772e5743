"""The `[injection]` section of the audit config and the per-profile attack budgets.

The area validates its own keys (the core config only rejects literal secrets) so that a
typo such as `atempts = 50` is reported instead of silently running the default budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from aiaudit.config import SettingsError

DEFAULT_GARAK_PROBES = (
    "encoding", "promptinject", "goodside", "smuggling", "dan", "leakreplay",
)
QUICK_REASON = ("profile quick makes no model generate text; run --profile standard or full "
                "for the injection controls")


class InjectionConfigError(SettingsError):
    """The `[injection]` section cannot be used; the message names the key."""

    def __init__(self, key: str, msg: str):
        super().__init__("injection", key, msg)


@dataclass(frozen=True)
class Budget:
    """How many model calls each control may spend (one call is one completion)."""

    attacks: int  # INJ-01 attacks per attack family (and escalating conversations)
    benign: int  # no-attack control questions beside every canary verdict
    garak: int  # garak corpus prompts per garak-backed case
    actions: int  # INJ-03 callback attacks
    indirect: int  # INJ-04 documents / pages
    history: int  # INJ-05 requests for other users' history
    minimise: int  # extra calls to shrink and replay the smallest successful payload
    markers: int  # INJ-02 in-text marker probes (template families and role lines)
    seconds: float  # wall-time cap per campaign (attempts stop, never the run)
    min_attempts: int = 3  # sent even past the wall-time cap, so a verdict has data
    turns: int = 3  # turns of one multi-turn escalating conversation
    shrink: int = 6  # model calls to shrink a leaking conversation to the shortest that leaks
    tokens: int = 12000  # tokens (sent + received, estimated) the multi-turn family may spend


PROFILE_BUDGETS: dict[str, Budget] = {
    "standard": Budget(attacks=2, benign=6, garak=4, actions=3, indirect=3, history=4,
                       minimise=2, markers=3, seconds=120.0, shrink=6, tokens=12000),
    "full": Budget(attacks=10, benign=12, garak=24, actions=12, indirect=12, history=8,
                   minimise=6, markers=6, seconds=300.0, turns=4, shrink=16,
                   tokens=48000),
}

_KEYS: dict[str, tuple[type, ...]] = {
    "channels": (list,),
    "callback_host": (str,),
    "callback_bind": (str,),
    "callback_grace_seconds": (int, float),
    "model": (str,),
    "max_tokens": (int,),
    "timeout_seconds": (int, float),
    "seed": (int,),
    "garak": (bool,),
    "garak_probes": (list,),
    "garak_timeout_seconds": (int, float),
    "probe_user": (str,),
    **{f"budget_{name}": (int,) for name in ("attacks", "benign", "garak", "actions",
                                              "indirect", "history", "minimise", "markers",
                                              "min_attempts", "turns", "shrink",
                                              "tokens")},
    "budget_seconds": (int, float),
}


@dataclass(frozen=True)
class InjectionSettings:
    channels: tuple[str, ...] | None = None  # endpoint names; None = every endpoint
    callback_host: str | None = None  # address the target uses to reach the auditor
    callback_bind: str | None = None  # where the listener binds (default: callback_host)
    callback_grace_seconds: float = 2.0
    model: str | None = None
    max_tokens: int = 48
    timeout_seconds: float = 90.0
    seed: int = 20261
    garak: bool = True
    garak_probes: tuple[str, ...] = DEFAULT_GARAK_PROBES
    garak_timeout_seconds: float = 600.0
    probe_user: str = "aiaudit-probe"
    overrides: dict[str, float] = field(default_factory=dict)

    def budget(self, profile: str) -> Budget | None:
        """The budget for `profile`; None for quick (nothing may generate)."""
        base = PROFILE_BUDGETS.get(profile)
        if base is None:
            return None
        return replace(base, **self.overrides)  # type: ignore[arg-type]


def load_settings(section: dict[str, Any]) -> InjectionSettings:
    """Validate the raw `[injection]` table."""
    for key, value in section.items():
        if key not in _KEYS:
            raise InjectionConfigError(key, f"unknown key (known: {', '.join(sorted(_KEYS))})")
        types = _KEYS[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            kinds = " or ".join(t.__name__ for t in types)
            raise InjectionConfigError(key, f"expected {kinds}, got {type(value).__name__}")
    for key in ("channels", "garak_probes"):
        if key in section and not all(isinstance(v, str) for v in section[key]):
            raise InjectionConfigError(key, "must be a list of strings")
    for key in ("max_tokens", "timeout_seconds", "garak_timeout_seconds"):
        if key in section and section[key] <= 0:
            raise InjectionConfigError(key, "must be positive")
    overrides = {}
    for key, value in section.items():
        if key.startswith("budget_"):
            if value < 0:
                raise InjectionConfigError(key, "must not be negative")
            overrides[key.removeprefix("budget_")] = value
    plain = {k: v for k, v in section.items() if not k.startswith("budget_")}
    for key in ("channels", "garak_probes"):
        if key in plain:
            plain[key] = tuple(plain[key])
    return InjectionSettings(**plain, overrides=overrides)
