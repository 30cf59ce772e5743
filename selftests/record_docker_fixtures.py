"""Records what a Docker host says about published containers, as fixtures for the Docker
exposure unit tests (selftests/fixtures/exposure/docker/). Run with the Docker lab up:

    AIAUDIT_LAB_SLOT=N python3 -c "from aiaudit.lab import dockerlab; dockerlab.up()"
    AIAUDIT_LAB_SLOT=N python3 selftests/record_docker_fixtures.py

Read-only commands only: docker inspect, iptables-save, ss and the docker-proxy command lines.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from aiaudit.lab import dockerlab

OUT = Path(__file__).parent / "fixtures" / "exposure" / "docker"


def _ns(*argv: str) -> str:
    env = {"DOCKER_HOST": f"unix://{dockerlab.SOCKET}", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run(dockerlab.NS.exec_argv("env", *[f"{k}={v}" for k, v in env.items()],
                                                 *argv), capture_output=True, text=True,
                          check=True, timeout=30)
    return done.stdout


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "inspect.json").write_text(_ns("docker", "inspect", dockerlab.OPEN, dockerlab.HARD))
    (OUT / "iptables-save.txt").write_text(_ns("iptables-save"))
    (OUT / "ss.txt").write_text(_ns("ss", "-H", "-ltnp"))
    script = ("for p in $(pgrep -x docker-proxy); do printf '%s\\t' $p; "
              "tr '\\0' ' ' < /proc/$p/cmdline; echo; done")
    (OUT / "docker-proxy-cmdlines.txt").write_text(_ns("sh", "-c", script))
    print(f"recorded into {OUT}")


if __name__ == "__main__":
    main()
