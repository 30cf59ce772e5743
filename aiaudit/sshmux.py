"""One SSH login per audit run: every check of an ssh:// target shares one connection.

testinfra asks for `ControlMaster=auto` but sets no `ControlPath`, and ssh multiplexes only
with a path, so every check was a new login (key exchange and authentication: 0.6-0.8 s each
on a loaded machine, 20-30 per quick audit). Here each run gets a private 0700 directory for
its control socket, every ssh the run starts (testinfra's and HostFS's) names the same path,
and the master is closed with `ssh -O exit` when the run ends, so no ssh process outlives
the audit; `ControlPersist` is short, so even a run killed outright leaves its master for
that long at most.

Everything here lives on the auditor's machine: the socket is a local file and the master a
local process. The target sees one login running the same read-only commands as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

PERSIST_SECONDS = 30  # an idle master ends this long after its last check (a killed run)
# sun_path holds 108 bytes: the dir, "/", %C (40 hex digits) and the ".XXXXXXXXXXXXXXXX"
# suffix ssh adds while it creates the socket must fit below that.
_MAX_ROOT = 32
_CLOSE_TIMEOUT_S = 5.0
# What ssh prints when a connection already carries sshd's MaxSessions (10 by default) and it
# logs in anew for this one command instead: the command ran, the lines are not its output.
_FALLBACK_NOISE = re.compile(r"^(mux_client_request_session: session request failed: .*"
                             r"|ControlSocket .* already exists, disabling multiplexing)\r?$")


def _short_root() -> str:
    """Where the private dir goes: the temp dir when its path is short enough, else /tmp."""
    root = tempfile.gettempdir()
    return root if len(root) <= _MAX_ROOT else "/tmp"


def quiet(stderr: str) -> str:
    """A command's stderr without ssh's notes about falling back to a login of its own."""
    if "multiplexing" not in stderr and "mux_client" not in stderr:
        return stderr
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not _FALLBACK_NOISE.match(line.rstrip("\n")))


class SshMux:
    """The control socket directory and master of one run (created on first use)."""

    def __init__(self) -> None:
        self._dir: str | None = None
        self._lock = threading.Lock()

    @property
    def directory(self) -> str | None:
        return self._dir

    def control_path(self) -> str:
        """`DIR/%C`: %C is ssh's hash of local host, remote host, port and user (and jump
        host), so two targets of one run never share a master."""
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="aa-ssh-", dir=_short_root())  # 0700
                atexit.register(self.close)  # also when the run ends without unconfigure
            return f"{self._dir}/%C"

    def options(self) -> list[str]:
        """ssh arguments that put a command on the run's shared connection. Given on the
        command line they override a user's ssh_config (ssh takes the first value)."""
        return ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_path()}",
                "-o", f"ControlPersist={PERSIST_SECONDS}s"]

    def testinfra_args(self) -> str:
        """The same options as testinfra's `ssh_extra_args` (one string it pastes into a
        shell command line; testinfra then adds no ControlMaster of its own)."""
        return " ".join(shlex.quote(a) for a in self.options())

    def sockets(self) -> list[Path]:
        if self._dir is None:
            return []
        with contextlib.suppress(OSError):
            return sorted(p for p in Path(self._dir).iterdir() if p.is_socket())
        return []

    def close(self) -> None:
        """Stop every master of the run (`ssh -O exit` on its socket) and remove the dir."""
        with self._lock:
            directory, self._dir = self._dir, None
        if directory is None:
            return
        ssh = shutil.which("ssh") or "ssh"
        for sock in sorted(Path(directory).iterdir()):
            if not sock.is_socket():
                continue
            # The socket's literal path (no %-tokens) and no user config: nothing but this
            # socket is consulted, and nothing is sent to the target.
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                subprocess.run([ssh, "-F", os.devnull, "-o", f"ControlPath={sock}", "-O",
                                "exit", "aiaudit-ssh-mux"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=_CLOSE_TIMEOUT_S)
        shutil.rmtree(directory, ignore_errors=True)
