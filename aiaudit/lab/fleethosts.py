"""Light fleet hosts: many small AI hosts on one machine for fleet audits and their benchmark.

Each host is a network namespace of its own with the lab's real sshd (key login as root)
and a real AI server: llama-cpp-python's OpenAI-compatible server with the lab model on all
interfaces, no key (the common "someone started a model server" host). That is what an SSH
audit of an AI host touches: a login, listeners, processes, an HTTP API to fingerprint.
Hosts are numbered by fleet slot (9-20 by default, apart from the full lab's slots 0-8):
namespace ``aiaudit-fl{N}``, subnet 10.77.{10N+5}.0/24. `open_service` starts a second
server on a host (a change between two audits) and `close_service` stops it again.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import llm, netns, proc, sshd
from .errors import LabError, require_root

DEFAULT_SLOTS = tuple(range(9, 21))
EXTRA_PORT = 8081


@dataclass
class FleetHost:
    slot: int
    ns: netns.NetNS
    lab: Path
    files: sshd.SshFiles
    server: llm.LlmServer
    pids: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def spec(self) -> str:
        return f"ssh://root@{self.ns.target_addr}:{sshd.PORT}"


def host_ns(slot: int) -> netns.NetNS:
    if not 1 <= slot <= 24:
        raise LabError(f"fleet slot {slot} outside 1-24 (10.77.{{10N+5}} must stay < 256)")
    return netns.NetNS(f"aiaudit-fl{slot}", f"aa-fl{slot}-h", f"aa-fl{slot}-t",
                       f"10.77.{10 * slot + 5}.1", f"10.77.{10 * slot + 5}.2")


def _start(slot: int, root: Path) -> FleetHost:
    ns = host_ns(slot)
    netns.create(ns)
    lab = root / f"fl{slot}"
    lab.mkdir(parents=True)
    files = sshd.prepare(lab, ns, hardened=False)
    host = FleetHost(slot, ns, lab, files, llm.LlmServer("0.0.0.0", llm.PORT, None))
    host.pids["sshd"] = sshd.start(files, ns, lab / "sshd.log")
    server, pid, started = llm.start(ns, lab, "0.0.0.0", None, lab / "llm.log")
    host.server = server
    host.pids["llm"] = (pid, started)
    return host


def up(root: Path, slots: tuple[int, ...] = DEFAULT_SLOTS) -> list[FleetHost]:
    """Start one host per slot (all processes first, then wait for each: the model loads
    in parallel); on any failure every host started so far is taken down again."""
    require_root()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, mode=0o755)
    hosts: list[FleetHost] = []
    try:
        for slot in slots:
            hosts.append(_start(slot, root))
        for host in hosts:
            sshd.verify(host.files, host.ns)
            pid, _ = host.pids["llm"]
            llm.wait_ready(host.ns, host.server, pid, host.lab / "llm.log")
    except BaseException:
        down(hosts, slots)
        raise
    return hosts


def ssh_config(hosts: list[FleetHost], path: Path) -> Path:
    """One ssh_config for the whole fleet (each host's own key and known_hosts)."""
    path.write_text("".join(h.files.ssh_config.read_text() for h in hosts))
    return path


def open_service(host: FleetHost) -> None:
    """A second model server on all interfaces (port 8081): a new exposed service."""
    server, pid, started = llm.start(host.ns, host.lab / "extra", "0.0.0.0", None,
                                     host.lab / "extra" / "llm.log", port=EXTRA_PORT)
    host.pids["extra"] = (pid, started)
    llm.wait_ready(host.ns, server, pid, host.lab / "extra" / "llm.log")


def close_service(host: FleetHost) -> None:
    pid, started = host.pids.pop("extra")
    if not proc.stop_group(pid, started):
        raise LabError(f"could not stop the extra server (pid {pid}) on {host.ns.name}")


def down(hosts: list[FleetHost], slots: tuple[int, ...] = ()) -> None:
    """Stop every host's processes and remove its namespace (also slots never started)."""
    for host in hosts:
        for pid, started in host.pids.values():
            proc.stop_group(pid, started)
    for slot in {*slots, *(h.slot for h in hosts)}:
        netns.destroy(host_ns(slot))
