"""The target "host" of a deployment: a network namespace joined to the host by a veth pair.

A namespace gives the auditor a real remote address (SSH, open ports, firewalling) on a
single machine, and two namespaces let both deployments run side by side.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from . import proc
from .errors import require_tool


@dataclass(frozen=True)
class NetNS:
    """Names and addresses of one namespace; veth names stay within IFNAMSIZ (15)."""

    name: str
    host_veth: str
    target_veth: str
    host_addr: str
    target_addr: str
    prefix: int = 24

    def exec_argv(self, *argv: str) -> list[str]:
        """argv that runs ``argv`` inside the namespace (``ip netns exec`` execs in place)."""
        return [require_tool("ip", "iproute2"), "netns", "exec", self.name, *argv]


def exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def create(ns: NetNS) -> None:
    """Create the namespace, the veth pair and addresses, and bring ``lo`` up inside."""
    ip = require_tool("ip", "iproute2")
    destroy(ns)
    proc.run([ip, "netns", "add", ns.name])
    proc.run([ip, "link", "add", ns.host_veth, "type", "veth", "peer", "name", ns.target_veth])
    proc.run([ip, "link", "set", ns.target_veth, "netns", ns.name])
    proc.run([ip, "addr", "add", f"{ns.host_addr}/{ns.prefix}", "dev", ns.host_veth])
    proc.run([ip, "link", "set", ns.host_veth, "up"])
    inside = [ip, "-n", ns.name]
    proc.run([*inside, "addr", "add", f"{ns.target_addr}/{ns.prefix}", "dev", ns.target_veth])
    proc.run([*inside, "link", "set", ns.target_veth, "up"])
    proc.run([*inside, "link", "set", "lo", "up"])


def pids(name: str) -> list[int]:
    """Processes currently inside namespace ``name`` (stragglers ``down`` must not leave)."""
    if not exists(name):
        return []
    out = proc.run([require_tool("ip", "iproute2"), "netns", "pids", name], check=False)
    return [int(tok) for tok in out.split() if tok.isdigit() and int(tok) != os.getpid()]


def destroy(ns: NetNS) -> None:
    """Remove namespace and host-side veth; a no-op when neither exists."""
    ip = require_tool("ip", "iproute2")
    if exists(ns.name):
        proc.stop_pids(pids(ns.name))
        proc.run([ip, "netns", "del", ns.name], check=False)
    # Deleting the namespace destroys the pair asynchronously; do it ourselves, then wait.
    if link_exists(ns.host_veth):
        proc.run([ip, "link", "del", ns.host_veth], check=False)
    deadline = time.monotonic() + 5
    while (link_exists(ns.host_veth) or exists(ns.name)) and time.monotonic() < deadline:
        time.sleep(0.05)
