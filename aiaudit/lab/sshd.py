"""A real OpenSSH server inside the target namespace plus the client files for the auditor.

The suite logs in over SSH like it would on a customer host, so the lab generates its own
host key, client key, ``known_hosts`` and ``ssh_config`` and never touches ``~/.ssh`` or
the system sshd configuration.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import proc
from .errors import LabError, require_tool
from .fsutil import make_dir, world_writable_ancestor, write_file
from .netns import NetNS

SSHD = "/usr/sbin/sshd"
PORT = 22

# Extra server options only the hardened deployment gets (the vulnerable one keeps defaults).
HARDENED_OPTIONS = """\
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
MaxAuthTries 3
LoginGraceTime 30
PermitEmptyPasswords no
PermitUserEnvironment no
"""
VULNERABLE_OPTIONS = """\
X11Forwarding yes
AllowTcpForwarding yes
"""


@dataclass(frozen=True)
class SshFiles:
    """Paths of everything sshd and the auditor's ssh client need."""

    server_dir: Path
    sshd_config: Path
    host_key: Path
    authorized_keys: Path
    pid_file: Path
    client_key: Path
    known_hosts: Path
    ssh_config: Path

    @classmethod
    def under(cls, lab: Path) -> SshFiles:
        server = lab / "sshd"
        return cls(
            server_dir=server,
            sshd_config=server / "sshd_config",
            host_key=server / "ssh_host_ed25519_key",
            authorized_keys=server / "authorized_keys",
            pid_file=server / "sshd.pid",
            client_key=lab / "client_key",
            known_hosts=lab / "known_hosts",
            ssh_config=lab / "ssh_config",
        )


def _keygen(path: Path, comment: str) -> str:
    """New passphrase-less ed25519 key at ``path``; returns the public key line."""
    keygen = require_tool("ssh-keygen", "openssh-client")
    for stale in (path, path.with_name(path.name + ".pub")):
        stale.unlink(missing_ok=True)
    proc.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    os.chmod(path, 0o600)
    return path.with_name(path.name + ".pub").read_text().strip()


def prepare(lab: Path, ns: NetNS, hardened: bool) -> SshFiles:
    """Generate keys and write sshd_config, authorized_keys, known_hosts and ssh_config."""
    require_tool(SSHD, "openssh-server")
    require_tool("ssh", "openssh-client")
    files = SshFiles.under(lab)
    make_dir(files.server_dir, 0o700 if hardened else 0o755)
    host_pub = _keygen(files.host_key, f"aiaudit-lab-host@{ns.name}")
    client_pub = _keygen(files.client_key, "aiaudit-auditor")
    write_file(files.authorized_keys, client_pub + "\n", 0o600 if hardened else 0o644)
    # sshd refuses authorized_keys below group/world-writable dirs (e.g. a lab in /tmp).
    strict = world_writable_ancestor(files.authorized_keys.parent) is None
    if not strict:
        print("warning: lab root below a world-writable dir: StrictModes off", file=sys.stderr)
    config = f"""\
# aiaudit lab sshd for {ns.name}; started as: sshd -D -e -f {files.sshd_config}
ListenAddress {ns.target_addr}
Port {PORT}
HostKey {files.host_key}
PidFile {files.pid_file}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {files.authorized_keys}
UsePAM no
StrictModes {"yes" if strict else "no"}
PrintMotd no
Subsystem sftp internal-sftp
{HARDENED_OPTIONS if hardened else VULNERABLE_OPTIONS}"""
    write_file(files.sshd_config, config, 0o600 if hardened else 0o644)
    key_type, key_b64 = host_pub.split()[:2]
    write_file(files.known_hosts, f"{ns.target_addr} {key_type} {key_b64}\n", 0o644)
    client = f"""\
Host {ns.target_addr}
    User root
    Port {PORT}
    IdentityFile {files.client_key}
    IdentitiesOnly yes
    UserKnownHostsFile {files.known_hosts}
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
"""
    write_file(files.ssh_config, client, 0o644)
    return files


def start(files: SshFiles, ns: NetNS, log: Path) -> tuple[int, int]:
    """Check the config with ``sshd -t``, then run ``sshd -D -e`` inside the namespace."""
    # Privilege separation directory; normally created by the distribution's service unit.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    test = subprocess.run(
        ns.exec_argv(SSHD, "-t", "-f", str(files.sshd_config)), capture_output=True, text=True
    )
    if test.returncode != 0:
        raise LabError(f"sshd config rejected: {test.stderr.strip()}")
    return proc.spawn(ns.exec_argv(SSHD, "-D", "-e", "-f", str(files.sshd_config)), log)


def ssh_argv(files: SshFiles, ns: NetNS, *command: str) -> list[str]:
    return [require_tool("ssh", "openssh-client"), "-F", str(files.ssh_config), ns.target_addr,
            *command]


def verify(files: SshFiles, ns: NetNS, timeout: float = 20.0) -> None:
    """Wait for port 22 from the host side, then prove a real login with ``ssh ... true``."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ns.target_addr, PORT), timeout=1).close()
        except OSError as exc:
            last = str(exc)
            time.sleep(0.2)
            continue
        done = subprocess.run(ssh_argv(files, ns, "true"), capture_output=True, text=True,
                              timeout=15)
        if done.returncode == 0:
            return
        last = done.stderr.strip()
        time.sleep(0.5)
    raise LabError(f"ssh login to {ns.target_addr} failed: {last}")
