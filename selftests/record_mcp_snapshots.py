"""Record the MCP snapshots in selftests/fixtures/mcp/ from the real fixture servers.

    python3 selftests/record_mcp_snapshots.py [KIND...]

Starts selftests/mcp_fixture_servers.py (official SDK, streamable HTTP on loopback) as the
clean and the poisoned server, lists them with the same read-only client the audit uses
(aiaudit.supply_chain.mcp_listing.fetch_listing) and writes the list results as the protocol
returns them, with the server name, to <kind>-calculator.json (<kind>.json for the wikis).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from aiaudit.supply_chain.mcp_listing import fetch_listing  # noqa: E402

OUT = HERE / "fixtures" / "mcp"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(kind: str):
    """A fixture server on a loopback port; yields its URL, killed afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "mcp_fixture_servers.py"), kind,
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.kill()
        proc.wait()


def record(kind: str) -> Path:
    with serving(kind) as url:
        listing = fetch_listing(url)
    name = kind if kind.endswith("-wiki") else f"{kind}-calculator"
    path = OUT / f"{name}.json"
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"server": name, **listing}, indent=2,
                               sort_keys=True) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    for kind in sys.argv[1:] or ("clean", "poisoned", "clean-wiki", "poisoned-wiki"):
        print(record(kind))
