"""Inside a private network and mount namespace (see test_exposure_dualstack.py): an open
Ollama on [::1]:P and an API gateway answering 401 everywhere on 127.0.0.1:P, the same
port, then one audit of the name that resolves to both (argv: work dir, name)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from selftests.hostile_more import OpenOllama
from selftests.hostile_server import HostileServer
from selftests.hostile_third import WallEverywhere

ROOT = Path(__file__).resolve().parent.parent


def main(work: Path, name: str) -> int:
    with HostileServer(persona=OpenOllama(), host="::1") as six, \
            HostileServer(persona=WallEverywhere(), host="127.0.0.1", port=six.port) as four:
        cfg = work / "audit.toml"
        cfg.write_text(f"[exposure]\nextra_ports = [{six.port}]\nhost_budget_seconds = 5\n")
        (work / "port").write_text(str(six.port))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             f"--target={name}", f"--audit-config={cfg}", f"--report-dir={work / 'r'}",
             "tests_exposure"], cwd=ROOT, capture_output=True, text=True, timeout=240)
        (work / "seen").write_text(f"{len(six.requests)} {len(four.requests)}")
    return 0 if proc.returncode in (0, 1) else proc.returncode


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
