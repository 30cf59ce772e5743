"""`--target=local` reaches IPv6-only listeners: a socket bound to `[::]` with IPV6_V6ONLY
or to `[::1]` is never reached by the IPv4 probes (127.0.0.1 and the host name's IPv4
addresses), and it may be another service than the IPv4 one on the same port.

Real sockets on this machine, real `ss -H -ltnp` (the host side a local audit reads).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from aiaudit.config import load_config
from aiaudit.context import AuditContext
from aiaudit.exposure import providers
from aiaudit.exposure.listeners import parse_ss
from aiaudit.target import parse_target
from selftests import hostile_more, hostile_third
from selftests.hostile_server import HostileServer, not_read_only


@contextlib.contextmanager
def _config(port: int):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "audit.toml"
        cfg.write_text(f"[exposure]\nextra_ports = [{port}]\nhost_budget_seconds = 3\n")
        yield cfg


def test_ipv6_only_listeners_from_real_ss():
    """Which listeners the IPv4 probes miss, from real `ss` lines: `[::]` (IPV6_V6ONLY) and
    `[::1]` through ::1, a global IPv6 address itself; the dual-stack `*`, IPv4, a
    link-local address (needs a scope) and ports outside the scan are left out."""
    sockets = parse_ss("LISTEN 0 128 [::]:47001 [::]:*\n"
                       "LISTEN 0 128 *:47002 *:*\n"
                       "LISTEN 0 128 [::1]:47003 [::]:*\n"
                       "LISTEN 0 128 [2001:db8::5]:47004 [::]:*\n"
                       "LISTEN 0 128 [fe80::1%eth0]:47005 [::]:*\n"
                       "LISTEN 0 128 0.0.0.0:47006 0.0.0.0:*\n"
                       "LISTEN 0 128 [::]:47999 [::]:*\n")
    plan = providers.ipv6_only_ports(sockets, [47001, 47002, 47003, 47004, 47005, 47006])
    assert plan == {"::1": [47001, 47003], "2001:db8::5": [47004]}


def test_local_audit_probes_an_ipv6_only_listener_beside_an_ipv4_one():
    """127.0.0.1:P is a gateway answering 401 everywhere; [::]:P (IPV6_V6ONLY) is an open
    Ollama on the same port. A local audit must report both (before: only the IPv4 wall,
    the open Ollama never probed)."""
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    wall = HostileServer(persona=hostile_third.WallEverywhere())
    ollama = HostileServer(persona=hostile_more.OpenOllama(), port=wall.port, host="::")
    port = wall.port
    with wall, ollama:
        seen = subprocess.run(["ss", "-H", "-ltn", f"sport = :{port}"], capture_output=True,
                              text=True).stdout
        assert f"[::]:{port}" in seen and f"127.0.0.1:{port}" in seen, seen
        with _config(port) as cfg:
            ctx = AuditContext(parse_target("local"), load_config(str(cfg)))
            found = {s.case_id: s for s in providers.ai_endpoints(ctx) if s.port == port}
            assert f"Ollama@[::1]:{port}" in found, sorted(found)
            assert any(c.endswith(f"@127.0.0.1:{port}") for c in found), sorted(found)
            state = providers.auth_state(ctx, found[f"Ollama@[::1]:{port}"])
        assert state.state == "open" and state.reads[0].startswith("GET /api/tags -> 200")
    assert ollama.requests and not not_read_only(ollama.requests)
