"""Light fleet hosts: many small AI hosts on one machine for fleet audits and their benchmark.

Each host has network, PID and mount namespaces of its own (its `ps` shows its processes,
its /root and /home are its own, empty) with the lab's real sshd (key login as root) and a
real AI server: llama-cpp-python's OpenAI-compatible server with the lab model on all
interfaces, no key (the common "someone started a model server" host). That is what an SSH
audit of an AI host touches: a login, listeners, processes, an HTTP API to fingerprint.
Hosts are numbered by fleet slot (9-20 by default, apart from the full lab's slots 0-8):
namespace ``aiaudit-fl{N}``, subnet 10.77.{10N+5}.0/24. `open_service` starts a second
server on a host (a change between two audits) and `close_service` stops it again.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import llm, netns, proc, sshd
from .errors import LabError, require_root, require_tool
from .fsutil import write_file

DEFAULT_SLOTS = tuple(range(9, 21))
MASK_ROOT = "mount -t tmpfs -o mode=0700,size=4m aiaudit-fleet-root /root"
MASK_HOME = "mount -t tmpfs -o mode=0755,size=4m aiaudit-fleet-home /home"
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


def _script(host: FleetHost) -> str:
    """What the host's init (pid 1 of its own PID namespace) runs: private /root and /home
    (the machine's homes hold other deployments' agent files) and a user list of the
    machine's system accounts only (`system_accounts`), sshd, the model server."""
    files, lab = host.files, host.lab
    llm_argv = " ".join(shlex.quote(a) for a in llm.open_argv("0.0.0.0", llm.PORT))
    keep = Path(sys.prefix).resolve()  # the interpreter may live below /root (pyenv)
    keep_root = keep.is_relative_to("/root")
    rel = shlex.quote(str(keep.relative_to("/root"))) if keep_root else ""
    restore = (f"mount --bind /root /mnt && {MASK_ROOT} && mkdir -p /root/{rel} && "
               f"mount --bind /mnt/{rel} /root/{rel} && umount -l /mnt"
               if keep_root else MASK_ROOT)
    users = shlex.quote(str(lab / "passwd"))
    return (f"{restore} && {MASK_HOME} && mount --bind {users} /etc/passwd || exit 1\n"
            f"{sshd.SSHD} -D -e -f {shlex.quote(str(files.sshd_config))} "
            f">>{shlex.quote(str(lab / 'sshd.log'))} 2>&1 &\n"
            f"{llm_argv} >>{shlex.quote(str(lab / 'llm.log'))} 2>&1 &\n"
            "wait\n")


def system_accounts(passwd: str) -> str:
    """The machine's /etc/passwd without its login users (uid 1000 and up): the self-tests
    add accounts whose homes lie in /tmp and hold real agent state, which a host of its own
    would not list (every fleet host is the same small AI host, whatever ran before)."""
    keep = []
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[2].isdigit() and (int(fields[2]) < 1000
                                                         or fields[0] == "nobody"):
            keep.append(line)
    return "\n".join(keep) + "\n"


def _start(slot: int, root: Path) -> FleetHost:
    """The host's own network, PID and mount namespaces: `ps` over its SSH shows its own
    processes only, as on a machine of its own (unshare --kill-child: stopping the
    unshare process stops everything inside)."""
    ns = host_ns(slot)
    netns.create(ns)
    lab = root / f"fl{slot}"
    lab.mkdir(parents=True)
    files = sshd.prepare(lab, ns, hardened=False)
    host = FleetHost(slot, ns, lab, files, llm.LlmServer("0.0.0.0", llm.PORT, None))
    test = subprocess.run(ns.exec_argv(sshd.SSHD, "-t", "-f", str(files.sshd_config)),
                          capture_output=True, text=True)
    if test.returncode != 0:
        raise LabError(f"sshd config rejected: {test.stderr.strip()}")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    write_file(lab / "passwd", system_accounts(Path("/etc/passwd").read_text()), 0o644)
    script = write_file(lab / "init.sh", _script(host), 0o755)
    host.pids["init"] = proc.spawn(ns.exec_argv(
        require_tool("unshare", "util-linux"), "--pid", "--fork", "--kill-child",
        "--mount-proc", "sh", str(script)), lab / "init.log")
    return host


def init_pid(host: FleetHost) -> int:
    """Pid (as this machine sees it) of the host's pid 1: the unshare process's child."""
    pid, _ = host.pids["init"]
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    if not children:
        raise LabError(f"fleet host {host.ns.name}: its init is gone (see {host.lab})")
    return int(children[0])


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
            pid, _ = host.pids["init"]
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
    """A second model server on all interfaces (port 8081), started inside the host's
    namespaces like its first one: a new exposed service."""
    log = host.lab / "extra-llm.log"
    pid, started = proc.spawn([require_tool("nsenter", "util-linux"), "-t",
                               str(init_pid(host)), "-p", "-m", "-n", "--",
                               *llm.open_argv("0.0.0.0", EXTRA_PORT)], log)
    host.pids["extra"] = (pid, started)
    llm.wait_ready(host.ns, llm.LlmServer("0.0.0.0", EXTRA_PORT, None), pid, log)


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
