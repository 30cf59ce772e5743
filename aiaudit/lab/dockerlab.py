"""Docker deployments of the lab LLM server: real containers from Debian's docker.io.

A Docker host of its own per lab slot: `dockerd` runs in the namespace ``aiaudit-dock{N}``
(its docker0 on 10.77.{10N+4}.0/24, its iptables rules, its socket under /run), so nothing on
the machine's own network or other slots changes. The image is a `docker import` of a
debootstrap bookworm rootfs (no registry is reachable here), cached under /opt/aiaudit-fw.
The server is the real llama-cpp-python server: the host's Python install and the lab model
are bind-mounted read-only into the container.

open: `-p 5001:5001` (0.0.0.0 and [::] through docker-proxy), no API key, no DOCKER-USER rule.
hard: `-p 127.0.0.1:5002:5001`, the server's own API key (a 0600 config file, not argv),
  Caddy on the namespace address (TLS from its internal CA, bearer token) in front of it, and
  a DOCKER-USER rule dropping traffic from the namespace's outside link to the container.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import netns, proc
from .deploy import _NET, _SFX
from .errors import LabError, require_tool
from .fsutil import make_dir, random_alnum, write_file
from .llm import model_path

CACHE = Path("/opt/aiaudit-fw/docker")
ROOTFS_TAR = CACHE / "bookworm-minbase-python3.tar"
IMAGE = "aiaudit-lab/bookworm-python3:1"
PACKAGES = ("python3,iproute2,procps,libstdc++6,libgomp1,libssl3,libffi8,zlib1g,libsqlite3-0,"
            "libbz2-1.0,liblzma5,libreadline8,libuuid1")
PORT = 5001  # KoboldCpp's default port, as in the report that found the gap
HARD_HOST_PORT = 5002
PROXY_PORT = 8444
NS = netns.NetNS(f"aiaudit-dock{_SFX}", f"aa-dock{_SFX}-h", f"aa-dock{_SFX}-t",
                 f"10.77.{_NET + 3}.1", f"10.77.{_NET + 3}.2")
BRIDGE = f"10.77.{_NET + 4}.1/24"
BRIDGE_NET = f"10.77.{_NET + 4}.0/24"
RUN = Path(f"/run/aiaudit-dock{_SFX}")
DATA = Path(f"/var/lib/aiaudit-dock{_SFX}")
SOCKET = RUN / "docker.sock"
OPEN, HARD = f"aa-llm-open{_SFX}", f"aa-llm-hard{_SFX}"


@dataclass(frozen=True)
class DockerLab:
    docker_host: str
    netns: str
    address: str
    open: str
    hard: str
    proxy_url: str
    token_file: str

    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.docker_host)


def _docker(*args: str, check: bool = True, timeout: float = 60.0) -> str:
    return proc.run([require_tool("docker", "docker.io"), "-H", f"unix://{SOCKET}", *args],
                    check=check, timeout=timeout)


def ensure_rootfs_tar() -> Path:
    """The base image's rootfs tarball, built once per machine (debootstrap, minutes)."""
    if ROOTFS_TAR.exists():
        return ROOTFS_TAR
    debootstrap = require_tool("debootstrap", "debootstrap")
    CACHE.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
    try:
        proc.run([debootstrap, "--variant=minbase", f"--include={PACKAGES}", "bookworm",
                  str(root)], timeout=900)
        tmp = ROOTFS_TAR.with_suffix(".tmp")
        with open(tmp, "wb") as out:
            subprocess.run(["tar", "-C", str(root), "-c", "."], stdout=out, check=True)
        tmp.rename(ROOTFS_TAR)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return ROOTFS_TAR


def _pidfile() -> Path:
    return RUN / "dockerd.pid"


def _start_dockerd() -> None:
    if netns.exists(NS.name) and SOCKET.exists() and _pid_alive():
        return
    netns.create(NS)
    make_dir(RUN, 0o700)
    dockerd = require_tool("dockerd", "docker.io")
    # nsenter, not `ip netns exec`: that remounts /sys and hides the cgroup mounts
    argv = [require_tool("nsenter", "util-linux"), f"--net=/run/netns/{NS.name}", dockerd,
            "-H", f"unix://{SOCKET}", "--data-root", str(DATA), "--exec-root",
            str(RUN / "exec"), "--pidfile", str(_pidfile()), "--bip", BRIDGE]
    pid, started = proc.spawn(argv, RUN / "dockerd.log")
    write_file(RUN / "started", json.dumps({"pid": pid, "start": started}), 0o600)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if SOCKET.exists() and _docker("info", "--format", "{{.ServerVersion}}", check=False):
            return
        if not proc.is_alive(pid):
            break
        time.sleep(0.5)
    tail = (RUN / "dockerd.log").read_text(errors="replace").splitlines()[-10:]
    raise LabError("dockerd did not start; log tail:\n" + "\n".join(tail))


def _pid_alive() -> bool:
    try:
        info = json.loads((RUN / "started").read_text())
    except (OSError, ValueError):
        return False
    return proc.is_alive(int(info["pid"]), int(info["start"]))


def _ensure_image() -> None:
    if _docker("images", "-q", IMAGE).strip():
        return
    _docker("import", str(ensure_rootfs_tar()), IMAGE, timeout=300)


def _run_server(name: str, publish: str, extra: list[str], args: list[str]) -> str:
    py = Path(sys.prefix).resolve()
    model = model_path()
    _docker("rm", "-f", name, check=False)
    _docker("run", "-d", "--name", name, "-p", publish, "-v", f"{py}:{py}:ro",
            "-v", f"{model}:/models/model.gguf:ro", *extra, IMAGE,
            str(Path(sys.executable).resolve()), "-m", "llama_cpp.server", *args)
    return json.loads(_docker("inspect", name))[0]["NetworkSettings"]["IPAddress"]


def _wait(url: str, headers: dict[str, str], name: str) -> None:
    deadline = time.monotonic() + 60
    last: Any = None
    while time.monotonic() < deadline:
        cmd = NS.exec_argv(sys.executable, "-c", (
            "import ssl,sys,urllib.request as u;c=ssl._create_unverified_context();"
            "r=u.Request(sys.argv[1],headers=dict(h.split(':',1) for h in sys.argv[2:]));"
            "print(u.urlopen(r,timeout=3,context=c).status)"), url,
            *[f"{k}:{v}" for k, v in headers.items()])
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        if done.stdout.strip() == "200":
            return
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        time.sleep(1)
    logs = _docker("logs", "--tail", "10", name, check=False)
    raise LabError(f"{name} did not answer {url} ({last}); log tail:\n{logs}")


CADDYFILE = """\
{{
	admin off
	auto_https disable_redirects
	storage file_system {data}
}}
https://{addr}:{port} {{
	tls internal
	@authorized header Authorization "Bearer {token}"
	handle @authorized {{
		reverse_proxy 127.0.0.1:{upstream} {{
			header_up Authorization "Bearer {key}"
		}}
	}}
	handle {{
		respond "unauthorized" 401
	}}
}}
"""


def _stop_recorded(name: str) -> None:
    """Stop a process this lab started and recorded (pid + start time), if it still runs."""
    try:
        info = json.loads((RUN / name).read_text())
    except (OSError, ValueError):
        return
    proc.stop_group(int(info["pid"]), int(info["start"]), timeout=15)
    (RUN / name).unlink(missing_ok=True)


def _start_caddy(token: str, key: str) -> None:
    _stop_recorded("caddy.started")  # a restart: the old one holds the port and old token
    caddy = require_tool("caddy", "caddy")
    home = make_dir(RUN / "caddy", 0o700)
    conf = write_file(home / "Caddyfile", CADDYFILE.format(
        data=home / "data", addr=NS.target_addr, port=PROXY_PORT, token=token, key=key,
        upstream=HARD_HOST_PORT), 0o600)
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"))
    pid, started = proc.spawn(NS.exec_argv(caddy, "run", "--config", str(conf), "--adapter",
                                           "caddyfile"), RUN / "caddy.log", env=env, cwd=home)
    write_file(RUN / "caddy.started", json.dumps({"pid": pid, "start": started}), 0o600)


def up() -> DockerLab:
    """Start (or restart) the Docker host and both containers; returns how to reach them."""
    _start_dockerd()
    _ensure_image()
    iptables = require_tool("/usr/sbin/iptables", "iptables")
    _run_server(OPEN, f"{PORT}:{PORT}", [],
                          ["--model", "/models/model.gguf", "--host", "0.0.0.0", "--port",
                           str(PORT), "--n_ctx", "512", "--n_threads", "1"])
    key, token = random_alnum(32), random_alnum(32)
    conf = write_file(RUN / "llm-server.json", json.dumps({
        "host": "0.0.0.0", "port": PORT, "api_key": key,
        "models": [{"model": "/models/model.gguf", "model_alias": "gemma-3-270m",
                    "n_ctx": 512, "n_threads": 1}]}), 0o600)
    hard_ip = _run_server(HARD, f"127.0.0.1:{HARD_HOST_PORT}:{PORT}",
                          ["-v", f"{conf}:/etc/llm-server.json:ro"],
                          ["--config_file", "/etc/llm-server.json"])
    rule = ["DOCKER-USER", "-i", NS.target_veth, "-d", f"{hard_ip}/32", "-j", "DROP"]
    if subprocess.run(NS.exec_argv(iptables, "-C", *rule), capture_output=True).returncode:
        proc.run(NS.exec_argv(iptables, "-I", *rule))
    _wait(f"http://127.0.0.1:{PORT}/v1/models", {}, OPEN)
    _wait(f"http://{hard_ip}:{PORT}/v1/models", {"Authorization": f"Bearer {key}"}, HARD)
    # the auditor's side routes the bridge through the namespace, as a LAN neighbour would
    proc.run([require_tool("ip", "iproute2"), "route", "replace", BRIDGE_NET, "via",
              NS.target_addr])
    token_file = write_file(RUN / "proxy.token", token + "\n", 0o600)
    _start_caddy(token, key)
    _wait(f"https://{NS.target_addr}:{PROXY_PORT}/v1/models",
          {"Authorization": f"Bearer {token}"}, "caddy")
    return DockerLab(f"unix://{SOCKET}", NS.name, NS.target_addr, OPEN, HARD,
                     f"https://{NS.target_addr}:{PROXY_PORT}/", str(token_file))


def down() -> None:
    """Remove the containers, stop dockerd and Caddy (only what this lab started), drop the
    namespace. The image and data root stay for the next run."""
    if SOCKET.exists() and _pid_alive():
        _docker("rm", "-f", OPEN, HARD, check=False)
    for name in ("caddy.started", "started"):
        _stop_recorded(name)
    netns.destroy(NS)
