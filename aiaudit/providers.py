"""Each area's resource providers, imported when a test first asks for one of them.

An audit of one area does not pay for importing the others (the exposure area's providers
bring requests and the HTTP client: about half a second of every start). A provider name
is looked up in the asking test's own area first (`tests_<area>/`), then in every area.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from aiaudit import resources as res

AREAS = ("exposure", "injection", "storage", "supply_chain")


def provider_spec(name: str, test_path: Path | None = None) -> res.ProviderSpec:
    """The registered provider `name`, importing the areas' providers as needed (KeyError
    when no area registers it)."""
    if name not in res.PROVIDERS:
        area = test_path.parent.name.removeprefix("tests_") if test_path else ""
        for candidate in ([area] if area in AREAS else []) + list(AREAS):
            importlib.import_module(f"aiaudit.{candidate}.providers")
            if name in res.PROVIDERS:
                break
    return res.PROVIDERS[name]
