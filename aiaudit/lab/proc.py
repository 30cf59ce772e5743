"""Start and stop the lab's long-running processes.

``up`` exits while its servers keep running, so they cannot be tracked as children:
each one gets its own session (process group == pid) and is later found again through
the pid plus its kernel start time, which guards against killing a recycled pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import LabError


def start_time(pid: int) -> int | None:
    """Kernel start time (clock ticks since boot) of ``pid``, or None if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are positional.
    fields = raw[raw.rfind(")") + 2 :].split()
    return int(fields[19])


def _state(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()[0]


def is_alive(pid: int, started: int | None = None) -> bool:
    """True if ``pid`` runs (zombies count as dead) and, if given, has the same start time."""
    state = _state(pid)
    if state is None or state in ("Z", "X"):
        return False
    return started is None or start_time(pid) == started


def spawn(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[int, int]:
    """Start ``argv`` detached in a new session, output appended to ``log_path``.

    Returns ``(pid, start_time)`` so the caller can record a stable identity.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=str(cwd) if cwd else None,
            start_new_session=True,
            close_fds=True,
        )
    started = start_time(child.pid)
    if started is None:  # exited already; poll() reaps it so it is not left a zombie
        child.poll()
        return child.pid, -1
    return child.pid, started


def reap(pid: int) -> None:
    """Collect ``pid`` if it is our own child (only the case inside ``up`` itself)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop_group(pid: int, started: int | None, timeout: float = 5.0) -> bool:
    """SIGTERM the process group led by ``pid``, wait, then SIGKILL. True if it is gone."""
    if not is_alive(pid, started):
        return True
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reap(pid)
            if not is_alive(pid):
                return True
            time.sleep(0.1)
    return not is_alive(pid)


def stop_pids(pids: Sequence[int], timeout: float = 5.0) -> None:
    """SIGTERM then SIGKILL a set of plain pids (stragglers found inside a namespace)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        live = [p for p in pids if is_alive(p)]
        for pid in live:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while live and time.monotonic() < deadline:
            for pid in live:
                reap(pid)
            live = [p for p in live if is_alive(p)]
            time.sleep(0.1)
        if not live:
            return


def run(argv: Sequence[str], check: bool = True, timeout: float = 60.0) -> str:
    """Run a short helper command and return its stdout; raise with its stderr on failure."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        msg = (done.stderr or done.stdout).strip().splitlines()
        detail = msg[-1] if msg else f"exit {done.returncode}"
        raise LabError(f"{' '.join(argv)}: {detail}")
    return done.stdout
