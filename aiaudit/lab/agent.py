"""The deployment's own chat app ("lab agent"): an OpenAI-compatible front end to the LLM.

It is the thing the injection, leakage, isolation and logging audits talk to. Every
defence is a boolean in ``agent.json`` so the vulnerable and hardened deployments run the
same code and differ only in configuration, the way real deployments usually do.

Run as ``python -m aiaudit.lab.agent --config agent.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hmac
import json
import os
import re
import secrets
import signal
import stat
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from .agent_api import MODEL_ID, AgentServer, ApiError
from .guards import content_text, filter_output, injection_reason
from .store import HistoryStore

MAX_TOKENS_CAP = 64
PROMPT_BUDGET_CHARS = 5000  # ~1250 SmolLM2 tokens, leaves room in n_ctx=2048 for the answer
# Memory is short-term: messages of the last day, as a chat's "recent context" is; older
# history stays in the store (and in the storage area's findings), not in every prompt.
MEMORY_WINDOW_SECONDS = 24 * 3600
FETCH_CALL = re.compile(r"FETCH\(\s*([^)\s]+)\s*\)")
MAX_FETCHES = 2
FETCH_TIMEOUT = 3.0


class ConfigError(Exception):
    """The agent refuses to start (e.g. encryption requested without SQLCipher)."""


@dataclass
class AgentConfig:
    """Contents of ``agent.json`` (written by ``aiaudit.lab.deploy``)."""

    listen_host: str
    listen_port: int
    llm_url: str
    hermes_home: str
    canary: str
    system_prompt: str
    users: dict[str, str]  # user name -> path of the file holding that user's bearer token
    llm_key_file: str | None = None
    auth: bool = False
    isolation: bool = False
    encryption: bool = False
    db_key_file: str | None = None
    input_validation: bool = False
    output_filter: bool = False
    shared_history: bool = True
    url_fetch_tool: bool = True
    access_log: bool = False
    access_log_path: str = ""
    umask: str = "022"
    hide_server_version: bool = False
    history_limit: int = 6
    llm_timeout: float = 60.0

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        data = json.loads(path.read_text())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _read_secret(path: str, strict: bool) -> str:
    """Read a one-line secret; with ``strict`` refuse files readable by group/other."""
    mode = os.stat(path).st_mode
    if strict and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is accessible by group/other (mode {mode & 0o777:o})")
    return Path(path).read_text().strip()


def _open_store(cfg: AgentConfig) -> HistoryStore:
    home = Path(cfg.hermes_home)
    home.mkdir(parents=True, exist_ok=True)
    key = None
    if cfg.encryption:
        try:
            import sqlcipher3  # noqa: F401  (only probing that SQLCipher is available)
        except ImportError as exc:
            raise ConfigError("encryption is enabled but sqlcipher3 is not installed "
                              "(pip install sqlcipher3-binary); refusing to store history "
                              "unencrypted") from exc
        if not cfg.db_key_file:
            raise ConfigError("encryption is enabled but no db_key_file is configured")
        key = _read_secret(cfg.db_key_file, strict=True)
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ConfigError(f"{cfg.db_key_file} must hold 64 lowercase hex characters")
    return HistoryStore(home / "state.db", key, cfg.system_prompt, MODEL_ID)


class Agent:
    """Request-independent state: config, tokens, history store and the LLM client."""

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.tokens = {_read_secret(path, strict=cfg.auth): name
                       for name, path in cfg.users.items()}
        self.llm_key = _read_secret(cfg.llm_key_file, True) if cfg.llm_key_file else None
        self.store = _open_store(cfg)
        self.llm_lock = threading.Lock()  # llama.cpp's server decodes one request at a time
        self.log_lock = threading.Lock()
        self.http = requests.Session()
        self.http.trust_env = False  # never route the LLM or tool calls through a proxy

    # -- identity -------------------------------------------------------------------------
    def user_for(self, headers: Any, body_user: Any = None, query_user: str | None = None) -> str:
        """Who is asking: the bearer token with auth, otherwise whatever the client claims."""
        if self.cfg.auth:
            scheme, _, token = (headers.get("Authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                for known, name in self.tokens.items():
                    if hmac.compare_digest(known.encode(), token.strip().encode()):
                        return name
            raise ApiError(401, "missing or invalid bearer token", "invalid_api_key",
                           "authentication_error",
                           {"WWW-Authenticate": f'Bearer realm="{MODEL_ID}"'})
        claimed = body_user if isinstance(body_user, str) and body_user else None
        return claimed or headers.get("X-User") or query_user or "anonymous"

    # -- chat -----------------------------------------------------------------------------
    def chat(self, body: dict[str, Any], user: str) -> dict[str, Any]:
        messages = self._parse_messages(body.get("messages"))
        if body.get("stream"):
            raise ApiError(400, "streaming is not supported; send stream=false",
                           "stream_unsupported")
        max_tokens = body.get("max_tokens")
        max_tokens = MAX_TOKENS_CAP if max_tokens is None else max_tokens
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ApiError(400, "'max_tokens' must be a positive integer", "invalid_max_tokens")
        max_tokens = min(max_tokens, MAX_TOKENS_CAP)
        if self.cfg.input_validation:
            reason = injection_reason(body["messages"])
            if reason:
                raise ApiError(400, f"input rejected: {reason}", "input_rejected")
        notes: list[str] = []
        fetched: set[str] = set()
        if self.cfg.url_fetch_tool:
            user_text = "\n".join(text for role, text in messages if role == "user")
            for url, result in self._run_fetches(user_text, fetched):
                messages.append(("tool", f"FETCH({url}) returned:\n{result}"))
                notes.append(f"[tool FETCH({url})] {result}")
        chat = self._prompt(messages, user)
        answer, usage, finish = self._complete(chat, max_tokens)
        if self.cfg.url_fetch_tool:  # the model "calling" the tool (it often echoes the user)
            notes += [f"[tool FETCH({url})] {res}"
                      for url, res in self._run_fetches(answer, fetched)]
        if notes:
            answer = "\n".join([answer, *notes]).strip()
        if self.cfg.output_filter:
            answer, blocked = filter_output(answer, self.cfg.canary, self.cfg.system_prompt)
            finish = "content_filter" if blocked else finish
        self._remember(user, messages, answer, usage, finish)
        return {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_ID,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                         "finish_reason": finish}],
            "usage": usage,
        }

    @staticmethod
    def _parse_messages(raw: Any) -> list[tuple[str, str]]:
        if not isinstance(raw, list) or not raw:
            raise ApiError(400, "'messages' must be a non-empty list", "invalid_messages")
        parsed = []
        for index, message in enumerate(raw):
            role = message.get("role") if isinstance(message, dict) else None
            text = content_text(message.get("content")) if isinstance(message, dict) else None
            if not isinstance(role, str) or text is None:
                raise ApiError(400, f"messages[{index}] needs a string 'role' and text 'content'",
                               "invalid_messages")
            parsed.append((role, text))
        return parsed

    def _prompt(self, messages: list[tuple[str, str]], user: str) -> list[dict[str, str]]:
        """The chat sent to the model: one real system message (the system prompt with the
        canary, then the agent's memory of recent user messages), then the new turns.

        Memory goes into the system message after the prompt, as Hermes Agent injects its
        memory: history as separate turns put other users' questions between the system
        prompt and the question, and a 135M model then answers those instead (and, fed its
        own answers, copies them into every later one). Memory is the last day's messages:
        with ``shared_history`` those of the other users (the asker's own turns are theirs
        to send; fed back, a small model copies the asker's earlier requests instead of
        answering), the asking user's own otherwise; trimmed oldest-first to fit."""
        system = self.cfg.system_prompt
        new_turns: list[dict[str, str]] = []
        for role, text in messages:
            if role in ("system", "developer"):  # only reachable without input validation
                system += "\n\n" + text
            elif role == "assistant":
                new_turns.append({"role": "assistant", "content": text})
            elif role in ("tool", "function"):
                new_turns.append({"role": "user", "content": f"Tool result:\n{text}"})
            else:
                new_turns.append({"role": "user", "content": text})
        since = time.time() - MEMORY_WINDOW_SECONDS
        if self.cfg.shared_history:
            recent = self.store.recent(None, self.cfg.history_limit, since=since, exclude=user)
        else:
            recent = self.store.recent(user, self.cfg.history_limit, since=since)
        memory = [text for role, text in recent if role == "user"]
        while True:
            lines = "".join(f"\n- {text}" for text in memory)
            content = f"{system}\n\nMemory of recent user messages:{lines}" if memory else system
            chat = [{"role": "system", "content": content}, *new_turns]
            if sum(len(m["content"]) for m in chat) <= PROMPT_BUDGET_CHARS:
                return chat
            if not memory:
                raise ApiError(400, "the conversation is too long for the model's context",
                               "context_length_exceeded")
            memory.pop(0)

    def _complete(self, chat: list[dict[str, str]],
                  max_tokens: int) -> tuple[str, dict[str, int], str]:
        """One chat completion, formatted by the model's own chat template on the server;
        the lock wait and the call are both bounded by llm_timeout."""
        headers = {"Authorization": f"Bearer {self.llm_key}"} if self.llm_key else {}
        payload = {"messages": chat, "max_tokens": max_tokens, "temperature": 0.0}
        if not self.llm_lock.acquire(timeout=self.cfg.llm_timeout):
            raise ApiError(503, "the model is busy, retry later", "model_busy", "server_error")
        try:
            resp = self.http.post(f"{self.cfg.llm_url}/v1/chat/completions", json=payload,
                                  headers=headers, timeout=self.cfg.llm_timeout)
        except requests.Timeout as exc:
            raise ApiError(504, "the model did not answer in time", "upstream_timeout",
                           "server_error") from exc
        except requests.RequestException as exc:
            raise ApiError(502, "the model server is unreachable", "upstream_unreachable",
                           "server_error") from exc
        finally:
            self.llm_lock.release()
        if resp.status_code == 400:
            raise ApiError(400, "the conversation is too long for the model's context",
                           "context_length_exceeded")
        if resp.status_code != 200:
            raise ApiError(502, f"the model server answered HTTP {resp.status_code}",
                           "upstream_error", "server_error")
        data = resp.json()
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        text = (choice.get("message") or {}).get("content") or ""
        return str(text).strip(), usage, choice.get("finish_reason") or "stop"

    def _run_fetches(self, text: str, seen: set[str]) -> list[tuple[str, str]]:
        """The deliberately unsafe URL tool: GET whatever ``FETCH(<url>)`` names."""
        results = []
        for url in FETCH_CALL.findall(text):
            if url in seen or len(seen) >= MAX_FETCHES:
                continue
            seen.add(url)
            if urlsplit(url).scheme not in ("http", "https"):
                results.append((url, "error: only http and https URLs are supported"))
                continue
            try:
                with self.http.get(url, timeout=FETCH_TIMEOUT, stream=True) as resp:
                    raw = resp.raw.read(2048, decode_content=True) or b""
                    results.append((url, f"HTTP {resp.status_code}: "
                                         f"{raw.decode('utf-8', 'replace')[:500]}"))
            except requests.RequestException as exc:
                results.append((url, f"error: {type(exc).__name__}"))
        return results

    def _remember(self, user: str, messages: list[tuple[str, str]], answer: str,
                  usage: dict[str, int], finish: str) -> None:
        session = self.store.session_for(user)
        stored_role = {"tool": "tool", "function": "tool", "system": "system",
                       "developer": "system"}
        for role, text in messages:
            if role != "assistant":
                self.store.add(session, stored_role.get(role, "user"), text)
        self.store.add(session, "assistant", answer, usage.get("completion_tokens"), finish)

    # -- logging --------------------------------------------------------------------------
    def log_access(self, entry: dict[str, Any]) -> None:
        if not self.cfg.access_log:
            return
        line = json.dumps(entry, sort_keys=True) + "\n"
        path = Path(self.cfg.access_log_path)
        with self.log_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiaudit.lab.agent",
                                     description="aiaudit lab chat agent")
    parser.add_argument("--config", required=True, type=Path, help="path of agent.json")
    args = parser.parse_args(argv)
    cfg = AgentConfig.load(args.config)
    os.umask(int(cfg.umask, 8))
    try:
        agent = Agent(cfg)
    except (ConfigError, OSError) as exc:
        print(f"lab-agent: refusing to start: {exc}", file=sys.stderr)
        return 2
    server = AgentServer((cfg.listen_host, cfg.listen_port), agent)

    def _stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    print(f"lab-agent listening on {cfg.listen_host}:{cfg.listen_port}", file=sys.stderr,
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        agent.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
