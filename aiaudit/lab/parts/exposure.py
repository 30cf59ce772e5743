"""Exposure (Risk 1) additions to the lab deployments.

vulnerable: a second AI service of another kind, a real ChromaDB server, on 0.0.0.0 at a
  non-default port without auth (the LLM server is already on 0.0.0.0 without a key and with
  llama-cpp-python's permissive CORS); no firewall, no access log.
hardened: Caddy (Debian package) on the target's address with TLS from its internal CA,
  bearer-token auth (the lab users' tokens) and a JSON access log, in front of the two
  loopback-only services: the LLM server on :443 (whose own key Caddy adds upstream) and the
  lab agent on :8443 (which checks the user's token again); nftables in the target namespace
  dropping inbound traffic by default except SSH and the two proxy ports.
"""

from __future__ import annotations

import http.client
import os
import shutil
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from .. import nshttp, proc
from ..errors import LabError, require_module, require_tool
from ..fsutil import make_dir, write_file
from ..netns import NetNS
from . import PartContext

CHROMA_PORT = 8001  # not Chroma's default (8000, taken by the LLM server): found by extra_ports
PROXY_PORT = 443  # the LLM API
AGENT_PROXY_PORT = 8443  # the lab agent (the users' chat channel)
SSH_PORT = 22


def _ns(ctx: PartContext) -> NetNS:
    return NetNS(ctx.netns, "", "", ctx.host_addr, ctx.target_addr)


def _log_tail(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines()[-15:] if path.exists() else []
    return "\n".join(lines)


def _chroma_argv() -> list[str]:
    require_module("chromadb", "chromadb")
    script = Path(sys.executable).parent / "chroma"
    if script.exists():
        return [str(script)]
    found = shutil.which("chroma")
    if found:
        return [found]
    return [sys.executable, "-c", "from chromadb.cli.cli import app; app()"]


def start_chroma(ctx: PartContext) -> None:
    data = make_dir(ctx.lab / "chroma", ctx.dir_mode)
    log = ctx.lab / "logs" / "chroma.log"
    argv = [*_chroma_argv(), "run", "--path", str(data), "--host", "0.0.0.0",
            "--port", str(CHROMA_PORT)]
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False", CHROMA_TELEMETRY_DISABLED="true")
    ns = _ns(ctx)
    pid, started = proc.spawn(ns.exec_argv(*argv), log, env=env, cwd=ctx.lab)
    ctx.record("chroma", pid, started, "chroma run (ChromaDB server)")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _ = nshttp.request(ns, f"http://127.0.0.1:{CHROMA_PORT}/api/v2/heartbeat",
                                   timeout=2)
        if status == 200:
            return
        if not proc.is_alive(pid):
            break
        time.sleep(0.5)
    raise LabError("ChromaDB did not become ready; log tail:\n" + _log_tail(log))


CADDYFILE = """\
{{
	admin off
	skip_install_trust
	auto_https disable_redirects
	default_sni {addr}
	storage file_system {{
		root {data}
	}}
}}

(site) {{
	bind {addr}
	tls internal
	log {{
		output file {access_log} {{
			roll_disabled
		}}
		format json
	}}
}}

(refuse) {{
	header WWW-Authenticate "Bearer realm=\\"aiaudit-lab\\""
	respond "authentication required" 401
}}

https://{addr}:{port} {{
	import site
	@authorized {{
{matcher}
	}}
	handle @authorized {{
		reverse_proxy 127.0.0.1:{llm_port} {{
			header_up Authorization "Bearer {llm_key}"
		}}
	}}
	handle {{
		import refuse
	}}
}}

https://{addr}:{agent_proxy_port} {{
	import site
	@authorized {{
{matcher}
	}}
	handle @authorized {{
		reverse_proxy 127.0.0.1:{agent_port}
	}}
	handle {{
		import refuse
	}}
}}

# Any other Host (e.g. a "Host: localhost" bypass attempt) is refused and logged too:
# without this block Caddy answers an empty 200 that no access log records.
https://:{port}, https://:{agent_proxy_port} {{
	import site
	respond "misdirected request" 421
}}
"""


def _matcher(tokens: list[str]) -> str:
    """Header matcher lines: values of one field are OR-ed, so any listed token passes."""
    return "\n".join(f'\t\theader Authorization "Bearer {t}"' for t in tokens)


def _wait_proxy(ctx: PartContext, port: int, token: str, pid: int, log: Path) -> None:
    """Ready = the proxy answers /v1/models with the token over TLS (from the auditor side)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 30
    last: Any = None
    while time.monotonic() < deadline:
        conn = http.client.HTTPSConnection(ctx.target_addr, port, timeout=3, context=context)
        try:
            conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                return
            last = f"status {resp.status}"
        except OSError as exc:
            last = exc
        finally:
            conn.close()
        if not proc.is_alive(pid):
            break
        time.sleep(0.5)
    raise LabError(f"Caddy did not proxy :{port}/v1/models ({last}); log tail:\n{_log_tail(log)}")


def start_caddy(ctx: PartContext) -> Path:
    caddy = require_tool("caddy", "caddy")
    key_file = ctx.lab / "llm-api.key"
    if not key_file.exists():
        raise LabError(f"hardened LLM key file {key_file} is missing")
    home = make_dir(ctx.lab / "caddy", 0o700)
    tokens = [path.read_text().strip() for path in ctx.user_token_files.values()]
    access_log = ctx.lab / "logs" / "caddy-access.log"
    caddyfile = write_file(home / "Caddyfile", CADDYFILE.format(
        addr=ctx.target_addr, port=PROXY_PORT, agent_proxy_port=AGENT_PROXY_PORT,
        data=home / "data", access_log=access_log, matcher=_matcher(tokens),
        llm_port=ctx.llm_port, llm_key=key_file.read_text().strip(),
        agent_port=ctx.agent_port), 0o600)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"))
    log = ctx.lab / "logs" / "caddy.log"
    pid, started = proc.spawn(_ns(ctx).exec_argv(caddy, "run", "--config", str(caddyfile),
                                                 "--adapter", "caddyfile"), log, env=env,
                              cwd=home)
    ctx.record("caddy", pid, started, "caddy run (TLS + auth proxy)")
    for port in (PROXY_PORT, AGENT_PROXY_PORT):
        _wait_proxy(ctx, port, tokens[0], pid, log)
    return access_log


NFT_RULES = """\
table inet aiaudit_fw {{
	chain input {{
		type filter hook input priority 0; policy drop;
		iif "lo" accept
		ct state established,related accept
		tcp dport {{ {ports} }} accept
	}}
}}
"""


def apply_firewall(ctx: PartContext) -> None:
    nft = require_tool("/usr/sbin/nft", "nftables")
    ports = ", ".join(str(p) for p in (SSH_PORT, PROXY_PORT, AGENT_PROXY_PORT))
    rules = write_file(ctx.lab / "nftables.conf", NFT_RULES.format(ports=ports), 0o600)
    proc.run(_ns(ctx).exec_argv(nft, "-f", str(rules)))


def build(ctx: PartContext) -> dict[str, Any]:
    if not ctx.hardened:
        start_chroma(ctx)
        return {"exposure": {"extra_ports": [CHROMA_PORT]}}
    access_log = start_caddy(ctx)
    apply_firewall(ctx)  # after the readiness checks from outside: it admits both ports anyway
    users = ctx.user_token_files
    return {
        # The users reach the agent only through the proxy: point the suite's chat channel
        # at it (an entry named like an existing one updates it, see parts.merge_toml).
        "endpoints": [{"name": "lab-agent", "url": f"https://{ctx.target_addr}:"
                       f"{AGENT_PROXY_PORT}/v1/chat/completions"}],
        "exposure": {"proxy_urls": [f"https://{ctx.target_addr}:{PROXY_PORT}/",
                                    f"https://{ctx.target_addr}:{AGENT_PROXY_PORT}/"],
                     # one credential must pass both sites: the proxy admits the lab users
                     "proxy_auth_file": str(users.get("alice") or next(iter(users.values())))},
        "paths": {"access_logs": [str(access_log)]},
    }
