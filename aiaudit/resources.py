"""Discovered resources that controls are parametrized over (one test case per resource).

A test asks for them with `@pytest.mark.resources(argname="provider")`. Discovery that
cannot run yields one case that reports NOT_APPLICABLE or ERROR with the reason, so a
control never silently disappears from the report.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiaudit.status import Status

Provider = Callable[[Any], list[tuple[str, Any]]]


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    func: Provider
    empty_reason: str


@dataclass(frozen=True)
class Unavailable:
    """Stands in for a resource that could not be discovered."""

    status: Status
    reason: str
    trace: str = ""  # the traceback when discovery itself broke (an internal error)


PROVIDERS: dict[str, ProviderSpec] = {}


def provider(name: str, empty_reason: str) -> Callable[[Provider], Provider]:
    """Register a discovery function `f(ctx) -> [(readable_id, resource), ...]`."""

    def register(func: Provider) -> Provider:
        PROVIDERS[name] = ProviderSpec(name, func, empty_reason)
        return func

    return register


# Work an area starts as soon as collection knows which controls the run holds, before
# the first case (the supply chain's skill review, in forked workers while SUP-01/02 run):
# (controls, starter(ctx)). A starter must not raise; what it starts is awaited by the
# test that needs it.
AFTER_COLLECTION: list[tuple[frozenset[str], Callable[[Any], None]]] = []


def after_collection(*controls: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register `starter(ctx)`, called once after collection when one of `controls` runs."""

    def register(func: Callable[[Any], None]) -> Callable[[Any], None]:
        AFTER_COLLECTION.append((frozenset(controls), func))
        return func

    return register


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._:@/+=-]+")


def safe_id(text: str, limit: int = 200) -> str:
    """A test id that is readable and can never carry markup into the report. A longer one
    keeps its head and its tail (a path's last parts tell cases apart; cutting the tail
    made `app:/a/b/state` read as `app:/a/b`, another dir) with a short hash between."""
    cleaned = _UNSAFE_ID.sub("_", str(text)).strip("_") or "item"
    if len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(cleaned.encode()).hexdigest()[:6]
    keep = max(limit - 10, 2)  # "..." + "~" + 6 hex
    head = keep * 2 // 3  # the product and the dir it lives in, then the last parts
    return f"{cleaned[:head]}...{cleaned[len(cleaned) - (keep - head):]}~{digest}"


def unique_ids(ids: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        n = seen.get(i, 0)
        seen[i] = n + 1
        out.append(i if n == 0 else f"{i}#{n + 1}")
    return out
