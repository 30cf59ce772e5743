"""Real Hermes Agent 0.19.0 deployment states, built with Hermes' own CLI.

Two states under one scratch root, each with its own HOME and HERMES_HOME:

* ``vulnerable``: literal provider keys in ``.env`` (``hermes config set OPENAI_API_KEY``)
  and in ``config.yaml`` (``model.api_key``), a key pasted into a real chat turn
  (``hermes -z`` against a loopback llama.cpp server; stored verbatim in state.db and its
  FTS tables), retention left at Hermes' default (``sessions.auto_prune`` unset), the
  session back-dated 200 days through Hermes' own schema, a hand-copied skill with no
  ``skills/.hub/lock.json`` entry, an unpinned MCP server with a literal ``--env`` token,
  the API server configured on 0.0.0.0, ``terminal.backend`` left at its default
  (``local``) and world-readable modes.
* ``hardened``: follows Hermes' security guide (website/docs/user-guide/security.md,
  "Best Practices for Production Deployment": container backend, secrets out of config,
  0600 ``.env``) and its config reference (hermes_cli/config.py DEFAULT_CONFIG comments:
  ``sessions.auto_prune``): ``model.api_key: ${OPENAI_API_KEY}`` plus a
  ``hermes secrets onepassword`` reference, the key itself handed to the process from a
  credential file outside the home (as systemd ``LoadCredential`` would),
  ``sessions.auto_prune: true`` with ``retention_days: 30``, the API server on 127.0.0.1
  with its key from the environment, ``terminal.backend: docker``, an MCP server pinned to
  an exact version, a skill installed through the hub (``hermes skills install <url>``,
  lock entry with content hash), a 0700 home with 0600 ``.env``/``config.yaml`` (other files
  keep the modes Hermes gives them), and ``hermes backup`` written to another
  filesystem. Hermes has no encryption at rest, so the home sits on a gocryptfs mount and
  so does the backup directory (a second gocryptfs mount: another device).

Nothing here imitates Hermes: every file in a home is written by the ``hermes`` CLI, except
the hand-copied skill (that is the point of it), the back-dating UPDATE (Hermes' own
columns) and the chmods. Run: ``python3 -m aiaudit.lab.hermes_states build ROOT``;
``python3 -m aiaudit.lab.hermes_states down ROOT`` unmounts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import secrets
import shutil
import socket
import sqlite3
import string
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EXIT_ENVIRONMENT, LabError, require_module, require_tool

HERMES_VENV = Path(os.environ.get("AIAUDIT_HERMES_VENV", "/opt/aiaudit-fw/hermes"))
HERMES_VERSION = "0.19.0"
MODEL_ALIAS = "gemma-3-270m"
LLM_N_CTX = 8192  # Hermes' system prompt alone is ~3k tokens (hermes prompt-size)
CHAT_TOOLSETS = "todo"
MAX_TOKENS = 32  # a 270M model rambles; the turn only has to be stored
CHAT_TIMEOUT_S = 900.0
BACKDATE_DAYS = 200
RETENTION_DAYS = 30
PINNED_MCP = "@modelcontextprotocol/server-filesystem@2025.8.21"
UNPINNED_MCP = "@modelcontextprotocol/server-github"
SKILL_MD = """---
name: meeting-notes
description: Summarise meeting notes into action items with owners.
version: 1.0.0
---
# Meeting notes

Read the notes the user pastes and list the action items, one line each, with the owner.
"""
HAND_COPIED_SKILL_MD = """---
name: deploy-helper
description: Helps with deployments.
---
# Deploy helper

Run the deployment checklist with the user, step by step.
"""


@dataclass
class HermesState:
    """One built state: where its home is and what was planted (for expectations)."""

    name: str
    root: Path
    home: Path
    hermes_home: Path
    audit_toml: Path
    planted: dict[str, str] = field(default_factory=dict)
    mounts: list[Path] = field(default_factory=list)


def hermes_bin() -> Path:
    path = HERMES_VENV / "bin" / "hermes"
    if not path.exists():
        raise LabError(f"hermes-agent is not installed at {HERMES_VENV} (bin/setup installs "
                       f"hermes-agent=={HERMES_VERSION} there)", EXIT_ENVIRONMENT)
    return path


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def fake_openai_key() -> str:
    return "sk-proj-" + _alnum(48)


def fake_github_token() -> str:
    return "ghp_" + _alnum(36)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 3.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only
            return resp.status
    except OSError:
        return 0


@contextlib.contextmanager
def loopback_llm(log: Path, timeout: float = 240.0) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the lab model, on loopback
    (a port of its own), for the real chat turns. Yields the /v1 base URL."""
    require_module("llama_cpp.server", "llama-cpp-python[server]")
    from .llm import N_THREADS, model_path

    port = _free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
            "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", str(LLM_N_CTX), "--n_threads", str(N_THREADS)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while _get(base + "/v1/models") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-1500:]
                raise LabError(f"loopback LLM server did not come up: {tail}")
            time.sleep(1)
        yield base + "/v1"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@contextlib.contextmanager
def skill_server(directory: Path) -> Iterator[str]:
    """A loopback HTTP server publishing SKILL.md files (the hardened state's skill source:
    `hermes skills install <url>` is the hub's URL source)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class Hermes:
    """Runs the real `hermes` CLI against one isolated HOME / HERMES_HOME."""

    def __init__(self, home: Path, hermes_home: Path, log: Path, env: dict[str, str]):
        self.home, self.hermes_home, self.log = home, hermes_home, log
        home.mkdir(parents=True, exist_ok=True)
        self.env = {"PATH": f"{HERMES_VENV}/bin:/usr/local/bin:/usr/bin:/bin",
                    "HOME": str(home), "HERMES_HOME": str(hermes_home), "LANG": "C.UTF-8",
                    "TERM": "dumb", "NO_COLOR": "1", **env}

    def __call__(self, *args: str, stdin: str = "", timeout: float = 120.0,
                 check: bool = True) -> str:
        shown = " ".join(args[:2]) if args[0] != "-z" else "-z <prompt>"  # no planted keys
        try:
            proc = subprocess.run([str(hermes_bin()), *args], env=self.env, input=stdin,
                                  capture_output=True, text=True, timeout=timeout,
                                  cwd=self.home)
        except subprocess.TimeoutExpired:
            raise LabError(f"hermes {shown} did not finish within {timeout:.0f}s") from None
        with open(self.log, "a") as out:
            out.write(f"$ hermes {' '.join(args)}\n[rc={proc.returncode}]\n"
                      f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}\n")
        if check and proc.returncode != 0:
            raise LabError(f"hermes {shown} failed (rc {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-400:]}")
        return proc.stdout

    def chat(self, prompt: str) -> str:
        """One real turn (`hermes -z`) with a small toolset: Hermes' full tool schemas are
        ~14k tokens, more than a 270M model on two cores should have to read."""
        return self("-z", prompt, "-t", CHAT_TOOLSETS, timeout=CHAT_TIMEOUT_S)

    def set(self, key: str, value: str) -> None:
        self("config", "set", key, value)


def mount_gocryptfs(cipher: Path, plain: Path, passfile: Path) -> None:
    gocryptfs = require_tool("gocryptfs", "gocryptfs fuse3")
    cipher.mkdir(parents=True, exist_ok=True)
    plain.mkdir(parents=True, exist_ok=True)
    if not (cipher / "gocryptfs.conf").exists():
        subprocess.run([gocryptfs, "-init", "-q", "-passfile", str(passfile), str(cipher)],
                       check=True, capture_output=True, timeout=120)
    subprocess.run([gocryptfs, "-q", "-passfile", str(passfile), str(cipher), str(plain)],
                   check=True, capture_output=True, timeout=60)


def unmount_all(root: Path) -> None:
    """Unmount every gocryptfs mount below root (deepest first)."""
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True)
    targets = [t for t in out.stdout.splitlines()
               if t == str(root) or t.startswith(str(root).rstrip("/") + "/")]
    for target in sorted(targets, key=len, reverse=True):
        subprocess.run(["fusermount3", "-u", target], capture_output=True, timeout=30)


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _backdate(state_db: Path, days: int) -> int:
    """Move every session and message `days` into the past (Hermes' REAL epoch columns)."""
    shift = days * 86400.0
    with contextlib.closing(sqlite3.connect(state_db)) as conn, conn:
        conn.execute("UPDATE sessions SET started_at = started_at - ?, "
                     "ended_at = CASE WHEN ended_at IS NULL THEN started_at - ? + 60 "
                     "ELSE ended_at - ? END", (shift, shift, shift))
        conn.execute("UPDATE messages SET timestamp = timestamp - ?", (shift,))
        return conn.execute("SELECT count(*) FROM sessions").fetchone()[0]


def _chmod_tree(top: Path, dir_mode: int, file_mode: int) -> None:
    for dirpath, _dirs, filenames in os.walk(top):
        os.chmod(dirpath, dir_mode)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, file_mode)


def _configure_model(h: Hermes, llm_url: str) -> None:
    h.set("model.provider", "custom")
    h.set("model.base_url", llm_url)
    h.set("model.default", MODEL_ALIAS)
    h.set("model.max_tokens", str(MAX_TOKENS))  # agent/agent_init.py reads it for every call


def build_vulnerable(root: Path, llm_url: str) -> HermesState:
    home = root / "home"
    state = HermesState("vulnerable", root, home, home / ".hermes", root / "audit.toml")
    home.mkdir(parents=True, exist_ok=True)
    h = Hermes(home, state.hermes_home, root / "hermes-cli.log", {})
    config_key, env_key, chat_key = fake_openai_key(), fake_openai_key(), fake_openai_key()
    token = fake_github_token()
    state.planted = {"config.yaml model.api_key": config_key, ".env OPENAI_API_KEY": env_key,
                     "chat turn": chat_key, "mcp env GITHUB_PERSONAL_ACCESS_TOKEN": token}
    _configure_model(h, llm_url)
    h.set("model.api_key", config_key)
    h.set("OPENAI_API_KEY", env_key)
    h.set("platforms.api_server.enabled", "true")
    h.set("platforms.api_server.extra.host", "0.0.0.0")
    h("mcp", "add", "github", "--command", "npx", "--env",
      f"GITHUB_PERSONAL_ACCESS_TOKEN={token}", "--args", "-y", UNPINNED_MCP,
      stdin="y\n", check=False)
    h.chat(f"Keep this for the deploy script, my OpenAI key is {chat_key} . Reply OK.")
    sessions = _backdate(state.hermes_home / "state.db", BACKDATE_DAYS)
    state.planted["sessions back-dated"] = f"{sessions} by {BACKDATE_DAYS} days"
    _write(state.hermes_home / "skills" / "devops" / "deploy-helper" / "SKILL.md",
           HAND_COPIED_SKILL_MD, 0o644)
    _chmod_tree(state.hermes_home, 0o755, 0o644)
    _write(state.audit_toml, audit_toml(state, backup_dir=None), 0o600)
    return state


def build_hardened(root: Path, llm_url: str) -> HermesState:
    home = root / "home"
    state = HermesState("hardened", root, home, home / ".hermes", root / "audit.toml")
    keys = root / "keys"  # outside HERMES_HOME: the operator's credential store
    keys.mkdir(parents=True, exist_ok=True)
    keys.chmod(0o700)
    passfile = _write(keys / "gocryptfs.pass", secrets.token_hex(32) + "\n")
    home.mkdir(parents=True, exist_ok=True)
    mount_gocryptfs(root / "crypt" / "hermes", state.hermes_home, passfile)
    state.mounts.append(state.hermes_home)
    backup_dir = root / "backup"
    mount_gocryptfs(root / "crypt" / "backup", backup_dir, passfile)
    state.mounts.append(backup_dir)
    api_key = _write(keys / "openai_api_key", fake_openai_key()).read_text()
    server_key = _write(keys / "api_server_key", secrets.token_hex(32)).read_text()
    h = Hermes(home, state.hermes_home, root / "hermes-cli.log",
               {"OPENAI_API_KEY": api_key, "API_SERVER_KEY": server_key})
    _configure_model(h, llm_url)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h("secrets", "onepassword", "set", "OPENAI_API_KEY", "op://Private/hermes/openai-api-key")
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", str(RETENTION_DAYS))
    h.set("platforms.api_server.enabled", "true")
    h.set("platforms.api_server.extra.host", "127.0.0.1")
    h("mcp", "add", "files", "--command", "npx", "--args", "-y", PINNED_MCP, "/srv/shared",
      stdin="y\n", check=False)
    source = root / "skill-source"
    _write(source / "meeting-notes" / "SKILL.md", SKILL_MD, 0o644)
    with skill_server(source) as url:
        h.set("security.allow_private_urls", "true")  # the source is on loopback
        try:
            h("skills", "install", f"{url}/meeting-notes/SKILL.md", "--yes", timeout=180)
        finally:
            h.set("security.allow_private_urls", "false")
    h.chat("Summarise in one line: the quarterly review moved to Thursday.")
    h.set("terminal.backend", "docker")
    h("sessions", "list", check=False)  # Hermes re-chmods its dirs to 0700 at start-up
    # security.md "Securing API Keys": chmod 600 ~/.hermes/.env (config.yaml likewise); the
    # rest stays as Hermes leaves it (state.db and skills/.hub at the umask, below 0700)
    for name in (".env", "config.yaml"):
        if (state.hermes_home / name).exists():
            (state.hermes_home / name).chmod(0o600)
    h("backup", "-o", str(backup_dir / "hermes-backup.zip"), timeout=300)
    state.planted["backup"] = str(backup_dir / "hermes-backup.zip")
    _write(state.audit_toml, audit_toml(state, backup_dir=backup_dir), 0o600)
    return state


def audit_toml(state: HermesState, backup_dir: Path | None) -> str:
    """The audit config of one state: scoped to its Hermes home only."""
    lines = [
        "[paths]", f'state_dirs = ["{state.hermes_home}"]', "",
        "[storage]", "search_homes = false",
    ]
    if backup_dir is not None:
        lines.append(f'backup_dirs = ["{backup_dir}"]')
    lines += [
        "", "[supply_chain]", "home_dirs = []", f'hermes_homes = ["{state.hermes_home}"]',
        f'baseline_file = "{state.root / "supply-chain-baseline.json"}"',
        'allowed_registries = ["hermes:official", "url:127.0.0.1"]', "",
    ]
    return "\n".join(lines)


def build(root: Path,
          which: tuple[str, ...] = ("vulnerable", "hardened")) -> dict[str, HermesState]:
    """Build the named states under root/<name> (root is wiped first)."""
    hermes_bin()
    if root.exists():
        unmount_all(root)
        shutil.rmtree(root)
    root.mkdir(parents=True)
    states: dict[str, HermesState] = {}
    with loopback_llm(root / "llm.log") as llm_url:
        for name in which:
            builder = build_vulnerable if name == "vulnerable" else build_hardened
            states[name] = builder(root / name, llm_url)
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m aiaudit.lab.hermes_states")
    parser.add_argument("op", choices=("build", "down"))
    parser.add_argument("root", type=Path)
    parser.add_argument("--only", choices=("vulnerable", "hardened"))
    args = parser.parse_args(argv)
    try:
        if args.op == "down":
            unmount_all(args.root)
            return 0
        states = build(args.root, (args.only,) if args.only else ("vulnerable", "hardened"))
    except (LabError, subprocess.SubprocessError, OSError) as exc:
        print(f"hermes_states: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    print(json.dumps({n: {"hermes_home": str(s.hermes_home), "audit_toml": str(s.audit_toml)}
                      for n, s in states.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
