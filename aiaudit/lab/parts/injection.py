"""Injection (Risk 3) additions to the lab deployments.

Both: `[injection]` tells the suite which endpoint is the user-facing chat channel (the
lab agent; the raw LLM server is an internal backend, audited by the exposure area) and
where the target reaches the auditor's callback listener (the host side of the veth).
hardened: the agent listens on 127.0.0.1 only and the namespace firewall admits only SSH
and the LLM proxy, so users could not reach it at all. A plain-HTTP Caddy reverse proxy on
the target's address and the agent's port forwards to it (the agent still checks each
user's bearer token), and the firewall admits that port.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .. import nshttp, proc
from ..errors import LabError, require_tool
from ..fsutil import make_dir, write_file
from ..netns import NetNS
from . import PartContext

CADDYFILE = """\
{{
	admin off
	auto_https off
	storage file_system {{
		root {data}
	}}
}}

http://{addr}:{port} {{
	bind {addr}
	reverse_proxy 127.0.0.1:{port}
}}
"""


def _ns(ctx: PartContext) -> NetNS:
    return NetNS(ctx.netns, "", "", ctx.host_addr, ctx.target_addr)


def _admit_port(ctx: PartContext, port: int) -> None:
    """Accept the agent port in the exposure part's nftables table, when it exists."""
    nft = require_tool("/usr/sbin/nft", "nftables")
    listed = proc.run(_ns(ctx).exec_argv(nft, "list", "tables"), check=False)
    if "aiaudit_fw" in listed:
        proc.run(_ns(ctx).exec_argv(nft, "add", "rule", "inet", "aiaudit_fw", "input", "tcp",
                                    "dport", str(port), "accept"))


def start_agent_proxy(ctx: PartContext) -> None:
    caddy = require_tool("caddy", "caddy")
    home = make_dir(ctx.lab / "agent-proxy", 0o700)
    caddyfile = write_file(home / "Caddyfile", CADDYFILE.format(
        addr=ctx.target_addr, port=ctx.agent_port, data=home / "data"), 0o600)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"))
    log = ctx.lab / "logs" / "agent-proxy.log"
    pid, started = proc.spawn(_ns(ctx).exec_argv(caddy, "run", "--config", str(caddyfile),
                                                 "--adapter", "caddyfile"), log, env=env,
                              cwd=home)
    ctx.record("agent-proxy", pid, started, "caddy run (agent reverse proxy)")
    _admit_port(ctx, ctx.agent_port)
    url = f"http://{ctx.target_addr}:{ctx.agent_port}/health"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _ = nshttp.request(_ns(ctx), url, timeout=2)
        if status == 200:
            return
        if not proc.is_alive(pid):
            break
        time.sleep(0.3)
    tail = log.read_text(errors="replace").splitlines()[-10:] if log.exists() else []
    raise LabError("agent proxy did not answer /health; log tail:\n" + "\n".join(tail))


def build(ctx: PartContext) -> dict[str, Any]:
    if ctx.hardened:
        start_agent_proxy(ctx)
    return {"injection": {"channels": ["lab-agent"], "callback_host": ctx.host_addr}}
