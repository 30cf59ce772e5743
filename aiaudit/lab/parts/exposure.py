"""Exposure (Risk 1) additions to the lab deployments.

vulnerable: a second AI service of another kind, a real ChromaDB server, on 0.0.0.0 at a
  non-default port without auth (the LLM server is already on 0.0.0.0 without a key and with
  llama-cpp-python's permissive CORS); no firewall, no access log.
hardened: Caddy (Debian package) on the target's address with TLS from its internal CA,
  bearer-token auth and a JSON access log, in front of the LLM server on 127.0.0.1 (whose own
  key Caddy adds upstream); nftables in the target namespace dropping inbound traffic by
  default except SSH and the proxy port.
"""

from __future__ import annotations

import http.client
import os
import secrets
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
PROXY_PORT = 443
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

https://{addr}:{port} {{
	import site
	@unauthenticated not header Authorization "Bearer {token}"
	handle @unauthenticated {{
		header WWW-Authenticate "Bearer realm=\\"aiaudit-lab\\""
		respond "authentication required" 401
	}}
	handle {{
		reverse_proxy 127.0.0.1:{llm_port} {{
			header_up Authorization "Bearer {llm_key}"
		}}
	}}
}}

# Any other Host (e.g. a "Host: localhost" bypass attempt) is refused and logged too:
# without this block Caddy answers an empty 200 that no access log records.
https://:{port} {{
	import site
	respond "misdirected request" 421
}}
"""


def _wait_proxy(ctx: PartContext, token: str, pid: int, log: Path) -> None:
    """Ready = the proxy answers /v1/models with the token over TLS (from the auditor side)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + 30
    last: Any = None
    while time.monotonic() < deadline:
        conn = http.client.HTTPSConnection(ctx.target_addr, PROXY_PORT, timeout=3,
                                           context=context)
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
    raise LabError(f"Caddy did not proxy /v1/models ({last}); log tail:\n{_log_tail(log)}")


def start_caddy(ctx: PartContext) -> tuple[Path, Path]:
    caddy = require_tool("caddy", "caddy")
    key_file = ctx.lab / "llm-api.key"
    if not key_file.exists():
        raise LabError(f"hardened LLM key file {key_file} is missing")
    home = make_dir(ctx.lab / "caddy", 0o700)
    token = secrets.token_urlsafe(32)
    token_file = write_file(ctx.lab / "proxy.token", token + "\n", 0o600)
    access_log = ctx.lab / "logs" / "caddy-access.log"
    caddyfile = write_file(home / "Caddyfile", CADDYFILE.format(
        addr=ctx.target_addr, port=PROXY_PORT, data=home / "data", access_log=access_log,
        token=token, llm_port=ctx.llm_port, llm_key=key_file.read_text().strip()), 0o600)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"))
    log = ctx.lab / "logs" / "caddy.log"
    pid, started = proc.spawn(_ns(ctx).exec_argv(caddy, "run", "--config", str(caddyfile),
                                                 "--adapter", "caddyfile"), log, env=env,
                              cwd=home)
    ctx.record("caddy", pid, started, "caddy run (TLS + auth proxy)")
    _wait_proxy(ctx, token, pid, log)
    return token_file, access_log


NFT_RULES = """\
table inet aiaudit_fw {{
	chain input {{
		type filter hook input priority 0; policy drop;
		iif "lo" accept
		ct state established,related accept
		tcp dport {{ {ssh}, {proxy} }} accept
	}}
}}
"""


def apply_firewall(ctx: PartContext) -> None:
    nft = require_tool("/usr/sbin/nft", "nftables")
    rules = write_file(ctx.lab / "nftables.conf", NFT_RULES.format(ssh=SSH_PORT,
                                                                   proxy=PROXY_PORT), 0o600)
    proc.run(_ns(ctx).exec_argv(nft, "-f", str(rules)))


def build(ctx: PartContext) -> dict[str, Any]:
    if not ctx.hardened:
        start_chroma(ctx)
        return {"exposure": {"extra_ports": [CHROMA_PORT]}}
    token_file, access_log = start_caddy(ctx)
    apply_firewall(ctx)  # after the readiness check from outside: it admits 443 anyway
    return {
        "exposure": {"proxy_urls": [f"https://{ctx.target_addr}:{PROXY_PORT}/"],
                     "proxy_auth_file": str(token_file)},
        "paths": {"access_logs": [str(access_log)]},
    }
