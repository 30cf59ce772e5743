"""The supply-chain area's command-line options (registered by aiaudit/plugin.py)."""

from __future__ import annotations

from typing import Any


def add_supply_chain_options(group: Any) -> None:
    group.addoption("--approve-baseline", action="store_true", default=False,
                    help="SUP-07: record the current MCP servers and skills as the approved "
                    "baseline (after reviewing them); later runs fail on any change")
    group.addoption("--mcp-list-stdio", action="store_true", default=False,
                    help="SUP-07: start each configured stdio MCP server in a bubblewrap "
                    "sandbox (no network, read-only filesystem, no environment), list its "
                    "tools, prompts and resources, and kill it (local targets only)")
