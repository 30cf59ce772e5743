"""More real OpenClaw 2026.9.6 deployment states, built with OpenClaw's own CLI.

`python3 -m aiaudit.lab.openclaw_variants build DIR [--only NAME ...]` makes one HOME per
variant under DIR (beside the two states of `aiaudit.lab.openclaw_states`). Each variant is
what a new user gets from `openclaw onboard --non-interactive` plus the CLI commands (and
the hand edits OpenClaw's docs describe) named in VARIANTS; `selftests/
record_openclaw_variants.py` records them as fixtures and `selftests/expected/real/
openclaw_variants.toml` holds the exact status per control, written from OpenClaw's source
and docs before the suite ran.

Defaults relied on (npm openclaw 2026.9.6, docs shipped in node_modules/openclaw/docs):
- session.maintenance.mode "enforce", pruneAfter "30d", resetArchiveRetention "keep"
  (docs/reference/session-management-compaction/maintenance.md; dist/store-maintenance-*.mjs
  resolveMaintenanceConfigFromInput);
- agents.defaults.sandbox.mode "off" (docs/gateway/config-agents/sandbox.md);
- gateway.bind loopback, auth token (docs/gateway/config-gateway.md);
- `$include` and `${VAR}` (docs/gateway/configuration/common-tasks.md,
  docs/gateway/configuration/environment-variables.md);
- SecretRef sources env/file/exec (docs/gateway/config-secrets-env.md);
- `logging.redactPatterns` replaces the default transcript redaction list (docs/logging.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from aiaudit.lab import openclaw_states as st

# Secret-shaped values no account owns: made up for the lab states, in the formats the
# suite must find (OpenAI project key, OpenRouter key).
PASTED_KEY = "sk-proj-Vx3Kq9Lm2Np7Rt4Wz8Yb1Cd6Fg0Hj5Ks3Qa"
# Formats OpenClaw's transcript redaction may not know (made up for the lab).
PASTED_DSN = "postgres://ledger:Vq8nT3kLr9Xw2Zp5@db.internal:5432/ledger"
PASTED_STRIPE = "sk_live_51Hq8XvLm2Np7Rt4Wz8Yb1Cd6Fg0Hj5Ks3QaZ"
LITERAL_PASSWORD = "correct-horse-battery-staple-7731"
VARIANTS = ("fresh", "custom-paths", "lan-password-warn", "custom-bind-refs",
            "multi-agent-mcp-skills", "pasted-secret", "private-backup", "legacy-clawdbot",
            "profile-work", "gateway-old-backup", "legacy-auth-doctor", "custom-bind-zero-pad",
            "tailnet-trusted-proxy", "sandbox-exec-yolo", "telegram-bot-token",
            "telegram-use-env", "maintenance-warn-7d", "main-sandbox-off",
            "approvals-auto-allow", "main-sandbox-all-defaults-off", "agent-added-inherits-off",
            "audit-fix-lan-plaintext", "exec-yolo-main-host-sandbox", "sandbox-all-rw-root",
            "tailscale-serve", "elevated-enabled-no-allowfrom", "elevated-allowfrom-default-on",
            "elevated-main-off", "elevated-work-agent", "elevated-lists-disjoint",
            "approvals-full-sandboxed", "lan-password-ref", "custom-bind-lan-ip")
TELEGRAM_TOKEN = "7712345678:AAHf3kLm9Xq2Vb7Nc4Rt8Wz1Yd6Gj0Ks5Pe"  # made up for the lab
LEGACY_KEY = "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"  # made up


def _state(home: Path) -> Path:
    return home / ".openclaw"


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def fresh(root: Path, llm: str) -> Path:
    """`openclaw onboard --non-interactive` only: SecretRef mode, loopback, token from env;
    no session, no skill, no MCP server; modes as OpenClaw made them."""
    home = root / "fresh"
    home.mkdir(parents=True)
    st._onboard(home, llm, plaintext=False, bind="loopback",
                env={"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
                     "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()})
    return home


def custom_paths(root: Path, llm: str) -> Path:
    """OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH elsewhere (not ~/.openclaw); the config
    then hand-edited to JSON5 with comments, a `$include` for the gateway block and `${VAR}`
    for its password; the provider key stays a literal (plaintext onboarding)."""
    home = root / "custom-paths"
    state = home / "srv/openclaw-data"
    config = home / "etc/openclaw/openclaw.json5"
    config.parent.mkdir(parents=True)
    env = {"OPENCLAW_STATE_DIR": str(state), "OPENCLAW_CONFIG_PATH": str(config),
           "OC_GW_PASSWORD": "pw-" + os.urandom(12).hex()}
    home.mkdir(exist_ok=True)
    st._onboard(home, llm, plaintext=True, bind="loopback", env=env)
    doc = json.loads(config.read_text())
    doc.pop("gateway", None)
    body = json.dumps(doc, indent=2)[1:-2]
    _write(config.parent / "gateway.json5",
           "// gateway: listen on the LAN, password from the environment\n"
           "{\n  mode: 'local',\n  port: 18789,\n  bind: 'lan',\n"
           "  auth: { mode: 'password', password: '${OC_GW_PASSWORD}' },\n}\n")
    _write(config, "// OpenClaw config, edited by hand (JSON5)\n{\n"
           "  /* the gateway lives in its own file */\n"
           "  gateway: { $include: './gateway.json5' },\n" + body + ",\n}\n")
    st.oc(home, "config", "validate", env=env)
    return home


def lan_password_warn(root: Path, llm: str) -> Path:
    """bind lan with a literal password, session maintenance warn/365d, a clean chat turn."""
    home = root / "lan-password-warn"
    home.mkdir(parents=True)
    st._onboard(home, llm, plaintext=True, bind="lan")
    st.config_batch(home, [
        st.SHORT_ANSWERS, st.SHORT_PROMPT,
        {"path": "gateway.auth", "value": {"mode": "password", "password": LITERAL_PASSWORD}},
        {"path": "session.maintenance", "value": {"mode": "warn", "pruneAfter": "365d"}},
    ])
    st._turn(home, "Which city is the capital of France?")
    return home


def custom_bind_refs(root: Path, llm: str) -> Path:
    """bind custom on 127.0.0.1 with token auth from a file SecretRef, the provider key from
    an exec provider, maintenance enforce with pruneAfter 365d, hand-set 0700/0600."""
    home = root / "custom-bind-refs"
    home.mkdir(parents=True)
    secrets_dir = home / "secrets"
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    _write(secrets_dir / "openclaw.json", json.dumps(
        {"gateway": {"token": os.urandom(24).hex()}}))
    secrets_dir.chmod(0o700)
    resolver = secrets_dir / "resolver.sh"
    _write(resolver, "#!/bin/sh\nexec cat /dev/null\n", 0o700)
    st.config_batch(home, [
        {"path": "secrets.providers", "value": {
            "vault": {"source": "exec", "command": str(resolver)},
            "files": {"source": "file", "path": str(secrets_dir / "openclaw.json"),
                      "mode": "json"}}},
        {"path": "gateway.bind", "value": "custom"},
        {"path": "gateway.customBindHost", "value": "127.0.0.1"},
        {"path": "gateway.auth", "value": {"mode": "token", "token": {
            "source": "file", "provider": "files", "id": "/gateway/token"}}},
        {"path": "models.providers.lab-llm.apiKey", "value": {
            "source": "exec", "provider": "vault", "id": "lab-llm/apiKey"}},
        {"path": "session.maintenance", "value": {"mode": "enforce", "pruneAfter": "365d"}},
    ], env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def multi_agent_mcp_skills(root: Path, llm: str) -> Path:
    """Two agents (main, work), sandbox non-main with work overriding it to off, two MCP
    servers (one pinned with a ${VAR} secret, one unpinned remote with a literal header),
    a workspace skill installed from a local dir, a managed (global) skill, and a skill
    left in the legacy ~/.clawdbot/skills."""
    home = root / "multi-agent-mcp-skills"
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    st.oc(home, "agents", "add", "work", "--workspace", str(_state(home) / "workspace-work"),
          "--non-interactive", env=env)
    st.config_batch(home, [
        {"path": "agents.defaults.sandbox.mode", "value": "non-main"},
        {"path": "mcp.servers.fs", "value": {
            "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21",
                                       "/srv/docs"]}},
        {"path": "mcp.servers.tracker", "value": {
            "url": "https://mcp.tracker.example/mcp",
            "headers": {"Authorization": "Bearer trk_live_9Fq2Lm7Xv4Rt8Wz1Yb6Cd3Hj"}}},
    ], env=env)
    st.config_batch(home, [{"path": "agents.entries.work.sandbox", "value": {"mode": "off"}}],
                    env=env)
    src = st._skill_source(root, "ticket-triage", "Sort the tickets the user pastes by urgency.")
    st.oc(home, "skills", "install", str(src), "--agent", "main", env=env)
    src = st._skill_source(root, "meeting-minutes", "Turn pasted meeting notes into minutes.")
    st.oc(home, "skills", "install", str(src), "--global", env=env)
    legacy = home / ".clawdbot/skills/old-helper"
    _write(legacy / "SKILL.md", "---\nname: old-helper\ndescription: Answer in one line."
           "\n---\n# old-helper\n\nAnswer in one line.\n", 0o644)
    return home


def pasted_secret(root: Path, llm: str) -> Path:
    """`logging.redactPatterns` replaced by a pattern that matches nothing (docs/logging.md:
    the list replaces the default string list for transcripts; its built-in structural
    protections stay), then an OpenAI key, a database URL with its password and a Stripe
    key pasted in the chat (seen: OpenClaw still masks the `sk-proj-` key)."""
    home = root / "pasted-secret"
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    st.config_batch(home, [st.SHORT_ANSWERS, st.SHORT_PROMPT,
                           {"path": "logging.redactPatterns", "value": ["^NO-SUCH-SECRET$"]}],
                    env=env)
    st._turn(home, f"Keep these for the deploy: {PASTED_KEY}, the database is "
             f"{PASTED_DSN} and billing uses {PASTED_STRIPE}", env=env)
    return home


def private_backup(root: Path, llm: str, backups: Path) -> Path:
    """The hardened baseline on a fresh onboarding: a clean chat turn, maintenance enforce
    30d with resetArchiveRetention 30d, sandbox all, 0700/0600 and a verified backup."""
    home = root / "private-backup"
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    st.config_batch(home, [st.SHORT_ANSWERS, st.SHORT_PROMPT, {
        "path": "session.maintenance",
        "value": {"mode": "enforce", "pruneAfter": "30d", "resetArchiveRetention": "30d"}}],
        env=env)
    st._turn(home, "Say hello.", env=env)
    st.config_batch(home, [{"path": "agents.defaults.sandbox.mode", "value": "all"}], env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    st.oc(home, "backup", "create", "--output", str(backups), "--verify", env=env)
    return home


def legacy_clawdbot(root: Path, llm: str) -> Path:
    """A state in the legacy ~/.clawdbot with its legacy clawdbot.json (src/config/paths.ts
    uses it when ~/.openclaw does not exist), onboarded there with a literal key."""
    home = root / "legacy-clawdbot"
    home.mkdir(parents=True)
    state = home / ".clawdbot"
    env = {"OPENCLAW_STATE_DIR": str(state)}
    st._onboard(home, llm, plaintext=True, bind="loopback", env=env)
    (state / "openclaw.json").rename(state / "clawdbot.json")
    for bak in state.glob("openclaw.json.bak*"):
        bak.unlink()
    env = {"OPENCLAW_STATE_DIR": str(state), "OPENCLAW_CONFIG_PATH": str(state / "clawdbot.json")}
    st.oc(home, "config", "validate", env=env)
    return home


@contextlib.contextmanager
def running_gateway(home: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """`openclaw gateway run` in the foreground as a service runs it (its config's bind and
    auth), on a free loopback port written to gateway.port so the CLI's `agent` finds it;
    stopped with SIGTERM (OpenClaw closes its stores) when the block ends. Its log goes
    beside the HOME, not into it."""
    port = st.free_port()
    st.config_batch(home, [{"path": "gateway.port", "value": port}], env=env)
    log = home.parent / f"{home.name}-gateway.log"
    proc = subprocess.Popen([str(st.NODE_BIN / "node"), str(st.ENTRY), "gateway", "run"],
                            cwd=home, env=st._env(home, env), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                raise st.BuildError(f"openclaw gateway exited: {log.read_text()[-800:]}")
            with socket.socket() as sock:
                sock.settimeout(1)
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise st.BuildError("openclaw gateway did not listen within 240 s")
            time.sleep(1)
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def _gateway_turn(home: Path, text: str, env: dict[str, str] | None = None) -> None:
    """One `openclaw agent` turn without --local: the CLI hands it to the running gateway,
    which runs the agent and writes the session, as in production."""
    try:
        st.oc(home, "agent", "--agent", "main", "-m", text, "--timeout", str(TURN_SECONDS),
              env=env, timeout=TURN_SECONDS + 90)
    except (st.BuildError, subprocess.TimeoutExpired) as exc:
        if not st._user_turn_stored(home):
            raise st.BuildError(f"the gateway turn stored nothing: {exc}") from None
        print(f"openclaw_variants: {home.name}: the model did not answer in time; the "
              "gateway stored the turn's session and user message", file=sys.stderr)


def gateway_old_backup(root: Path, llm: str) -> Path:
    """Plaintext onboarding (literal provider key and gateway token), a chat turn through
    the running gateway, `openclaw backup create` with no --output (the archive lands in
    the user's home: src/infra/backup-create.ts resolveOutputPath), then both secrets
    moved to env SecretRefs with `openclaw config set`: the live config holds references,
    its .bak rotations and the archive's config copy the old literals."""
    home = root / "gateway-old-backup"
    home.mkdir(parents=True)
    st._onboard(home, llm, plaintext=True, bind="loopback")
    st.config_batch(home, [st.SHORT_ANSWERS, st.SHORT_PROMPT])
    with running_gateway(home):
        _gateway_turn(home, "Which city is the capital of France?")
    st.oc(home, "backup", "create", "--verify")
    if not list(home.glob("*-openclaw-backup.tar.gz")):
        raise st.BuildError("openclaw backup create left no archive in the home")
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st.config_batch(home, [
        {"path": "models.providers.lab-llm.apiKey",
         "value": {"source": "env", "provider": "default", "id": "CUSTOM_API_KEY"}},
        {"path": "gateway.auth.token",
         "value": {"source": "env", "provider": "default", "id": "OPENCLAW_GATEWAY_TOKEN"}},
    ], env=env)
    if st.PROVIDER_KEY in (_state(home) / "openclaw.json").read_text():
        raise st.BuildError("the provider key is still in openclaw.json")
    return home


def legacy_auth_doctor(root: Path, llm: str) -> Path:
    """SecretRef onboarding, then a flat `auth-profiles.json` an older install left in the
    agent dir (`{"openrouter": {"apiKey": ...}}`, docs/gateway/authentication.md), imported
    by `openclaw doctor --fix`: the key moves into the per-agent SQLite auth store and
    doctor keeps timestamped backups beside the original JSON
    (src/agents/auth-profiles/legacy-flat-credential.ts)."""
    home = root / "legacy-auth-doctor"
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    agent_dir = _state(home) / "agents/main/agent"
    agent_dir.mkdir(parents=True)
    agent_dir.chmod(0o700)  # as OpenClaw makes it (agents/ and agents/main stay 0755)
    _write(agent_dir / "auth-profiles.json",
           json.dumps({"openrouter": {"apiKey": LEGACY_KEY}}, indent=2) + "\n")
    st.oc(home, "doctor", "--fix", "--non-interactive", env=env)
    return home


def custom_bind_zero_pad(root: Path, llm: str) -> Path:
    """bind custom with customBindHost "127.0.0.01": the schema takes any string
    (zod-schema gateway.customBindHost), but resolveGatewayBindHost (src/gateway/net.ts)
    binds a custom host only when it is a canonical dotted-decimal IPv4 (ipaddr.js
    isValidFourPartDecimal: no leading zeros) and falls back to 0.0.0.0 otherwise."""
    home = root / "custom-bind-zero-pad"
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    st.config_batch(home, [{"path": "gateway.bind", "value": "custom"},
                           {"path": "gateway.customBindHost", "value": "127.0.0.01"}], env=env)
    return home


def tailnet_trusted_proxy(root: Path, llm: str) -> Path:
    """bind tailnet (the host's Tailscale IPv4: reachable from every device of the tailnet;
    loopback only where no tailnet address exists, src/gateway/net.ts) with auth
    trusted-proxy behind a proxy at 10.0.0.5 (docs/gateway/trusted-proxy-auth.md)."""
    home = root / "tailnet-trusted-proxy"
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    st.config_batch(home, [
        {"path": "gateway.bind", "value": "tailnet"},
        {"path": "gateway.trustedProxies", "value": ["10.0.0.5"]},
        {"path": "gateway.auth", "value": {"mode": "trusted-proxy", "trustedProxy": {
            "userHeader": "x-forwarded-user"}}},
    ], env=env)
    return home


def _hardened_sandbox(root: Path, name: str, llm: str) -> tuple[Path, dict[str, str]]:
    """SecretRef onboarding on loopback with the hardened sandbox (agents.defaults.sandbox
    .mode all, maintenance enforce 30d): the base the approval variants change one thing of."""
    home = root / name
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    st.config_batch(home, [
        {"path": "agents.defaults.sandbox.mode", "value": "all"},
        {"path": "session.maintenance", "value": {"mode": "enforce", "pruneAfter": "30d"}}],
        env=env)
    return home, env


def sandbox_exec_yolo(root: Path, llm: str) -> Path:
    """The hardened sandbox (agents.defaults.sandbox.mode all, 0700/0600, maintenance
    enforce 30d), then `openclaw exec-policy preset yolo` (docs/cli/approvals.md: it sets
    tools.exec.host gateway with the local approvals row: "use gateway when you want host
    exec even with a sandbox configured")."""
    home, env = _hardened_sandbox(root, "sandbox-exec-yolo", llm)
    st.oc(home, "exec-policy", "preset", "yolo", env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def exec_yolo_main_host_sandbox(root: Path, llm: str) -> Path:
    """sandbox-exec-yolo, then the main agent's own tools.exec.host set back to sandbox
    (docs/tools/exec.md: the configured exec host includes agent overrides): the global
    gateway host governs no agent of the roster."""
    home, env = _hardened_sandbox(root, "exec-yolo-main-host-sandbox", llm)
    st.oc(home, "exec-policy", "preset", "yolo", env=env)
    st.config_batch(home, [{"path": "agents.entries.main.tools.exec.host",
                            "value": "sandbox"}], env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def sandbox_all_rw_root(root: Path, llm: str) -> Path:
    """The hardened sandbox with agents.defaults.sandbox.docker.readOnlyRoot false."""
    home, env = _hardened_sandbox(root, "sandbox-all-rw-root", llm)
    st.config_batch(home, [{"path": "agents.defaults.sandbox.docker.readOnlyRoot",
                            "value": False}], env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def tailscale_serve(root: Path, llm: str) -> Path:
    """SecretRef onboarding on loopback, then gateway.tailscale.mode serve (tailnet only,
    loopback bind: docs/gateway/config-gateway.md)."""
    home, env = _ref_onboarded(root, "tailscale-serve", llm)
    st.config_batch(home, [{"path": "gateway.tailscale.mode", "value": "serve"}], env=env)
    return home


def approvals_auto_allow(root: Path, llm: str) -> Path:
    """The hardened sandbox (agents.defaults.sandbox.mode all, 0700/0600, maintenance
    enforce 30d), then `openclaw approvals set --file` with defaults.autoAllowSkills true
    (docs/cli/approvals.md: skill binaries run without an approval prompt). 2026.9.6 writes
    the approvals into state/openclaw.sqlite's exec_approvals_config row 'current'
    (src/infra/exec-approvals-sqlite.ts), not into exec-approvals.json."""
    home, env = _hardened_sandbox(root, "approvals-auto-allow", llm)
    policy = home / "approvals.json"
    policy.write_text(json.dumps({"version": 1, "defaults": {
        "security": "allowlist", "ask": "on-miss", "autoAllowSkills": True}, "agents": {}}))
    st.oc(home, "approvals", "set", "--file", str(policy), env=env)
    policy.unlink()
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def _ref_onboarded(root: Path, name: str, llm: str) -> tuple[Path, dict[str, str]]:
    home = root / name
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=False, bind="loopback", env=env)
    return home, env


def telegram_bot_token(root: Path, llm: str) -> Path:
    """SecretRef onboarding, then `openclaw channels add --channel telegram --token <bot
    token>` (docs/cli/channels.md): channels.telegram.botToken as a literal, a secret
    field of the channel's own secret contract (extensions/telegram secret-contract)."""
    home, env = _ref_onboarded(root, "telegram-bot-token", llm)
    st.oc(home, "channels", "add", "--channel", "telegram", "--token", TELEGRAM_TOKEN, env=env)
    return home


def telegram_use_env(root: Path, llm: str) -> Path:
    """The same channel added with `--use-env` (docs/cli/channels.md: the token comes from
    TELEGRAM_BOT_TOKEN in the gateway's environment; nothing literal in the config)."""
    home, env = _ref_onboarded(root, "telegram-use-env", llm)
    st.oc(home, "channels", "add", "--channel", "telegram", "--use-env",
          env={**env, "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN})
    return home


def maintenance_warn_7d(root: Path, llm: str) -> Path:
    """session.maintenance {mode warn, pruneAfter 7d}: a short age that is only reported
    (maintenance.md: warn reports age, count and disk-budget policies without applying
    them)."""
    home, env = _ref_onboarded(root, "maintenance-warn-7d", llm)
    st.config_batch(home, [{"path": "session.maintenance",
                            "value": {"mode": "warn", "pruneAfter": "7d"}}], env=env)
    return home


def main_sandbox_off(root: Path, llm: str) -> Path:
    """agents.defaults.sandbox.mode all with the main agent's own entry set back to off
    (agents.entries.main.sandbox: src/agents/sandbox/config.ts resolveSandboxConfigForAgent
    takes the agent's key first)."""
    home, env = _ref_onboarded(root, "main-sandbox-off", llm)
    st.config_batch(home, [{"path": "agents.defaults.sandbox.mode", "value": "all"},
                           {"path": "agents.entries.main.sandbox", "value": {"mode": "off"}}],
                    env=env)
    return home


def _main_sandboxed(root: Path, name: str, llm: str) -> tuple[Path, dict[str, str]]:
    """SecretRef onboarding (it writes agents.entries.main), then main's own sandbox.mode
    all with agents.defaults.sandbox left at its default off."""
    home, env = _ref_onboarded(root, name, llm)
    st.config_batch(home, [{"path": "agents.entries.main.sandbox", "value": {"mode": "all"}}],
                    env=env)
    return home, env


def main_sandbox_all_defaults_off(root: Path, llm: str) -> Path:
    """The only configured agent (main) sandboxed on its own entry, the defaults off:
    src/agents/agent-scope-config.ts listAgentIds takes the roster's ids only, so the
    defaults' mode governs no agent."""
    return _main_sandboxed(root, "main-sandbox-all-defaults-off", llm)[0]


def agent_added_inherits_off(root: Path, llm: str) -> Path:
    """As main-sandbox-all-defaults-off, then `openclaw agents add work --non-interactive
    --workspace ...`: the new entry has no sandbox and inherits the defaults' off."""
    home, env = _main_sandboxed(root, "agent-added-inherits-off", llm)
    st.oc(home, "agents", "add", "work", "--non-interactive", "--workspace",
          str(_state(home) / "workspace-work"), env=env)
    return home


def audit_fix_lan_plaintext(root: Path, llm: str) -> Path:
    """Plaintext onboarding on bind lan, the state opened to other users (`chmod -R
    go+rX`, as a careless copy leaves it), then OpenClaw's own `openclaw security audit
    --fix` ("apply safe fixes: tighten defaults + chmod state/config"): the hardened
    baseline OpenClaw's tool gives, which changes modes and no setting."""
    home = root / "audit-fix-lan-plaintext"
    home.mkdir(parents=True)
    env = {"CUSTOM_API_KEY": "lab-" + os.urandom(8).hex(),
           "OPENCLAW_GATEWAY_TOKEN": os.urandom(24).hex()}
    st._onboard(home, llm, plaintext=True, bind="lan", env=env)
    subprocess.run(["chmod", "-R", "go+rX", str(_state(home))], check=True)
    st.oc(home, "security", "audit", "--fix", env=env)
    return home


ELEVATED_SENDER = "123456789"  # a made-up Telegram sender id


def _telegram_from_env(home: Path, env: dict[str, str]) -> None:
    """A Telegram channel (`openclaw channels add --channel telegram --use-env`, as
    telegram-use-env): the provider the elevated allowlists below name has senders."""
    st.oc(home, "channels", "add", "--channel", "telegram", "--use-env",
          env={**env, "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN})


def elevated_enabled_no_allowfrom(root: Path, llm: str) -> Path:
    """The hardened sandbox with tools.elevated.enabled true and no allowFrom: elevated
    needs a sender on tools.elevated.allowFrom.<provider> (src/auto-reply/reply/
    reply-elevated.ts isApprovedElevatedSender: no list is false; docs/tools/elevated.md:
    no bundled channel supplies a fallback list), so no sender can leave the sandbox."""
    home, env = _hardened_sandbox(root, "elevated-enabled-no-allowfrom", llm)
    st.config_batch(home, [{"path": "tools.elevated.enabled", "value": True}], env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def elevated_allowfrom_default_on(root: Path, llm: str) -> Path:
    """The hardened sandbox and a Telegram channel with only
    tools.elevated.allowFrom.telegram set (enabled left unset): resolveElevatedPermissions
    takes `enabled !== false`, so elevated is on by default and the listed sender's exec
    leaves the sandbox."""
    home, env = _hardened_sandbox(root, "elevated-allowfrom-default-on", llm)
    _telegram_from_env(home, env)
    st.config_batch(home, [{"path": "tools.elevated.allowFrom",
                            "value": {"telegram": [ELEVATED_SENDER]}}], env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def _elevated_for_all(root: Path, name: str, llm: str) -> tuple[Path, dict[str, str]]:
    """The hardened sandbox and a Telegram channel with elevated on for every Telegram
    sender ("*"), and the main
    agent's own gate off (agents.entries.main.tools.elevated.enabled false: the per-agent
    gate can only restrict, docs/tools/elevated.md)."""
    home, env = _hardened_sandbox(root, name, llm)
    _telegram_from_env(home, env)
    st.config_batch(home, [
        {"path": "tools.elevated", "value": {"enabled": True,
                                             "allowFrom": {"telegram": ["*"]}}},
        {"path": "agents.entries.main.tools.elevated.enabled", "value": False}], env=env)
    return home, env


def elevated_main_off(root: Path, llm: str) -> Path:
    """Elevated on for all Telegram senders, but main, the roster's only agent
    (listAgentIds), has its own gate off: no agent can run elevated."""
    home, _ = _elevated_for_all(root, "elevated-main-off", llm)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def elevated_work_agent(root: Path, llm: str) -> Path:
    """As elevated-main-off, then `openclaw agents add work`: the new agent has no gate
    of its own, so the global one (on, every Telegram sender) governs it."""
    home, env = _elevated_for_all(root, "elevated-work-agent", llm)
    st.oc(home, "agents", "add", "work", "--non-interactive", "--workspace",
          str(_state(home) / "workspace-work"), env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def elevated_lists_disjoint(root: Path, llm: str) -> Path:
    """The hardened sandbox and a Telegram channel, elevated on for every Telegram sender,
    and main's own allowFrom naming a Discord sender only: the sender must be on both
    lists for its provider (isApprovedElevatedSender with the agent's list has no
    telegram entry; the global one no discord entry), so nobody is allowed."""
    home, env = _hardened_sandbox(root, "elevated-lists-disjoint", llm)
    _telegram_from_env(home, env)
    st.config_batch(home, [
        {"path": "tools.elevated", "value": {"enabled": True,
                                             "allowFrom": {"telegram": ["*"]}}},
        {"path": "agents.entries.main.tools.elevated.allowFrom",
         "value": {"discord": ["42"]}}], env=env)
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def approvals_full_sandboxed(root: Path, llm: str) -> Path:
    """The hardened sandbox, then `openclaw approvals set --file` with defaults.security
    full and ask off (docs/tools/exec-approvals.md: the host approval policy; exec stays in
    the sandbox with tools.exec.host auto while a sandbox runtime is active,
    docs/tools/exec.md), autoAllowSkills left false."""
    home, env = _hardened_sandbox(root, "approvals-full-sandboxed", llm)
    policy = home / "approvals.json"
    policy.write_text(json.dumps({"version": 1, "defaults": {
        "security": "full", "ask": "off", "autoAllowSkills": False}, "agents": {}}))
    st.oc(home, "approvals", "set", "--file", str(policy), env=env)
    policy.unlink()
    st._chmod_tree(_state(home), 0o700, 0o600)
    return home


def lan_password_ref(root: Path, llm: str) -> Path:
    """SecretRef onboarding, then gateway.bind lan with password auth whose password is an
    env SecretRef (OC_GW_PASSWORD, docs/gateway/config-secrets-env.md): no literal at
    rest, but the gateway listens on every address (resolveGatewayBindHost: lan ->
    0.0.0.0)."""
    home, env = _ref_onboarded(root, "lan-password-ref", llm)
    env = {**env, "OC_GW_PASSWORD": "pw-" + os.urandom(12).hex()}
    st.config_batch(home, [
        {"path": "gateway.bind", "value": "lan"},
        {"path": "gateway.auth", "value": {"mode": "password", "password": {
            "source": "env", "provider": "default", "id": "OC_GW_PASSWORD"}}}], env=env)
    return home


def custom_bind_lan_ip(root: Path, llm: str) -> Path:
    """SecretRef onboarding, then gateway.bind custom with customBindHost 192.168.77.10, a
    private LAN address: resolveGatewayBindHost binds it when the host has it, else falls
    back to 0.0.0.0; not loopback either way."""
    home, env = _ref_onboarded(root, "custom-bind-lan-ip", llm)
    st.config_batch(home, [{"path": "gateway.bind", "value": "custom"},
                           {"path": "gateway.customBindHost", "value": "192.168.77.10"}],
                    env=env)
    return home


FIXED_ROOT = "/tmp/aiaudit-openclaw-variants"
# the variants with a chat turn (the others never call the model)
CHATS = {"lan-password-warn", "pasted-secret", "private-backup", "gateway-old-backup"}
OFFLINE_LLM = "http://127.0.0.1:9/v1"  # where the recorded fixtures are built and restored
TURN_SECONDS = 150  # the user message is stored before the model answers (openclaw_states._turn)


def backup_dir(root: Path) -> Path:
    """`/dev/shm/<root name>-backups` when /dev/shm is another filesystem than the state
    (STO-07's "elsewhere"), else `<root>/backups`; a fixed name, so recorded fixtures
    restore their backup at the path its manifest names."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != root.stat().st_dev:
        path = shm / f"{root.name}-backups"
    else:
        path = root / "backups"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    return path


def profile_work(root: Path, llm: str) -> Path:
    """A named profile (`openclaw --profile work`): its state is
    ~/.openclaw-work (src/config/profile-utils.ts resolveProfileStateDir); plaintext key,
    loopback, then opened up by hand to 0755/0644."""
    home = root / "profile-work"
    home.mkdir(parents=True)
    st._onboard(home, llm, plaintext=True, bind="loopback", env={"OPENCLAW_STATE_DIR": ""},
                global_args=("--profile", "work"))
    if not (home / ".openclaw-work/openclaw.json").is_file():
        raise st.BuildError("the work profile did not write ~/.openclaw-work/openclaw.json")
    st._chmod_tree(home / ".openclaw-work", 0o755, 0o644)
    return home


def build(root: Path, only: list[str] | None = None, llm_url: str | None = None
          ) -> dict[str, Path]:
    if not st.installed():
        raise st.BuildError(f"OpenClaw is not installed under {st.FW_DIR}")
    root.mkdir(parents=True, exist_ok=True)
    names = only or list(VARIANTS)
    st.TURN_SECONDS = TURN_SECONDS
    llm = None
    out: dict[str, Path] = {}
    try:
        if llm_url is None and CHATS.intersection(names):
            llm, llm_url = st.start_llm(root / "llm.log")
        elif llm_url is None:  # no chat turn: onboarding records the URL, nothing calls it
            llm_url = OFFLINE_LLM
        backups = backup_dir(root) if "private-backup" in names else root
        out["backups"] = backups
        for name in names:
            fn = globals()[name.replace("-", "_")]
            out[name] = fn(root, llm_url, backups) if name == "private-backup" \
                else fn(root, llm_url)
            print(f"built {name}", file=sys.stderr)
        return out
    finally:
        if llm is not None:
            llm.terminate()
            try:
                llm.wait(10)
            except subprocess.TimeoutExpired:
                llm.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m aiaudit.lab.openclaw_variants")
    parser.add_argument("command", choices=["build"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--only", nargs="*", choices=VARIANTS)
    parser.add_argument("--llm-url")
    args = parser.parse_args(argv)
    for name in args.only or VARIANTS:
        shutil.rmtree(args.dir / name, ignore_errors=True)
    try:
        states = build(args.dir, args.only, args.llm_url)
    except (st.BuildError, subprocess.TimeoutExpired) as exc:
        print(f"openclaw_variants: {exc}", file=sys.stderr)
        return 1
    for name, path in states.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
