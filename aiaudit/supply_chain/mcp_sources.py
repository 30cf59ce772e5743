"""Where SUP-07 gets MCP descriptions besides bundle manifests: captured snapshots and, when
`[supply_chain] mcp_list_remote = true`, the remote servers' own lists (mcp_listing.py).

A snapshot that names a configured server (`"server": NAME`) gives that server its
descriptions; any other snapshot is a subject of its own (`mcp:snapshot/NAME`), so a
snapshot alone is enough to baseline and judge a server's descriptions.
"""

from __future__ import annotations

import posixpath

from aiaudit.hostfs import HostFS
from aiaudit.status import CouldNotCheck
from aiaudit.supply_chain import mcp, mcp_listing
from aiaudit.supply_chain.discovery import read_text
from aiaudit.supply_chain.settings import Settings

Servers = list[mcp.McpServer | mcp.McpConfigProblem]


def add_listings(fs: HostFS, servers: Servers, settings: Settings,
                 list_stdio: bool = False) -> Servers:
    by_name = {s.name: s for s in servers if isinstance(s, mcp.McpServer)}
    out = list(servers)
    for path in settings.mcp_snapshots:
        try:
            name, tools = mcp_listing.parse_snapshot(read_text(fs, path))
        except (ValueError, CouldNotCheck) as exc:
            out.append(mcp.McpConfigProblem("snapshot", path, f"MCP snapshot {path}: {exc}"))
            continue
        target = by_name.get(name or "")
        if target is None:
            target = mcp.McpServer(client="snapshot", config_path=path,
                                   name=name or posixpath.splitext(posixpath.basename(path))[0],
                                   transport="snapshot")
            out.append(target)
        target.tools = {**target.tools, **tools}
        target.tools_source = f"snapshot {path}"
    if settings.mcp_list_remote:
        for server in by_name.values():
            if not server.url or server.tools_source.startswith("snapshot"):
                continue
            transport = "sse" if server.transport == "sse" else "http"
            try:
                server.tools = mcp_listing.list_remote(server.url, transport,
                                                       _header_values(server))
                server.tools_source = f"{transport} listing of {server.url}"
            except RuntimeError as exc:
                server.list_error = str(exc)  # type: ignore[attr-defined]
    if list_stdio:  # --mcp-list-stdio: local targets only, in the sandbox
        for server in by_name.values():
            if server.url or not server.command or server.tools_source.startswith("snapshot"):
                continue
            try:
                server.tools = mcp_listing.list_stdio(server.command, server.args)
                server.tools_source = "stdio listing in a bwrap sandbox (no network, read-only)"
            except (RuntimeError, ValueError) as exc:
                server.list_error = str(exc)  # type: ignore[attr-defined]
    return out


def _header_values(server: mcp.McpServer) -> dict[str, str]:
    """Headers sent to list a remote server: only literal ones (references stay unresolved;
    the suite never reads the client's secret store)."""
    return {k: v for k, v in server.headers.items() if not mcp._REFERENCE.match(v)}
