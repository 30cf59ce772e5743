"""More real Hermes Agent 0.19.0 deployment states, built with Hermes' own CLI and API, for
the held-out-style check of the suite's verdicts (selftests/test_hermes_variants.py).

Each variant is one Hermes home under ROOT/<name>/ (user home ROOT/<name>/home), built only
with `hermes` commands (config set, profile create, mcp add, skills install, backup, `-z`
chat turns against the lab model) and Hermes' own `hermes_state.SessionDB` for sessions
without a model; the chmods are the operator's (and say so). What each variant plants and
why the expected statuses follow from Hermes' source is in
selftests/expected/real/hermes_variants.toml.

    python3 -m aiaudit.lab.hermes_variants build ROOT [--only NAME ...] [--no-chat]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LabError
from .hermes_states import (
    HAND_COPIED_SKILL_MD,
    HERMES_VENV,
    PINNED_MCP,
    SKILL_MD,
    UNPINNED_MCP,
    Hermes,
    _configure_model,
    fake_github_token,
    fake_openai_key,
    hermes_bin,
    loopback_llm,
    skill_server,
)

OFFLINE_LLM = "http://127.0.0.1:9/v1"  # variants without a chat turn never call the model


@dataclass
class Variant:
    """One built variant: its Hermes home, the user home above it, and the audit's extras."""

    name: str
    root: Path
    home: Path
    hermes_home: Path
    backup_dirs: list[Path] = field(default_factory=list)
    planted: dict[str, str] = field(default_factory=dict)
    # the managed scope's dir as built (hermes_cli/managed_scope.py: /etc/hermes on the
    # audited host; the self-test lays it over /etc in a mount namespace of the audit's own)
    managed_dir: Path | None = None
    # the systemd unit the operator runs it with ({"name", "env"}): the self-test writes
    # it below the overlaid /etc, naming the restored home (HERMES_HOME) and this env
    unit: dict[str, object] = field(default_factory=dict)


def session_db(h: Hermes, messages: list[tuple[str, str]], session_id: str,
               leave_wal: bool = False, profile_home: Path | None = None) -> None:
    """Sessions written through Hermes' own SessionDB (hermes_state.py), as the CLI and the
    gateway write them. leave_wal: the process ends without closing the database (a
    gateway killed mid-run), so the last rows stay in state.db-wal, not yet checkpointed."""
    code = ("import os, sys, json\n"
            "from hermes_state import SessionDB\n"
            "db = SessionDB()\n"
            f"sid = db.create_session({session_id!r}, 'cli')\n"
            f"for role, text in json.loads({json.dumps(json.dumps(messages))}):\n"
            "    db.append_message(sid, role, text)\n")
    code += ("sys.stdout.flush(); os._exit(0)\n" if leave_wal
             else "db.end_session(sid, 'user_exit')\ndb.close()\n")
    env = dict(h.env)
    if profile_home is not None:
        env["HERMES_HOME"] = str(profile_home)
    subprocess.run([str(HERMES_VENV / "bin" / "python"), "-c", code], env=env, check=True,
                   capture_output=True, timeout=120, cwd=h.home)


def _new(root: Path, name: str, hermes_home_rel: str = "home/.hermes",
         env: dict[str, str] | None = None) -> tuple[Variant, Hermes]:
    base = root / name
    home = base / "home"
    v = Variant(name, base, home, base / hermes_home_rel)
    return v, Hermes(home, v.hermes_home, base / "hermes-cli.log", env or {})


def _model(h: Hermes, llm: str | None) -> None:
    _configure_model(h, llm or OFFLINE_LLM)


def fresh(root: Path, llm: str | None) -> Variant:
    """`hermes setup --non-interactive` only: Hermes makes its home and subdirs (0700) and
    SOUL.md, and writes no config without a TTY (hermes_cli/setup.py)."""
    v, h = _new(root, "fresh")
    h("setup", "--non-interactive", check=False)
    return v


def custom_home(root: Path, llm: str | None) -> Variant:
    """HERMES_HOME outside the user's home under a name of its own; retention 30 days;
    the provider key as a literal in .env (`hermes config set OPENAI_API_KEY`); a clean
    real chat turn."""
    v, h = _new(root, "custom-home", "srv/agent-data")
    _model(h, llm)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    key = fake_openai_key()
    h.set("OPENAI_API_KEY", key)
    v.planted[".env OPENAI_API_KEY"] = key
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    if llm:
        h.chat("Summarise in one line: the team lunch moved to Friday.")
    else:
        session_db(h, [("user", "Summarise: the team lunch moved to Friday."),
                       ("assistant", "Team lunch is now on Friday.")], "20261203_090000_c0ffee")
    return v


def profiles(root: Path, llm: str | None) -> Variant:
    """A hardened default profile and a named profile `work` (profiles/work/, its own
    config.yaml, .env and state.db: hermes_cli/profiles.py) that leaves retention and the
    terminal at Hermes' defaults, keeps a literal key in its .env and holds a key pasted
    into a real chat turn."""
    v, h = _new(root, "profiles")
    _model(h, llm)
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "What is on my calendar today?"),
                   ("assistant", "Nothing is scheduled.")], "20261203_080000_aa0001")
    h("profile", "create", "work", "--no-alias")
    work = v.hermes_home / "profiles" / "work"
    w = Hermes(v.home, work, v.root / "hermes-cli.log", {})
    _model(w, llm)
    key, chat_key = fake_openai_key(), fake_openai_key()
    w.set("OPENAI_API_KEY", key)
    v.planted["profiles/work/.env OPENAI_API_KEY"] = key
    v.planted["profiles/work chat"] = chat_key
    prompt = f"Keep this for the deploy script, my OpenAI key is {chat_key} . Reply OK."
    if llm:
        w.chat(prompt)
    else:
        session_db(w, [("user", prompt), ("assistant", "OK")], "20261203_081500_bb0002")
    return v


def _retention(root: Path, name: str, days: str | None) -> Variant:
    v, h = _new(root, name)
    _model(h, None)
    h.set("sessions.auto_prune", "true")
    if days is not None:
        h.set("sessions.retention_days", days)
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Draft a two-line status update."),
                   ("assistant", "Status: on track. Next: review.")], "20261203_070000_cc0003")
    return v


def prune_365(root: Path, llm: str | None) -> Variant:
    """sessions.auto_prune true with retention_days 365 (longer than a 90-day policy)."""
    return _retention(root, "prune-365", "365")


def prune_default_days(root: Path, llm: str | None) -> Variant:
    """sessions.auto_prune true, retention_days unset: Hermes prunes at its default 90."""
    return _retention(root, "prune-default-days", None)


def keys_in_config(root: Path, llm: str | None) -> Variant:
    """Every key as a literal in config.yaml (no .env): model.api_key, a pinned MCP
    server's --env token, the API server's key (platforms.api_server.extra.key) on
    loopback; terminal in docker."""
    v, h = _new(root, "keys-in-config")
    _model(h, None)
    key, token, server_key = fake_openai_key(), fake_github_token(), fake_openai_key()
    v.planted.update({"model.api_key": key, "mcp env": token, "api_server key": server_key})
    h.set("model.api_key", key)
    h.set("terminal.backend", "docker")
    h.set("platforms.api_server.enabled", "true")
    h.set("platforms.api_server.extra.host", "127.0.0.1")
    h.set("platforms.api_server.extra.key", server_key)
    h("mcp", "add", "files", "--command", "npx", "--env", f"GITHUB_TOKEN={token}",
      "--args", "-y", PINNED_MCP, "/srv/shared", stdin="y\n", check=False)
    return v


def refs_only(root: Path, llm: str | None) -> Variant:
    """Keys only as references (`${VAR}`, `hermes secrets onepassword`), an MCP server
    pinned with a `${VAR}` env, the API server enabled with API_SERVER_HOST=0.0.0.0 in .env
    (a public bind) and its key from the environment."""
    v, h = _new(root, "refs-only")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h("secrets", "onepassword", "set", "OPENAI_API_KEY", "op://Private/hermes/openai-api-key")
    h.set("terminal.backend", "docker")
    h.set("platforms.api_server.enabled", "true")
    h.set("API_SERVER_HOST", "0.0.0.0")
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h("mcp", "add", "files", "--command", "npx", "--env", "GITHUB_TOKEN=${GITHUB_TOKEN}",
      "--args", "-y", PINNED_MCP, "/srv/shared", stdin="y\n", check=False)
    session_db(h, [("user", "List three colours."), ("assistant", "Red, green, blue.")],
               "20261203_060000_dd0004")
    return v


def perms_open(root: Path, llm: str | None) -> Variant:
    """HERMES_HOME_MODE=0755 (hermes_cli/config.py _secure_dir honours it, e.g. for a web
    server reading the home) and an operator's `chmod 644 .env`: state.db (umask 0644) and
    the key in .env are readable by every local user."""
    v, h = _new(root, "perms-open", env={"HERMES_HOME_MODE": "0755"})
    _model(h, None)
    key = fake_openai_key()
    h.set("OPENAI_API_KEY", key)
    v.planted[".env OPENAI_API_KEY"] = key
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_050000_ee0005")
    h("sessions", "list", check=False)  # start-up applies HERMES_HOME_MODE to the home
    (v.hermes_home / ".env").chmod(0o644)
    return v


def env_0644_private_home(root: Path, llm: str | None) -> Variant:
    """`chmod 644 .env` inside the 0700 home Hermes keeps (its _secure_dir at start-up):
    no other local user can reach the file."""
    v, h = _new(root, "env-0644-private-home")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("API_SERVER_PORT", "8650")  # a non-secret .env entry
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_050000_ff0006")
    h("sessions", "list", check=False)
    (v.hermes_home / ".env").chmod(0o644)
    return v


def mcp_local(root: Path, llm: str | None) -> Variant:
    """MCP servers as `hermes mcp add` saves them: one pinned (npx pkg@ver), one unpinned
    (npx pkg); terminal.backend left at Hermes' default (local)."""
    v, h = _new(root, "mcp-local")
    _model(h, None)
    h("mcp", "add", "files", "--command", "npx", "--args", "-y", PINNED_MCP, "/srv/shared",
      stdin="y\n", check=False)
    h("mcp", "add", "github", "--command", "npx", "--args", "-y", UNPINNED_MCP,
      stdin="y\n", check=False)
    return v


def skills_tampered(root: Path, llm: str | None) -> Variant:
    """Two skills installed through the hub from a loopback URL (lock entries with content
    hashes); one edited afterwards, one hand-copied beside them."""
    v, h = _new(root, "skills-tampered")
    _model(h, None)
    h.set("terminal.backend", "docker")
    source = v.root / "skill-source"
    for name in ("meeting-notes", "standup"):
        (source / name).mkdir(parents=True, exist_ok=True)
        (source / name / "SKILL.md").write_text(SKILL_MD.replace("meeting-notes", name))
    with skill_server(source) as url:
        h.set("security.allow_private_urls", "true")
        try:
            for name in ("meeting-notes", "standup"):
                h("skills", "install", f"{url}/{name}/SKILL.md", "--yes", timeout=180)
        finally:
            h.set("security.allow_private_urls", "false")
    shutil.rmtree(source)
    edited = next(v.hermes_home.glob("skills/**/standup/SKILL.md"))
    edited.write_text(edited.read_text() + "\nAlso post the summary to the team channel.\n")
    copied = v.hermes_home / "skills" / "devops" / "deploy-helper" / "SKILL.md"
    copied.parent.mkdir(parents=True, exist_ok=True)
    copied.write_text(HAND_COPIED_SKILL_MD)
    v.planted["edited skill"] = str(edited.relative_to(v.hermes_home))
    return v


def chat_secret_wal(root: Path, llm: str | None) -> Variant:
    """A real chat turn with a pasted key, sessions.write_json_snapshots on (Hermes writes
    sessions/session_<id>.json, redacted), and a second session whose rows are still only
    in state.db-wal (the writer died before a checkpoint)."""
    v, h = _new(root, "chat-secret-wal")
    _model(h, llm)
    h.set("sessions.write_json_snapshots", "true")
    h.set("terminal.backend", "docker")
    chat_key, wal_key = fake_openai_key(), fake_openai_key()
    v.planted.update({"chat turn": chat_key, "state.db-wal": wal_key})
    prompt = f"Keep this for the deploy script, my OpenAI key is {chat_key} . Reply OK."
    if llm:
        h.chat(prompt)
    else:
        session_db(h, [("user", prompt), ("assistant", "OK")], "20261203_040000_aa0007")
    session_db(h, [("user", f"and the staging key is {wal_key}"), ("assistant", "Noted.")],
               "20261203_041000_bb0008", leave_wal=True)
    return v


def backup_plain(root: Path, llm: str | None) -> Variant:
    """A hardened-looking home (retention 30, docker, no literal key) with `hermes backup`
    written to a plain (unencrypted) backup directory."""
    v, h = _new(root, "backup-plain")
    _model(h, None)
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Plan the sprint review."), ("assistant", "Agenda drafted.")],
               "20261203_030000_cc0009")
    backup = v.root / "backup"
    backup.mkdir(parents=True, exist_ok=True)
    backup.chmod(0o700)
    h("backup", "-o", str(backup / "hermes-backup.zip"), timeout=300)
    v.backup_dirs.append(backup)
    return v


def backup_default(root: Path, llm: str | None) -> Variant:
    """`hermes backup` with no -o: the zip goes to the user's home
    (hermes_cli/backup.py run_backup: Path.home() / hermes-backup-<stamp>.zip), and the
    home holds a literal key in .env that the zip copies."""
    v, h = _new(root, "backup-default")
    _model(h, None)
    key = fake_openai_key()
    h.set("OPENAI_API_KEY", key)
    v.planted[".env OPENAI_API_KEY"] = key
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Plan the sprint review."), ("assistant", "Agenda drafted.")],
               "20261203_020000_dd0010")
    h("backup", timeout=300)
    return v


def api_env_key(root: Path, llm: str | None) -> Variant:
    """The API server enabled from .env only (`hermes config set API_SERVER_ENABLED true`
    and API_SERVER_KEY: gateway/config.py _apply_env_overrides), no host set: Hermes'
    default 127.0.0.1 (gateway/platforms/api_server.py DEFAULT_HOST)."""
    v, h = _new(root, "api-env-key")
    _model(h, None)
    server_key = secrets.token_hex(32)
    v.planted["API_SERVER_KEY"] = server_key
    h.set("API_SERVER_ENABLED", "true")
    h.set("API_SERVER_KEY", server_key)
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_010000_ee0011")
    return v


def mcp_http(root: Path, llm: str | None) -> Variant:
    """An HTTP MCP server added with `hermes mcp add --url --auth header` after its token
    was set (`hermes config set MCP_DOCS_API_KEY`): Hermes writes
    `Authorization: Bearer ${MCP_DOCS_API_KEY}` (hermes_cli/mcp_config.py
    _bearer_auth_headers) and keeps the token literal in .env."""
    v, h = _new(root, "mcp-http")
    _model(h, None)
    token = fake_github_token()
    v.planted["MCP_DOCS_API_KEY"] = token
    h.set("terminal.backend", "docker")
    h.set("MCP_DOCS_API_KEY", token)
    h("mcp", "add", "docs", "--url", "http://127.0.0.1:9/mcp", "--auth", "header",
      stdin="y\ny\ny\n", check=False)
    return v


def tokens_misc(root: Path, llm: str | None) -> Variant:
    """A literal key for an auxiliary model (auxiliary.vision.api_key in config.yaml) and a
    Telegram bot token in .env; terminal.backend left at its default."""
    v, h = _new(root, "tokens-misc")
    _model(h, None)
    key = fake_openai_key()
    bot = "7123456789:AA" + secrets.token_urlsafe(24)[:33]
    v.planted.update({"auxiliary.vision.api_key": key, "TELEGRAM_BOT_TOKEN": bot})
    h.set("auxiliary.vision.api_key", key)
    h.set("TELEGRAM_BOT_TOKEN", bot)
    return v


def backup_rotated_key(root: Path, llm: str | None) -> Variant:
    """A literal key in .env, `hermes backup -o` into the backup dir (the zip copies the
    whole home: hermes_cli/backup.py run_backup walks HERMES_HOME, .env included), then the
    key rotated out of the home: `hermes config unset OPENAI_API_KEY` and the key mapped
    from 1Password (`hermes secrets onepassword set`). The live home holds references only;
    the backup still holds the old literal key."""
    v, h = _new(root, "backup-rotated-key")
    _model(h, None)
    key = fake_openai_key()
    v.planted["backup .env OPENAI_API_KEY"] = key
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("OPENAI_API_KEY", key)
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Plan the sprint review."), ("assistant", "Agenda drafted.")],
               "20261203_023000_ab0012")
    backup = v.root / "backup"
    backup.mkdir(parents=True, exist_ok=True)
    backup.chmod(0o700)
    h("backup", "-o", str(backup / "hermes-backup.zip"), timeout=300)
    v.backup_dirs.append(backup)
    h("config", "unset", "OPENAI_API_KEY")
    h("secrets", "onepassword", "set", "OPENAI_API_KEY", "op://Private/hermes/openai-api-key")
    if key in (v.hermes_home / ".env").read_text():
        raise LabError("hermes config unset left the key in .env")
    return v


MANAGED_HARDENING = """# Managed scope pushed by IT (hermes_cli/managed_scope.py): wins per leaf key
terminal:
  backend: docker
sessions:
  auto_prune: true
  retention_days: 30
platforms:
  api_server:
    extra:
      host: 127.0.0.1
"""
MANAGED_WEAKENING = """# Managed scope pushed by IT (hermes_cli/managed_scope.py): wins per leaf key
terminal:
  backend: local
sessions:
  retention_days: 365
"""


def _managed(v: Variant, h: Hermes, config: str, env: str = "") -> None:
    """Write the managed dir as an administrator does (root-owned files Hermes only
    reads; there is no CLI that writes them) and point this Hermes at it with
    HERMES_MANAGED_DIR, as /etc/hermes would be on the host."""
    managed = v.root / "etc" / "hermes"
    managed.mkdir(parents=True, exist_ok=True)
    managed.chmod(0o755)
    (managed / "config.yaml").write_text(config)
    (managed / "config.yaml").chmod(0o644)
    if env:
        (managed / ".env").write_text(env)
        (managed / ".env").chmod(0o600)
    v.managed_dir = managed
    h.env["HERMES_MANAGED_DIR"] = str(managed)


def _resolved(h: Hermes, key: str) -> str:
    """What Hermes itself resolves for a key (`hermes config get`: load_config, managed
    overlay included)."""
    return h("config", "get", key).strip().splitlines()[-1].strip()


def managed_hardens(root: Path, llm: str | None) -> Variant:
    """The user's config.yaml leaves the terminal and retention at Hermes' defaults (local,
    never pruned) and enables the API server on 0.0.0.0; the managed scope pins
    terminal.backend docker, auto_prune with 30 days and the API server's host 127.0.0.1:
    Hermes runs with the managed values (hermes_cli/config.py _load_config_impl deep-merges
    the managed config over the user's; gateway/config.py applies the overlay too)."""
    v, h = _new(root, "managed-hardens")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("platforms.api_server.enabled", "true")
    h.set("platforms.api_server.extra.host", "0.0.0.0")
    h.set("platforms.api_server.extra.key", "${API_SERVER_KEY}")
    h.set("terminal.backend", "local")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_011500_ac0013")
    _managed(v, h, MANAGED_HARDENING)
    for key, want in (("terminal.backend", "docker"), ("sessions.retention_days", "30"),
                      ("platforms.api_server.extra.host", "127.0.0.1")):
        if _resolved(h, key) != want:
            raise LabError(f"Hermes does not resolve {key} from the managed scope")
    return v


def managed_weakens(root: Path, llm: str | None) -> Variant:
    """A hardened user config (docker, auto_prune 30 days, API server on 127.0.0.1, keys
    as references) under a managed scope that pins terminal.backend local, retention 365
    days, and in its .env API_SERVER_HOST=0.0.0.0 and a literal OPENAI_API_KEY
    (hermes_cli/env_loader.py _apply_managed_env loads it last, with override)."""
    v, h = _new(root, "managed-weakens")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("platforms.api_server.enabled", "true")
    h.set("platforms.api_server.extra.host", "127.0.0.1")
    h.set("platforms.api_server.extra.key", "${API_SERVER_KEY}")
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_011600_ad0014")
    key = fake_openai_key()
    v.planted["managed .env OPENAI_API_KEY"] = key
    _managed(v, h, MANAGED_WEAKENING,
             f"API_SERVER_HOST=0.0.0.0\nOPENAI_API_KEY={key}\n")
    for k, want in (("terminal.backend", "local"), ("sessions.retention_days", "365")):
        if _resolved(h, k) != want:
            raise LabError(f"Hermes does not resolve {k} from the managed scope")
    return v


def retention_days_suffix(root: Path, llm: str | None) -> Variant:
    """`hermes config set sessions.retention_days 30d`: config set keeps what is not all
    digits as a string (hermes_cli/config.py set_config_value), and cli.py
    _run_state_db_auto_maintenance's int("30d") raises inside its try: nothing is pruned."""
    return _retention(root, "retention-days-suffix", "30d")


def prune_interval_string(root: Path, llm: str | None) -> Variant:
    """auto_prune true, retention_days 30, then `hermes config set
    sessions.min_interval_hours 12h`: the same int() inside the same try skips pruning."""
    v = _retention(root, "prune-interval-string", "30")
    Hermes(v.home, v.hermes_home, v.root / "hermes-cli.log", {}).set(
        "sessions.min_interval_hours", "12h")
    return v


def memory_secret(root: Path, llm: str | None) -> Variant:
    """A hardened home (docker, auto_prune 30 days, key as `${VAR}`) whose built-in memory
    holds a key the user asked the agent to remember: written by Hermes' own MemoryStore
    (tools/memory_tool.py add: verbatim, its threat scan looks for injection only)."""
    v = _retention(root, "memory-secret", "30")
    h = Hermes(v.home, v.hermes_home, v.root / "hermes-cli.log", {})
    h.set("model.api_key", "${OPENAI_API_KEY}")
    key = fake_openai_key()
    v.planted["memories/MEMORY.md"] = key
    code = ("import sys\nfrom tools.memory_tool import MemoryStore\n"
            "m = MemoryStore()\n"
            f"r = m.add('memory', 'The CI deploy job uses the OpenAI key {key} .')\n"
            "r2 = m.add('user', 'Prefers answers in one line.')\n"
            "sys.exit(0 if r.get('success') and r2.get('success') else 1)\n")
    subprocess.run([str(HERMES_VENV / "bin" / "python"), "-c", code], env=h.env, check=True,
                   capture_output=True, timeout=120, cwd=h.home)
    return v


def _docker_setting(root: Path, name: str, key: str, value: str) -> Variant:
    v = _retention(root, name, "30")
    Hermes(v.home, v.hermes_home, v.root / "hermes-cli.log", {}).set(key, value)
    return v


def docker_sock_cli(root: Path, llm: str | None) -> Variant:
    """terminal.backend docker, then `hermes config set terminal.docker_volumes
    '["/var/run/docker.sock:/var/run/docker.sock"]'`: config.yaml keeps the JSON as a
    string and .env gets TERMINAL_DOCKER_VOLUMES; cli.py bridges it into the environment
    as is and tools/terminal_tool.py json.loads it: the sandbox gets the host's Docker."""
    return _docker_setting(root, "docker-sock-cli", "terminal.docker_volumes",
                           '["/var/run/docker.sock:/var/run/docker.sock"]')


def docker_privileged(root: Path, llm: str | None) -> Variant:
    """terminal.backend docker with `hermes config set terminal.docker_extra_args
    '["--privileged"]'` ("passed verbatim to docker run": hermes_cli/config.py)."""
    return _docker_setting(root, "docker-privileged", "terminal.docker_extra_args",
                           '["--privileged"]')


def ssh_backend(root: Path, llm: str | None) -> Variant:
    """terminal.backend ssh to another host (website/docs/user-guide/security.md: the
    isolation it recommends), auto_prune 30 days, no literal key."""
    v, h = _new(root, "ssh-backend")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("terminal.backend", "ssh")
    h.set("terminal.ssh_host", "sandbox.internal")
    h.set("terminal.ssh_user", "agent")
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    session_db(h, [("user", "Name a prime number."), ("assistant", "Seven.")],
               "20261203_040000_ab0007")
    return v


def _env_only(root: Path, name: str, extra: tuple[tuple[str, str], ...] = ()) -> Variant:
    """auto_prune 30 days, `hermes config set terminal.backend docker` (and the extra
    terminal keys), then `hermes config unset terminal`: config set wrote each key to
    config.yaml and mirrored it into .env (TERMINAL_ENV, TERMINAL_DOCKER_*), and unsetting
    the whole section drops it from config.yaml only, so .env alone selects the backend."""
    v, h = _new(root, name)
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    for key, value in extra:
        h.set(key, value)
    h("config", "unset", "terminal")
    env = (v.hermes_home / ".env").read_text()
    if "TERMINAL_ENV=docker" not in env or "terminal" in (v.hermes_home /
                                                            "config.yaml").read_text():
        raise LabError(f"{name}: .env lost TERMINAL_ENV or config.yaml kept its terminal")
    session_db(h, [("user", "List three colours."), ("assistant", "Red, green, blue.")],
               "20261203_050000_ab0e01")
    return v


def env_only_docker(root: Path, llm: str | None) -> Variant:
    """The docker backend left only in .env (TERMINAL_ENV=docker): config.yaml has no
    terminal section, so neither cli.py load_cli_config nor gateway/run.py touches it and
    terminal_tool runs the docker backend."""
    return _env_only(root, "env-only-docker")


def env_only_docker_sock(root: Path, llm: str | None) -> Variant:
    """As env-only-docker, with terminal.docker_volumes mounting the host's Docker socket
    (.env TERMINAL_DOCKER_VOLUMES, as `hermes config set` escaped it)."""
    return _env_only(root, "env-only-docker-sock", (
        ("terminal.docker_volumes", '["/var/run/docker.sock:/var/run/docker.sock"]'),))


def env_docker_terminal_section(root: Path, llm: str | None) -> Variant:
    """As env-only-docker, then `hermes config set terminal.timeout 120`: config.yaml
    has a terminal section again, without backend, so cli.py exports its DEFAULT
    env_type `local` over .env's TERMINAL_ENV (the gateway keeps docker)."""
    v = _env_only(root, "env-docker-terminal-section")
    Hermes(v.home, v.hermes_home, v.root / "hermes-cli.log", {}).set("terminal.timeout",
                                                                     "120")
    return v


MANAGED_POLICY = """# Managed scope at HERMES_MANAGED_DIR (managed_scope.py get_managed_dir)
terminal:
  backend: docker
sessions:
  auto_prune: true
  retention_days: 30
"""


def managed_dir_unit(root: Path, llm: str | None) -> Variant:
    """The user's config.yaml leaves terminal and retention at Hermes' defaults (local,
    never pruned); the administrator's managed scope lives in /etc/hermes-policy, which
    only the gateway unit's `Environment=HERMES_MANAGED_DIR=` names (get_managed_dir: the
    variable replaces /etc/hermes). Built with the variable in the CLI's environment and
    checked with `hermes config get` that Hermes resolves the managed values."""
    v, h = _new(root, "managed-dir-unit")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("terminal.backend", "local")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_011700_ad0015")
    managed = v.root / "etc" / "hermes-policy"
    managed.mkdir(parents=True)
    managed.chmod(0o755)
    (managed / "config.yaml").write_text(MANAGED_POLICY)
    (managed / "config.yaml").chmod(0o644)
    v.managed_dir = managed
    h.env["HERMES_MANAGED_DIR"] = str(managed)
    for key, want in (("terminal.backend", "docker"), ("sessions.retention_days", "30")):
        if _resolved(h, key) != want:
            raise LabError(f"Hermes does not resolve {key} from HERMES_MANAGED_DIR")
    v.unit = {"name": "hermes-gateway", "env": {"HERMES_MANAGED_DIR": "/etc/hermes-policy"}}
    return v


def managed_dir_missing(root: Path, llm: str | None) -> Variant:
    """/etc/hermes pins docker and auto_prune 30 days (MANAGED_POLICY), but the gateway
    unit's Environment=HERMES_MANAGED_DIR names /etc/hermes-none, which does not exist:
    get_managed_dir then returns None without falling back to /etc/hermes, so the user's
    own config (local, never pruned) runs. Checked with `hermes config get` under a
    variable naming a missing dir."""
    v, h = _new(root, "managed-dir-missing")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("terminal.backend", "local")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_011800_ad0016")
    managed = v.root / "etc" / "hermes"
    managed.mkdir(parents=True)
    managed.chmod(0o755)
    (managed / "config.yaml").write_text(MANAGED_POLICY)
    (managed / "config.yaml").chmod(0o644)
    v.managed_dir = managed
    for where, want in ((managed, ("docker", "true")),  # the policy works where named
                        (v.root / "etc" / "hermes-none", ("local", "false"))):
        h.env["HERMES_MANAGED_DIR"] = str(where)
        got = (_resolved(h, "terminal.backend"), _resolved(h, "sessions.auto_prune"))
        if got != want:
            raise LabError(f"HERMES_MANAGED_DIR={where}: Hermes resolves {got}, not {want}")
    v.unit = {"name": "hermes-gateway", "env": {"HERMES_MANAGED_DIR": "/etc/hermes-none"}}
    return v


def profile_env_docker(root: Path, llm: str | None) -> Variant:
    """A hardened default home (docker, auto_prune 30) and a profile `work` whose docker
    backend is left only in its own .env (`hermes -p work config set terminal.backend
    docker`, then `hermes -p work config unset terminal`)."""
    v, h = _new(root, "profile-env-docker")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_011900_ad0017")
    h("profile", "create", "work", "--no-alias")
    for args in (("config", "set", "model.api_key", "${OPENAI_API_KEY}"),
                 ("config", "set", "sessions.auto_prune", "true"),
                 ("config", "set", "sessions.retention_days", "30"),
                 ("config", "set", "terminal.backend", "docker"),
                 ("config", "unset", "terminal")):
        h("-p", "work", *args)
    work = v.hermes_home / "profiles" / "work"
    if "TERMINAL_ENV=docker" not in (work / ".env").read_text() or \
            "terminal" in (work / "config.yaml").read_text():
        raise LabError("profile-env-docker: the profile's backend is not in its .env only")
    return v


MANAGED_LAX = """# A second managed dir, named by the home's own .env
terminal:
  backend: local
sessions:
  retention_days: 365
"""


def _save_env(h: Hermes, key: str, value: str) -> None:
    """Hermes' own .env writer (hermes_cli/config.py save_env_value): `hermes config set`
    routes only known env keys to .env and saved HERMES_MANAGED_DIR as a top-level
    config.yaml key, which get_managed_dir never reads at start-up (checked)."""
    code = ("import sys\nfrom hermes_cli.config import save_env_value\n"
            "save_env_value(sys.argv[1], sys.argv[2])\n")
    subprocess.run([str(HERMES_VENV / "bin" / "python"), "-c", code, key, value],
                   env=h.env, check=True, capture_output=True, timeout=120, cwd=h.home)


def _policy_dir(v: Variant, name: str, text: str) -> Path:
    managed = v.root / "etc" / name
    managed.mkdir(parents=True, exist_ok=True)
    managed.chmod(0o755)
    (managed / "config.yaml").write_text(text)
    (managed / "config.yaml").chmod(0o644)
    return managed


def managed_dir_in_env(root: Path, llm: str | None) -> Variant:
    """The user's config.yaml leaves terminal and retention at Hermes' defaults; the
    home's own .env names the managed dir (HERMES_MANAGED_DIR=/etc/hermes-policy, no
    unit, no /etc/hermes): load_hermes_dotenv loads .env with override=True before
    _apply_managed_env / get_managed_dir read the variable, so every entry point loads
    the policy (docker, auto_prune 30 days). Checked with `hermes config get`; the .env
    then names the dir as the host has it (/etc/hermes-policy: the audit overlays it)."""
    v, h = _new(root, "managed-dir-in-env")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_012000_ad0018")
    managed = _policy_dir(v, "hermes-policy", MANAGED_POLICY)
    v.managed_dir = managed
    _save_env(h, "HERMES_MANAGED_DIR", str(managed))
    for key, want in (("terminal.backend", "docker"), ("sessions.retention_days", "30"),
                      ("sessions.auto_prune", "true")):
        if _resolved(h, key) != want:
            raise LabError(f"Hermes does not resolve {key} from .env's HERMES_MANAGED_DIR")
    if "TERMINAL_ENV" in (v.hermes_home / ".env").read_text():
        raise LabError("managed-dir-in-env: .env has a TERMINAL_ENV")
    _save_env(h, "HERMES_MANAGED_DIR", "/etc/hermes-policy")
    return v


def managed_dir_env_over_unit(root: Path, llm: str | None) -> Variant:
    """The gateway unit's Environment=HERMES_MANAGED_DIR=/etc/hermes-policy pins docker
    and auto_prune 30 days, but the home's own .env names /etc/hermes-lax (local, 365
    days): .env is loaded with override=True over the unit's environment before
    get_managed_dir, so the lax dir is the one Hermes loads. Checked with `hermes config
    get` under the unit's variable."""
    v, h = _new(root, "managed-dir-env-over-unit")
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], "20261203_012100_ad0019")
    policy = _policy_dir(v, "hermes-policy", MANAGED_POLICY)
    lax = _policy_dir(v, "hermes-lax", MANAGED_LAX)
    v.managed_dir = policy
    h.env["HERMES_MANAGED_DIR"] = str(policy)
    if _resolved(h, "terminal.backend") != "docker":
        raise LabError("Hermes does not resolve the unit's HERMES_MANAGED_DIR")
    _save_env(h, "HERMES_MANAGED_DIR", str(lax))
    for key, want in (("terminal.backend", "local"), ("sessions.retention_days", "365"),
                      ("sessions.auto_prune", "false")):
        if _resolved(h, key) != want:
            raise LabError(f".env's HERMES_MANAGED_DIR does not win over the unit's ({key})")
    _save_env(h, "HERMES_MANAGED_DIR", "/etc/hermes-lax")
    v.unit = {"name": "hermes-gateway", "env": {"HERMES_MANAGED_DIR": "/etc/hermes-policy"}}
    return v


def _hardened(root: Path, name: str, session: str, env: dict[str, str] | None = None
              ) -> tuple[Variant, Hermes]:
    """docker, auto_prune 30 days, the key as a ${VAR} reference, one clean session."""
    v, h = _new(root, name, env=env)
    _model(h, None)
    h.set("model.api_key", "${OPENAI_API_KEY}")
    h.set("sessions.auto_prune", "true")
    h.set("sessions.retention_days", "30")
    h.set("terminal.backend", "docker")
    session_db(h, [("user", "Hello"), ("assistant", "Hi.")], session)
    return v, h


def profile_managed_env(root: Path, llm: str | None) -> Variant:
    """A hardened default home and a profile `work` hardened the same way with `hermes -p
    work config set`, whose own .env names HERMES_MANAGED_DIR=/etc/hermes-lax (local,
    365 days): the profile's processes load profiles/work/.env before get_managed_dir."""
    v, h = _hardened(root, "profile-managed-env", "20261203_012200_ad0020")
    h("profile", "create", "work", "--no-alias")
    for args in (("config", "set", "model.api_key", "${OPENAI_API_KEY}"),
                 ("config", "set", "sessions.auto_prune", "true"),
                 ("config", "set", "sessions.retention_days", "30"),
                 ("config", "set", "terminal.backend", "docker")):
        h("-p", "work", *args)
    work_home = v.hermes_home / "profiles" / "work"
    w = Hermes(v.home, work_home, v.root / "hermes-cli.log", {})
    session_db(w, [("user", "Hello"), ("assistant", "Hi.")], "20261203_012300_ad0021")
    lax = _policy_dir(v, "hermes-lax", MANAGED_LAX)
    v.managed_dir = lax
    _save_env(w, "HERMES_MANAGED_DIR", str(lax))
    got = (_resolved(w, "terminal.backend"), _resolved(w, "sessions.retention_days"),
           _resolved(h, "terminal.backend"))
    if got != ("local", "365", "docker"):
        raise LabError(f"profile-managed-env: Hermes resolves {got}")
    _save_env(w, "HERMES_MANAGED_DIR", "/etc/hermes-lax")
    return v


def platform_token_config(root: Path, llm: str | None) -> Variant:
    """`hermes config set platforms.telegram.token <bot token>`: config set keeps it in
    config.yaml (gateway/config.py PlatformConfig.from_dict reads it), with
    platforms.telegram.enabled true; the home otherwise hardened."""
    v, h = _hardened(root, "platform-token-config", "20261203_012400_ad0022")
    bot = "7123456789:AA" + secrets.token_urlsafe(24)[:33]
    v.planted["platforms.telegram.token"] = bot
    h.set("platforms.telegram.token", bot)
    h.set("platforms.telegram.enabled", "true")
    if bot not in (v.hermes_home / "config.yaml").read_text():
        raise LabError("platform-token-config: config set did not keep the token in config.yaml")
    return v


def home_mode_0750(root: Path, llm: str | None) -> Variant:
    """HERMES_HOME_MODE=0750 (hermes_cli/config.py _secure_dir applies it at start-up):
    the home's group reaches state.db (umask 0644); otherwise hardened."""
    v, h = _hardened(root, "home-mode-0750", "20261203_012500_ad0023",
                     env={"HERMES_HOME_MODE": "0750"})
    h("sessions", "list", check=False)  # start-up applies HERMES_HOME_MODE to the home
    if v.hermes_home.stat().st_mode & 0o777 != 0o750:
        raise LabError("home-mode-0750: Hermes did not apply HERMES_HOME_MODE")
    return v


def unit_serve_env_local(root: Path, llm: str | None) -> Variant:
    """config.yaml terminal.backend docker (hardened otherwise), TERMINAL_ENV taken out of
    .env with Hermes' own remove_env_value (hermes_cli/config.py), and the operator's
    `hermes serve` unit setting Environment=TERMINAL_ENV=local: the serve process keeps
    it (tools/terminal_tool.py _ensure_terminal_env_bridged). Checked by loading the home
    as serve does, with the unit's variable in the environment."""
    v, h = _hardened(root, "unit-serve-env-local", "20261203_012600_ad0024")
    code = ("from hermes_cli.config import remove_env_value\n"
            "remove_env_value('TERMINAL_ENV')\n")
    subprocess.run([str(HERMES_VENV / "bin" / "python"), "-c", code], env=h.env, check=True,
                   capture_output=True, timeout=120, cwd=h.home)
    if "TERMINAL_ENV" in (v.hermes_home / ".env").read_text():
        raise LabError("unit-serve-env-local: .env kept TERMINAL_ENV")
    probe = ("from hermes_cli.env_loader import load_hermes_dotenv\nload_hermes_dotenv()\n"
             "import tools.terminal_tool as t\nprint(t._get_env_config()['env_type'])\n")
    for env, want in (({}, "docker"), ({"TERMINAL_ENV": "local"}, "local")):
        out = subprocess.run([str(HERMES_VENV / "bin" / "python"), "-c", probe],
                             env={**h.env, **env}, check=True, capture_output=True,
                             text=True, timeout=120, cwd=h.home).stdout.strip()
        if out.splitlines()[-1:] != [want]:
            raise LabError(f"unit-serve-env-local: serve resolves {out!r}, not {want}")
    v.unit = {"name": "hermes-serve", "env": {"TERMINAL_ENV": "local"}, "exec": "serve"}
    return v


def _gateway_api(h: Hermes, env: dict[str, str]) -> tuple[object, object]:
    """(enabled, host) of the API server as Hermes' gateway loads it
    (gateway/config.py load_gateway_config, after the gateway's .env loading), with `env`
    as the service's environment."""
    code = ("import os\nfrom hermes_cli.env_loader import load_hermes_dotenv\n"
            "load_hermes_dotenv()\nfrom gateway.config import load_gateway_config, Platform\n"
            "p = load_gateway_config().platforms.get(Platform.API_SERVER)\n"
            "host = p.extra.get('host', os.getenv('API_SERVER_HOST', '127.0.0.1')) if p "
            "else None\nprint(bool(p and p.enabled), host)\n")
    out = subprocess.run([str(HERMES_VENV / "bin" / "python"), "-c", code],
                         env={**h.env, **env}, check=True, capture_output=True, text=True,
                         timeout=120, cwd=h.home).stdout.split()
    return out[-2], out[-1]


def unit_api_host_public(root: Path, llm: str | None) -> Variant:
    """The API server enabled in config.yaml with its key as ${API_SERVER_KEY} and no
    host; the gateway unit sets Environment=API_SERVER_HOST=0.0.0.0: api_server.py takes
    the environment's host when config.yaml has none."""
    v, h = _hardened(root, "unit-api-host-public", "20261203_012700_ad0025")
    h.set("platforms.api_server.enabled", "true")
    h.set("platforms.api_server.extra.key", "${API_SERVER_KEY}")
    got = _gateway_api(h, {"API_SERVER_HOST": "0.0.0.0",
                           "API_SERVER_KEY": secrets.token_hex(32)})
    if got != ("True", "0.0.0.0"):
        raise LabError(f"unit-api-host-public: the gateway loads {got}")
    v.unit = {"name": "hermes-gateway", "env": {"API_SERVER_HOST": "0.0.0.0"}}
    return v


def env_host_config_host(root: Path, llm: str | None) -> Variant:
    """platforms.api_server enabled with extra.host 127.0.0.1 and a literal extra.key in
    config.yaml, then `hermes config set API_SERVER_HOST 0.0.0.0` (a top-level key the
    gateway bridges into its environment): without API_SERVER_ENABLED/API_SERVER_KEY in
    the environment, gateway/config.py leaves extra.host, which api_server.py prefers."""
    v, h = _hardened(root, "env-host-config-host", "20261203_012800_ad0026")
    server_key = secrets.token_hex(32)
    v.planted["platforms.api_server.extra.key"] = server_key
    h.set("platforms.api_server.enabled", "true")
    h.set("platforms.api_server.extra.host", "127.0.0.1")
    h.set("platforms.api_server.extra.key", server_key)
    h.set("API_SERVER_HOST", "0.0.0.0")
    got = _gateway_api(h, {"API_SERVER_HOST": "0.0.0.0"})  # as the bridge exports it
    if got != ("True", "127.0.0.1"):
        raise LabError(f"env-host-config-host: the gateway loads {got}")
    return v


BUILDERS: dict[str, Callable[[Path, str | None], Variant]] = {
    "fresh": fresh, "custom-home": custom_home, "profiles": profiles,
    "prune-365": prune_365, "prune-default-days": prune_default_days,
    "keys-in-config": keys_in_config, "refs-only": refs_only, "perms-open": perms_open,
    "env-0644-private-home": env_0644_private_home, "mcp-local": mcp_local,
    "skills-tampered": skills_tampered, "chat-secret-wal": chat_secret_wal,
    "backup-plain": backup_plain, "backup-default": backup_default,
    "api-env-key": api_env_key, "mcp-http": mcp_http, "tokens-misc": tokens_misc,
    "backup-rotated-key": backup_rotated_key, "managed-hardens": managed_hardens,
    "managed-weakens": managed_weakens, "retention-days-suffix": retention_days_suffix,
    "prune-interval-string": prune_interval_string, "memory-secret": memory_secret,
    "docker-sock-cli": docker_sock_cli, "docker-privileged": docker_privileged,
    "ssh-backend": ssh_backend, "env-only-docker": env_only_docker,
    "env-only-docker-sock": env_only_docker_sock,
    "env-docker-terminal-section": env_docker_terminal_section,
    "managed-dir-unit": managed_dir_unit, "managed-dir-missing": managed_dir_missing,
    "profile-env-docker": profile_env_docker,
    "managed-dir-in-env": managed_dir_in_env,
    "managed-dir-env-over-unit": managed_dir_env_over_unit,
    "profile-managed-env": profile_managed_env, "platform-token-config": platform_token_config,
    "home-mode-0750": home_mode_0750, "unit-serve-env-local": unit_serve_env_local,
    "unit-api-host-public": unit_api_host_public, "env-host-config-host": env_host_config_host,
}
CHATS = ("custom-home", "profiles", "chat-secret-wal")


def audit_toml(v: Variant, scope: str = "home") -> str:
    """The audit config of one variant in the README's form: `[deployment] homes` naming
    the Hermes home ("home") or the user home above it ("user": autodetection)."""
    named = v.hermes_home if scope == "home" else v.home
    lines = ["[deployment]", f'homes = ["{named}"]', ""]
    if v.backup_dirs:
        lines += ["[storage]", "backup_dirs = [" + ", ".join(f'"{b}"' for b in v.backup_dirs)
                  + "]", ""]
    lines += ["[supply_chain]", f'baseline_file = "{v.root / "supply-chain-baseline.json"}"',
              'allowed_registries = ["url:127.0.0.1"]', ""]
    return "\n".join(lines)


def build(root: Path, names: list[str], chat: bool = True) -> dict[str, Variant]:
    hermes_bin()
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Variant] = {}

    def run(llm: str | None) -> None:
        for name in names:
            if (root / name).exists():
                shutil.rmtree(root / name)
            started = time.monotonic()
            out[name] = BUILDERS[name](root, llm if name in CHATS else None)
            for scope in ("home", "user"):
                (root / name / f"audit-{scope}.toml").write_text(audit_toml(out[name], scope))
            print(f"built {name} in {time.monotonic() - started:.0f}s", file=sys.stderr)

    if chat and any(n in CHATS for n in names):
        with loopback_llm(root / "llm.log") as llm_url:
            run(llm_url)
    else:
        run(None)
    index = root / "variants.json"  # what selftests/record_hermes_fixtures.py packs
    known = json.loads(index.read_text()) if index.exists() else {}
    known.update({n: describe(v) for n, v in out.items()})
    index.write_text(json.dumps(known, indent=1))
    return out


def describe(v: Variant) -> dict[str, object]:
    return {"hermes_home": str(v.hermes_home), "home": str(v.home),
            "backup_dirs": [str(b) for b in v.backup_dirs], "chat": v.name in CHATS,
            "managed_dir": str(v.managed_dir) if v.managed_dir else "", "unit": v.unit}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m aiaudit.lab.hermes_variants")
    parser.add_argument("op", choices=("build",))
    parser.add_argument("root", type=Path)
    parser.add_argument("--only", nargs="*", choices=sorted(BUILDERS))
    parser.add_argument("--no-chat", action="store_true",
                        help="write chat sessions through SessionDB instead of the model")
    args = parser.parse_args(argv)
    try:
        built = build(args.root, args.only or list(BUILDERS), chat=not args.no_chat)
    except (LabError, subprocess.SubprocessError, OSError) as exc:
        print(f"hermes_variants: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    print(json.dumps({n: describe(v) for n, v in built.items()}))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
