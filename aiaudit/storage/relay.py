"""Reach an API that listens on the target's loopback only, for the per-user checks.

A hardened deployment binds its chat API to 127.0.0.1 (EXP-01) and may forbid SSH port
forwarding, so the auditor relays: a local listener on 127.0.0.1 whose every connection is
piped through one `ssh target -- bash -c 'exec 3<>/dev/tcp/127.0.0.1/PORT ...'` session.
Requests still go through the SafeClient (probes, deny list, bounds, request log); only the
transport hop is different, and the report says so.
"""

from __future__ import annotations

import atexit
import contextlib
import shlex
import socket
import subprocess
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiaudit.hostfs import HostFS

CONNECT_TIMEOUT = 3.0


def _pump(src: Any, dst: Any) -> None:
    with contextlib.suppress(OSError, ValueError):
        while data := src.read1(65536) if hasattr(src, "read1") else src.recv(65536):
            if hasattr(dst, "sendall"):
                dst.sendall(data)
            else:
                dst.write(data)
                dst.flush()
    with contextlib.suppress(OSError, ValueError):
        if hasattr(dst, "shutdown"):
            dst.shutdown(socket.SHUT_WR)
        else:
            dst.close()


class LoopbackRelay:
    """127.0.0.1:<port> here -> 127.0.0.1:<remote_port> on the target, via ssh exec."""

    def __init__(self, fs: HostFS, remote_port: int) -> None:
        self.fs, self.remote_port = fs, remote_port
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self._procs: list[subprocess.Popen[bytes]] = []
        threading.Thread(target=self._serve, daemon=True).start()
        atexit.register(self.close)

    def _command(self) -> str:
        p = int(self.remote_port)
        script = (f"exec 3<>/dev/tcp/127.0.0.1/{p} || exit 7; cat <&3 & cat >&3; wait")
        return f"bash -c {shlex.quote(script)}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            proc = subprocess.Popen(self.fs.argv(self._command()), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self._procs.append(proc)
            threading.Thread(target=_pump, args=(conn, proc.stdin), daemon=True).start()
            threading.Thread(target=_pump, args=(proc.stdout, conn), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.server.close()
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False


def effective_base(ctx: Any, url: str) -> tuple[str, str]:
    """(base URL to send to, how it is reached): direct, or relayed when loopback-only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    if reachable(host, port) or host != ctx.target.address or ctx.target.kind != "ssh":
        return base, "direct"

    def start() -> LoopbackRelay:
        return LoopbackRelay(HostFS.for_context(ctx), port)

    relay = ctx.cached(f"storage:relay:{port}", start)
    return (f"{parts.scheme}://127.0.0.1:{relay.port}",
            f"{host}:{port} refuses outside connections (loopback-only): relayed through "
            "the SSH session to the target's 127.0.0.1")
