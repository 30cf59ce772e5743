"""Area additions to the lab deployments (Caddy, firewall, skills, stores, ...).

Each area owns one module here with `build(ctx: PartContext) -> dict`. It runs after the
base deployment (namespace, sshd, LLM server, lab agent) is up and before file modes are
applied and audit.toml is written. The dict it returns is merged into audit.toml: tables
merge key by key (lists are extended), arrays of tables are appended, except that an entry
whose `name` matches an existing entry's updates that entry key by key (e.g. a part that
publishes the lab agent through a proxy returns `endpoints = [{name = "lab-agent", url =
...}]`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Order matters only where a part needs another's output; none does yet.
PART_MODULES = ("exposure", "storage", "supply_chain", "injection")


@dataclass
class PartContext:
    name: str  # "vulnerable" | "hardened"
    hardened: bool
    netns: str
    host_addr: str  # the auditor's side of the veth
    target_addr: str
    lab: Path  # the deployment's lab directory
    hermes_home: Path  # the agent's state dir (Hermes layout)
    canary: str
    user_token_files: dict[str, Path]
    llm_port: int
    agent_port: int
    # record(process_name, pid, start_time, argv_hint): `down` stops recorded processes
    record: Callable[[str, int, int, str], None]
    # commands `down` runs (before the namespace is deleted), e.g. ["umount", path]
    cleanup: list[list[str]] = field(default_factory=list)
    file_mode: int = 0o644
    dir_mode: int = 0o755


def load_parts() -> list[Any]:
    """The area part modules that exist (areas add theirs as they land)."""
    parts = []
    for name in PART_MODULES:
        try:
            parts.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    return parts


def merge_toml(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge a part's audit.toml additions into the document."""
    for key, value in extra.items():
        current = base.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            for k, v in value.items():
                if isinstance(current.get(k), list) and isinstance(v, list):
                    current[k] = current[k] + [x for x in v if x not in current[k]]
                else:
                    current[k] = v
        elif isinstance(current, list) and isinstance(value, list):
            base[key] = _merge_tables(current, value)
        else:
            base[key] = value
    return base


def _merge_tables(current: list[Any], extra: list[Any]) -> list[Any]:
    """Append `extra`'s entries; one named like an existing table updates that table."""
    out = list(current)
    for entry in extra:
        name = entry.get("name") if isinstance(entry, dict) else None
        match = next((t for t in out if name is not None and isinstance(t, dict)
                      and t.get("name") == name), None)
        if match is None:
            out.append(entry)
        else:
            out[out.index(match)] = {**match, **entry}
    return out
