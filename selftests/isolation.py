"""Network isolation the lab self-tests share."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator


@contextlib.contextmanager
def loopback_netns(prefix: str) -> Iterator[str]:
    """A network namespace of this test process with only loopback up (an audit in it sees
    no listener of other tests or lab slots); deleted on exit."""
    name = f"{prefix}-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
