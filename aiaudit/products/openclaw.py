"""OpenClaw: state dirs, the one `openclaw.json` reader, and its defaults applied as it does.

Facts and defaults come from `aiaudit/data/openclaw.toml`, which cites the OpenClaw source
file of each (npm `openclaw` 2026.9.6). An unset key is OpenClaw's default, never "false":
an unset `session.maintenance.mode` is "enforce", an unset `gateway.auth.mode` is "token".
Storage (STO-02, STO-04), supply chain (skills, MCP, SUP-05) and exposure (EXP-01 intent)
read OpenClaw through this module only.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Any

import json5

from aiaudit.products import ProductData

APP = "openclaw"
DAY_MS = 86_400_000


data = ProductData("openclaw")  # aiaudit/data/openclaw.toml (defaults with their sources)
service_name = data.service_name
process_patterns = functools.partial(data.strings, "processes", "patterns")
history_routes = functools.partial(data.strings, "history", "routes")


# ------------------------------------------------------------------ where the state lives


def state_env() -> str:
    return str(data()["paths"]["state_env"])


def config_env() -> str:
    return str(data()["paths"]["config_env"])


def home_state_dir_names() -> tuple[str, ...]:
    """State dir names below a home, current first (`.openclaw`, legacy `.clawdbot`)."""
    return tuple(data()["paths"]["state_dirs"])


def config_names() -> tuple[str, ...]:
    return tuple(data()["paths"]["config_names"])


def home_state_dirs(home: str) -> list[str]:
    """Default state dirs below a home, current name first (`~/.openclaw`, `~/.clawdbot`)."""
    return [posixpath.join(home, d) for d in data()["paths"]["state_dirs"]]


def config_candidates(state_dir: str) -> list[str]:
    """`openclaw.json`, then the legacy `clawdbot.json`, as `resolveConfigPath` tries them."""
    return [posixpath.join(state_dir, n) for n in data()["paths"]["config_names"]]


def state_markers() -> tuple[str, ...]:
    """Relative paths only an OpenClaw state dir holds besides its config."""
    return tuple(data()["paths"]["state_markers"])


def is_state_listing(names: set[str]) -> bool:
    """Whether a directory holding these names is an OpenClaw state dir (its openclaw.json,
    legacy clawdbot.json, or its shared store when the config lives elsewhere)."""
    return bool((set(config_names()) | set(state_markers())) & names)


def is_profile_dir_name(name: str) -> bool:
    """`.openclaw-<profile>`: a named profile's state dir below a home."""
    prefix = str(data()["paths"]["profile_prefix"])
    return name.startswith(prefix) and bool(
        re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name[len(prefix):]))


def is_state_dir_name(path: str) -> bool:
    base = posixpath.basename(path.rstrip("/"))
    return base in data()["paths"]["state_dirs"] or is_profile_dir_name(base)


def default_backups(state_dir: str) -> list[str]:
    """Where `openclaw backup create` without --output leaves its archive for this state:
    the user's home above a default-named state dir (`~/.openclaw`, a profile's
    `~/.openclaw-work`, legacy `~/.clawdbot`); a state dir under another name says nothing
    about the user's home."""
    state_dir = state_dir.rstrip("/")
    if not is_state_dir_name(state_dir):
        return []
    return [posixpath.join(posixpath.dirname(state_dir) or "/",
                           str(data()["backup"]["default_glob"]))]


# ------------------------------------------------------------------ the one config reader

_COMMENT = re.compile(r'("(?:[^"\\\n]|\\.)*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING = re.compile(r'("(?:[^"\\\n]|\\.)*")|(?<=[^\s\[{,])\s*,(?=\s*[}\]])', re.S)


def loads(text: str) -> Any:
    """The JSON5 value of `text`, as OpenClaw's config loader (JSON5) reads it: the one
    JSON5 reader of the suite (openclaw.json, skill metadata, JSONC client configs).

    JSON plus comments and trailing commas (what `openclaw config set` writes and most
    people hand-edit) goes through `json` (fast); anything else through `json5`, whose
    errors (ValueError and subclasses) propagate.
    """
    plain = _COMMENT.sub(lambda m: m.group(1) or " ", text)  # strings stay
    plain = _TRAILING.sub(lambda m: m.group(1) or "", plain)
    try:
        return json.loads(plain)
    except ValueError:
        return json5.loads(text)


@dataclass(frozen=True)
class Config:
    """One `openclaw.json` as read from the target (its `$include`s merged in)."""

    path: str
    doc: dict[str, Any] | None  # None when missing, unreadable or not an object
    error: str = ""  # why doc is None ("" when the file simply does not exist)
    exists: bool = True
    includes: tuple[str, ...] = ()  # files merged in through `$include`
    found_by: str = ""  # how the path was found (state dir, OpenClaw's own record)
    unreadable: bool = False  # the audit account could not read it (or an include)

    def get(self, *keys: str) -> Any:
        return dig(self.doc, *keys)

    @property
    def files(self) -> tuple[str, ...]:
        """Every file this config was read from (the config, then its includes)."""
        return (self.path, *self.includes) if self.exists else ()


def dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def parse_config(path: str, text: str | None, error: str = "") -> Config:
    """A Config from file text (None: the file does not exist or could not be read)."""
    if text is None:
        return Config(path, None, error, exists=bool(error), unreadable=bool(error))
    try:
        doc = loads(text)
    except Exception as exc:  # json5 raises ValueError and assorted others on bad input
        return Config(path, None, f"{path}: not JSON5: {type(exc).__name__}: {exc}")
    if not isinstance(doc, dict):
        return Config(path, None, f"{path}: the top level is not an object")
    return Config(path, doc)


INCLUDE_KEY = "$include"
INCLUDE_DEPTH = 10  # docs/gateway/configuration/common-tasks.md: up to 10 nested levels


class IncludeError(Exception):
    """An `$include` OpenClaw would refuse (missing, unreadable, not JSON5, too deep)."""

    def __init__(self, message: str, unreadable: bool = False):
        super().__init__(message)
        self.unreadable = unreadable


def deep_merge(base: Any, over: Any) -> Any:
    """Objects merge key by key (later wins); anything else is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(out[key], value) if key in out else value
        return out
    return over


def resolve_includes(doc: Any, base_dir: str, read: Any, seen: list[str],
                     depth: int = 0) -> Any:
    """`$include` resolved as OpenClaw's config loader does (docs/gateway/configuration/
    common-tasks.md "Split config into multiple files"): one file replaces the containing
    object, an array of files is deep-merged in order, sibling keys merge over the result,
    relative paths are relative to the including file. `read(path)` returns the file text
    (raising CouldNotCheck); every file read is appended to `seen`."""
    from aiaudit.status import CouldNotCheck

    if isinstance(doc, list):
        return [resolve_includes(v, base_dir, read, seen, depth) for v in doc]
    if not isinstance(doc, dict):
        return doc
    siblings = {k: resolve_includes(v, base_dir, read, seen, depth)
                for k, v in doc.items() if k != INCLUDE_KEY}
    if INCLUDE_KEY not in doc:
        return siblings
    if depth >= INCLUDE_DEPTH:
        raise IncludeError(f"$include nested deeper than {INCLUDE_DEPTH} levels")
    spec = doc[INCLUDE_KEY]
    names = [spec] if isinstance(spec, str) else spec if isinstance(spec, list) else None
    if not names or not all(isinstance(n, str) and n for n in names):
        raise IncludeError(f"$include must be a path or a list of paths, not {spec!r}")
    merged: Any = None
    for name in names:
        path = posixpath.normpath(posixpath.join(base_dir, name))
        try:
            text = read(path)
        except CouldNotCheck as exc:
            raise IncludeError(f"$include {path}: {exc}", unreadable=True) from None
        if text is None:
            raise IncludeError(f"$include {path}: the file does not exist")
        seen.append(path)
        try:
            value = loads(text)
        except Exception as exc:
            raise IncludeError(f"$include {path}: not JSON5: {type(exc).__name__}") from None
        value = resolve_includes(value, posixpath.dirname(path), read, seen, depth + 1)
        merged = value if merged is None or not isinstance(spec, list) \
            else deep_merge(merged, value)
    return deep_merge(merged, siblings) if siblings else merged


# OpenClaw records the config file it loaded in its shared state store: the
# `config_health_entries` table (keyed by the config path) and the `diagnostic_events`
# row ('config-snapshot', 'latest', {"configPath": ...}) (src/config/io.ts config-audit and
# config-health, seen in state/openclaw.sqlite of 2026.9.6). A state dir whose config lives
# elsewhere (OPENCLAW_CONFIG_PATH) thus still names it.
_LATEST = re.compile(rb'config-snapshotlatest\{"configPath":"((?:[^"\\]|\\.){1,4000})"')
_ANY = re.compile(rb'"configPath":"((?:[^"\\]|\\.){1,4000})"')
RECORD_LIMIT = 64 * 1024 * 1024
_BATCH_BYTES = 60 * 1024  # one command stays far below Linux's 128 KiB per argv string


def _state_store(state_dir: str) -> str:
    return posixpath.join(state_dir, str(data()["history"]["state_store"]))


def lookup_paths(state_dir: str) -> list[str]:
    """Every file `read_config` may look at first in a state dir: its config names and the
    shared store (with its WAL) that records a config kept elsewhere."""
    store = _state_store(state_dir)
    return [*config_candidates(state_dir), store, store + "-wal"]


def present_files(fs: Any, paths: list[str]) -> set[str]:
    """Which of `paths` exist on the target (`[ -e ]`): one command for them all (in
    batches under the argv limit), not one SSH round trip each: a home search asks about
    4 paths per candidate state dir, two candidates per home, most of them absent."""
    wanted = set(paths)
    found: set[str] = set()
    batch: list[str] = []
    size = 0
    for path in [*paths, None]:
        quoted = _q(path) if path is not None else ""
        if batch and (path is None or size + len(quoted) > _BATCH_BYTES):
            _, out, _ = fs.run(f"for p in {' '.join(batch)}; do [ -e \"$p\" ] && "
                               "printf '%s\\n' \"$p\"; done; true", timeout=30)
            found.update(line for line in out.splitlines() if line in wanted)
            batch, size = [], 0
        if path is not None:
            batch.append(quoted)
            size += len(quoted) + 1
    return found


def recorded_config_path(fs: Any, state_dir: str, present: set[str] | None = None) -> str | None:
    """The config path OpenClaw last recorded in `state/openclaw.sqlite` (and its WAL).
    `present`: the files known to exist (`present_files` over `lookup_paths`)."""
    from aiaudit.status import CouldNotCheck
    from aiaudit.storage.headers import read_head

    store = _state_store(state_dir)
    if present is None:
        present = present_files(fs, [store, store + "-wal"])
    latest: list[str] = []
    every: list[str] = []
    for path in (store, store + "-wal"):
        if path not in present:
            continue
        try:
            raw = read_head(fs, path, RECORD_LIMIT)
        except CouldNotCheck:
            continue
        latest += [m.group(1).decode("utf-8", "replace") for m in _LATEST.finditer(raw)]
        every += [m.group(1).decode("utf-8", "replace") for m in _ANY.finditer(raw)]
    if latest:
        return json.loads(f'"{latest[-1]}"')
    distinct = list(dict.fromkeys(every))
    return json.loads(f'"{distinct[0]}"') if len(distinct) == 1 else None


def read_config(fs: Any, state_dir: str, limit: int = 1024 * 1024,
                present: set[str] | None = None) -> Config:
    """The state dir's active config as OpenClaw loads it: `openclaw.json`, else the legacy
    `clawdbot.json` (src/config/paths.ts), else the file OpenClaw itself recorded loading
    for this state (OPENCLAW_CONFIG_PATH elsewhere); `$include`s merged in. `present`:
    which of `lookup_paths(state_dir)` exist, when the caller asked for many state dirs at
    once (`present_files`); else asked here, in one command."""
    from aiaudit.status import CouldNotCheck
    from aiaudit.storage.headers import read_head

    first_look = lookup_paths(state_dir)
    if present is None:
        present = present_files(fs, first_look)

    def read(path: str) -> str | None:
        if path in first_look:
            exists = path in present
        else:  # an include or a recorded path elsewhere
            exists = bool(present_files(fs, [path]))
        if not exists:
            return None
        return read_head(fs, path, limit).decode("utf-8", "replace")

    first = config_candidates(state_dir)[0]
    try:
        for path in config_candidates(state_dir):
            text = read(path)
            if text is not None:
                return _with_includes(path, text, "in the state dir", read)
        recorded = recorded_config_path(fs, state_dir, present)
        text = read(recorded) if recorded else None
        if recorded and text is not None:
            return _with_includes(recorded, text, "recorded by OpenClaw in state/openclaw.sqlite"
                                  " (OPENCLAW_CONFIG_PATH)", read)
    except CouldNotCheck as exc:
        return Config(first, None, str(exc), exists=True, unreadable=True)
    return Config(first, None, "", exists=False)


def _with_includes(path: str, text: str, how: str, read: Any) -> Config:
    """The config at `path` with its `$include`s merged in (an include OpenClaw would refuse
    makes the whole config unreadable, as it makes OpenClaw refuse to start)."""
    cfg = parse_config(path, text)
    if cfg.doc is None:
        return Config(cfg.path, None, cfg.error, found_by=how)
    seen: list[str] = []
    try:
        doc = resolve_includes(cfg.doc, posixpath.dirname(path), read, seen)
    except IncludeError as exc:
        return Config(path, None, f"{path}: {exc}", includes=tuple(seen), found_by=how,
                      unreadable=exc.unreadable)
    if not isinstance(doc, dict):
        return Config(path, None, f"{path}: the top level is not an object", found_by=how)
    return Config(path, doc, includes=tuple(dict.fromkeys(seen)), found_by=how)


def _q(path: str) -> str:
    import shlex

    return shlex.quote(path)


# ------------------------------------------------------------------ durations


def duration_ms(value: Any) -> int | None:
    """OpenClaw's `parseDurationMs` with `defaultUnit: "d"` (src/cli/parse-duration.ts):
    "30d", "720h", "1d12h", a bare number is days; None when OpenClaw would reject it."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    scale = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": DAY_MS}
    single = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)?", text)
    if single:
        return round(float(single.group(1)) * scale[single.group(2) or "d"])
    parts = list(re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text))
    if not parts or "".join(p.group(0) for p in parts) != text:
        return None
    return round(sum(float(p.group(1)) * scale[p.group(2)] for p in parts))


# ------------------------------------------------------------------ session maintenance

# Transcripts OpenClaw keeps when a session is deleted or reset (src/config/sessions/
# session-transcript-files.fs.ts archiveFileOnDisk: `<file>.<reason>.<stamp>`;
# session-accessor.sqlite-archive-artifact.ts resolveSqliteTranscriptArchivePath:
# `<sessionId>.jsonl.<reason>.<ISO stamp with - for :>[.<generation>]`, `.zst` when zstd
# is available: artifacts.ts encodeSessionArchiveContent), in the agent's sessions dir.
# `openclaw sessions delete` keeps the deleted transcript so (docs/cli/sessions.md "Delete
# sessions"); session.maintenance.resetArchiveRetention ages them out, unset never.
ARCHIVE_GLOBS = ("agents/*/sessions/*.jsonl.deleted.*", "agents/*/sessions/*.jsonl.reset.*")


def is_deleted_archive(path: str) -> bool:
    """A transcript OpenClaw kept of a session the user deleted."""
    return ".jsonl.deleted." in path.rsplit("/", 1)[-1]



@dataclass(frozen=True)
class Maintenance:
    """`session.maintenance` resolved as `resolveMaintenanceConfigFromInput` does."""

    mode: str
    prune_after_days: float
    reset_archive_days: float | None  # None: reset/deleted archives kept with no age cutoff
    unset: tuple[str, ...]  # keys that took OpenClaw's default

    @property
    def enforced(self) -> bool:
        return self.mode == "enforce"

    def describe(self) -> str:
        reset = (f"{self.reset_archive_days:g}d" if self.reset_archive_days is not None
                 else "unset (reset/deleted transcript archives kept with no age cutoff)")
        defaults = f" (defaults: {', '.join(self.unset)})" if self.unset else ""
        return (f"session.maintenance mode={self.mode}, pruneAfter="
                f"{self.prune_after_days:g}d (archives durable sessions in place; their "
                f"history stays in SQLite), resetArchiveRetention={reset}{defaults}")


def maintenance(cfg: Config) -> Maintenance:
    defaults = data()["session_maintenance"]
    raw = cfg.get("session", "maintenance")
    raw = raw if isinstance(raw, dict) else {}
    unset = []
    mode = raw.get("mode")
    if mode is None:
        mode, _ = defaults["mode"], unset.append("mode")
    prune = duration_ms(raw.get("pruneAfter")) if raw.get("pruneAfter") not in (None, "") \
        else None
    if prune is None:  # unset or unparsable: OpenClaw falls back to 30d
        prune = duration_ms(defaults["prune_after"])
        unset.append("pruneAfter")
    reset_raw = raw.get("resetArchiveRetention")
    reset = None if reset_raw is False else duration_ms(reset_raw)
    if reset_raw is None:
        unset.append("resetArchiveRetention")
    return Maintenance(str(mode), (prune or 0) / DAY_MS,
                       reset / DAY_MS if reset is not None else None, tuple(unset))


# ------------------------------------------------------------------ gateway


@dataclass(frozen=True)
class Gateway:
    """`gateway.*` resolved as the gateway does (bind mode, auth mode and credential)."""

    bind_mode: str  # loopback | lan | auto | tailnet | custom (configured or default)
    address: str  # what it listens on ("127.0.0.1", "0.0.0.0", a custom IPv4, ...)
    auth_mode: str  # none | token | password | trusted-proxy
    credential: str  # "literal in config" | "SecretRef (env X)" | "env X (default)" | "none"
    port: int
    unset: tuple[str, ...] = ()

    @property
    def loopback_only(self) -> bool:
        return self.address.startswith("127.") or self.address in ("::1", "localhost")

    def describe(self) -> str:
        defaults = f" (defaults: {', '.join(self.unset)})" if self.unset else ""
        return (f"gateway.bind={self.bind_mode} -> {self.address}, gateway.auth.mode="
                f"{self.auth_mode}, credential: {self.credential}, port {self.port}{defaults}")


def is_secret_ref(value: Any) -> bool:
    """A SecretRef object (`{source, provider, id}`) or an `${ENV}` placeholder."""
    if isinstance(value, dict):
        return isinstance(value.get("source"), str) and isinstance(value.get("id"), str)
    return isinstance(value, str) and bool(re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*\}", value.strip()))


def _credential(auth: dict[str, Any], key: str, env_name: str) -> str:
    value = auth.get(key)
    if is_secret_ref(value):
        ref = value if isinstance(value, dict) else {"source": "env", "id": value}
        return f"SecretRef ({ref.get('source')} {ref.get('id')})"
    if isinstance(value, str) and value.strip():
        return "literal in config"
    return f"env {env_name} if set (none in config)"


def canonical_ipv4(host: str) -> bool:
    """What resolveGatewayBindHost (src/gateway/net.ts) binds as a custom host: a canonical
    dotted-decimal IPv4 (isValidIPv4 -> ipaddr.js isValidFourPartDecimal: four decimal
    parts 0-255 without leading zeros). "127.0.0.01", "localhost" or "::1" fall back to
    0.0.0.0, every address."""
    parts = host.split(".")
    return len(parts) == 4 and all(re.fullmatch(r"0|[1-9]\d{0,2}", p) and int(p) <= 255
                                   for p in parts)


def gateway(cfg: Config, in_container: bool = False) -> Gateway:
    """Bind per `resolveGatewayBindHost`/`defaultGatewayBindMode` (src/gateway/net.ts),
    auth per `finalizeResolvedGatewayAuth` (src/gateway/auth-resolve.ts)."""
    defaults = data()["gateway"]
    gw = cfg.get("gateway")
    gw = gw if isinstance(gw, dict) else {}
    unset = []
    tailscale = dig(gw, "tailscale", "mode") or "off"
    bind = gw.get("bind")
    if not isinstance(bind, str) or not bind:
        bind = "auto" if in_container and tailscale == "off" else defaults["bind"]
        unset.append("bind")
    if bind == "loopback":
        address = "127.0.0.1"
    elif bind == "auto":
        address = "0.0.0.0" if in_container else "127.0.0.1"
    elif bind == "tailnet":
        address = "tailnet address (else 127.0.0.1)"
    elif bind == "custom":
        host = str(gw.get("customBindHost") or "").strip()
        address = host if canonical_ipv4(host) else "0.0.0.0"
        if address != host:
            bind = f"custom (customBindHost {host!r} is no canonical IPv4: OpenClaw falls back)"
    else:  # lan, and any value OpenClaw does not know, listen everywhere
        address = "0.0.0.0"
    auth = gw.get("auth") if isinstance(gw.get("auth"), dict) else {}
    mode = auth.get("mode")
    if not isinstance(mode, str) or not mode:
        mode = "password" if auth.get("password") else defaults["auth_mode"]
        unset.append("auth.mode")
    if mode == "token":
        cred = _credential(auth, "token", defaults["token_env"])
    elif mode == "password":
        cred = _credential(auth, "password", defaults["password_env"])
    elif mode == "trusted-proxy":
        cred = "identity headers from gateway.trustedProxies"
    else:
        cred = "none"
    port = gw.get("port") if isinstance(gw.get("port"), int) else defaults["port"]
    return Gateway(bind, address, str(mode), cred, int(port), tuple(unset))


# ------------------------------------------------------------------ sandbox


@dataclass(frozen=True)
class Sandbox:
    """`agents.defaults.sandbox` merged with one agent's override (resolveSandboxConfigForAgent)."""

    agent: str  # "defaults" or the agent id
    mode: str
    backend: str
    workspace_access: str
    network: str
    read_only_root: bool
    binds: tuple[str, ...]
    unset: tuple[str, ...] = ()
    # the defaults govern some agent: always without a roster (the implicit main agent);
    # with one, only when a listed agent has no sandbox of its own (sandboxes())
    governs: bool = True


def agent_ids(cfg: Config) -> list[str]:
    """Agents with their own entry (`agents.entries.<id>`, or a legacy `agents.list`)."""
    entries = cfg.get("agents", "entries")
    ids = [str(k) for k in entries] if isinstance(entries, dict) else []
    listed = cfg.get("agents", "list")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] not in ids:
            ids.append(item["id"])
    return ids


def _agent_entry(cfg: Config, agent: str) -> dict[str, Any]:
    entry = cfg.get("agents", "entries", agent)
    if isinstance(entry, dict):
        return entry
    listed = cfg.get("agents", "list")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict) and item.get("id") == agent:
            return item
    return {}


def sandbox(cfg: Config, agent: str | None = None) -> Sandbox:
    defaults = data()["sandbox"]
    glob = cfg.get("agents", "defaults", "sandbox")
    glob = glob if isinstance(glob, dict) else {}
    own = _agent_entry(cfg, agent).get("sandbox") if agent else None
    own = own if isinstance(own, dict) else {}
    unset: list[str] = []

    def pick(key: str, default: Any, table: str = "") -> Any:
        a = dig(own, table, key) if table else own.get(key)
        g = dig(glob, table, key) if table else glob.get(key)
        if a is not None:
            return a
        if g is not None:
            return g
        unset.append(f"{table + '.' if table else ''}{key}")
        return default

    scope = own.get("scope") or glob.get("scope") or "agent"
    if scope == "shared":  # shared scope ignores per-agent docker settings
        own = {k: v for k, v in own.items() if k != "docker"}
    binds = [*(dig(glob, "docker", "binds") or []), *(dig(own, "docker", "binds") or [])]
    return Sandbox(
        agent or "defaults", str(pick("mode", defaults["mode"])),
        str(pick("backend", defaults["backend"])),
        str(pick("workspaceAccess", defaults["workspace_access"])),
        str(pick("network", defaults["docker_network"], "docker")),
        pick("readOnlyRoot", defaults["docker_read_only_root"], "docker") is True,
        tuple(str(b) for b in binds if isinstance(b, str)), tuple(unset))


def exec_hosts(cfg: Config) -> dict[str, tuple[str, bool]]:
    """{"defaults" or agent id: (tools.exec.host, unset)}: the global value and every agent
    entry that overrides it (`agents.entries.<id>.tools.exec.host`; docs/tools/exec.md:
    the configured host includes agent overrides). With an agent roster whose every entry
    sets its own host, the global value governs no agent and is left out (listAgentIds:
    no implicit main agent then)."""
    default = data()["sandbox"]["exec_host"]
    glob = cfg.get("tools", "exec", "host")
    out = {"defaults": (str(glob), False) if isinstance(glob, str) and glob else (default, True)}
    ids = agent_ids(cfg)
    for agent in ids:
        own = dig(_agent_entry(cfg, agent), "tools", "exec", "host")
        if isinstance(own, str) and own:
            out[agent] = (own, False)
    if ids and all(a in out for a in ids):
        del out["defaults"]
    return out


@dataclass(frozen=True)
class Elevated:
    """Whether one agent's sessions can run exec outside the sandbox through elevated mode,
    as src/auto-reply/reply/reply-elevated.ts resolveElevatedPermissions decides."""

    agent: str  # an agent id, or "main" (the implicit agent without a roster)
    enabled: bool  # global and the agent's gate: `enabled !== false` (on when unset)
    providers: tuple[str, ...]  # providers with a sender allowed (global and agent lists)
    why: str

    @property
    def available(self) -> bool:
        return self.enabled and bool(self.providers)


def _allow_lists(table: Any) -> dict[str, list[str]]:
    """tools.elevated.allowFrom: {provider: [entries]} with the non-empty entries
    (isApprovedElevatedSender: a missing or empty list allows no sender)."""
    if not isinstance(table, dict):
        return {}
    out = {}
    for provider, entries in table.items():
        kept = [str(e).strip() for e in entries if str(e).strip()] \
            if isinstance(entries, list) else []
        if kept:
            out[str(provider)] = kept
    return out


def elevated(cfg: Config) -> list[Elevated]:
    """Elevated mode per agent of the roster (listAgentIds; the implicit main without
    one): both gates on (tools.elevated.enabled and agents.entries.<id>.tools.elevated
    .enabled, each on unless false) and a sender allowed on some provider by the global
    allowFrom and, when the agent sets one, by its own too. No bundled channel supplies a
    fallback list (docs/tools/elevated.md), so without allowFrom nobody is allowed."""
    glob = cfg.get("tools", "elevated")
    glob = glob if isinstance(glob, dict) else {}
    g_lists = _allow_lists(glob.get("allowFrom"))
    out = []
    for agent in agent_ids(cfg) or ["main"]:
        own = dig(_agent_entry(cfg, agent), "tools", "elevated")
        own = own if isinstance(own, dict) else {}
        gates = [k for k, t in (("tools.elevated.enabled", glob),
                                (f"agents.entries.{agent}.tools.elevated.enabled", own))
                 if t.get("enabled") is False]
        providers = set(g_lists)
        if own.get("allowFrom"):  # the agent's list must allow the sender too
            providers &= set(_allow_lists(own.get("allowFrom")))
        providers_t = tuple(sorted(providers))
        if gates:
            why = f"off ({', '.join(gates)} false)"
        elif not providers_t:
            why = ("on" + ("" if glob.get("enabled") is True else " (unset: on by default)")
                   + ", but no sender is allowed (no tools.elevated.allowFrom.<provider> "
                   "list" + (" the agent's own allowFrom also allows" if own.get("allowFrom")
                             else "") + ")")
        else:
            lists = ", ".join(f"{p}: {', '.join(g_lists[p])}" for p in providers_t)
            why = ("on" + ("" if glob.get("enabled") is True else " (unset: on by default)")
                   + f" for senders of {lists}")
        out.append(Elevated(agent, not gates, providers_t, why))
    return out


def host_exec(host: str) -> bool:
    """An exec host outside every sandbox (openclaw.toml [sandbox] host_exec)."""
    return host in data()["sandbox"]["host_exec"]


def sandboxes(cfg: Config) -> list[Sandbox]:
    """The defaults, plus every agent whose entry overrides them. With an agent roster
    (`agents.entries`, which onboarding writes with `main`), the roster's ids are the
    agents there are (src/agents/agent-scope-config.ts listAgentIds: the implicit main
    agent exists only without one), so the defaults govern an agent only when some entry
    has no sandbox of its own (`governs`)."""
    ids = agent_ids(cfg)
    own = [a for a in ids if isinstance(_agent_entry(cfg, a).get("sandbox"), dict)]
    out = [replace(sandbox(cfg), governs=not ids or len(own) < len(ids))]
    out += [sandbox(cfg, agent) for agent in own]
    return out


# ------------------------------------------------------------------ files OpenClaw makes


def own_link(rel_path: str, target: str) -> bool:
    """A symlink OpenClaw itself makes: `plugin-skills/<name>` -> a bundled plugin's skill
    inside the installed OpenClaw package (the agent's first turn links them)."""
    links = data()["files"]
    if not any(fnmatch.fnmatch(rel_path, g) for g in links["own_links"]):
        return False
    return any(marker in target for marker in links["package_markers"])


# ------------------------------------------------------------------ history stores


def conversation_time_columns() -> dict[str, tuple[str, ...]]:
    """{table: columns} that date a conversation in OpenClaw's stores (epoch ms)."""
    return data.columns("history", "conversation_times")


def auth_profile_literals(doc: Any) -> list[tuple[str, str]]:
    """(profiles.<id>.<field>, value) for every literal credential of an auth-profile store
    document (openclaw.toml [auth_profiles]): the plaintext targets OpenClaw's own
    `secrets audit` lists; a SecretRef sibling (keyRef/tokenRef) is a reference."""
    profiles = doc.get("profiles") if isinstance(doc, dict) else None
    out: list[tuple[str, str]] = []
    for pid, entry in (profiles.items() if isinstance(profiles, dict) else ()):
        for name in data()["auth_profiles"]["credential_fields"]:
            value = entry.get(name) if isinstance(entry, dict) else None
            if isinstance(value, str) and value.strip() and not is_secret_ref(value):
                out.append((f"profiles.{pid}.{name}", value))
    return out


def auth_profile_documents(conn: Any) -> list[tuple[str, Any]]:
    """(table.column[key], parsed JSON) of the auth-profile stores in one open SQLite store
    (the shared row of state/openclaw.sqlite, a per-agent auth_profile_store table)."""
    conf = data()["auth_profiles"]
    table, rest = conf["shared_row"].split(".", 1)
    column, key = rest.split(":", 1)
    a_table, a_column = conf["agent_table"].split(".", 1)
    queries = [(f"{table}.{column}[{key}]", table,
                f'SELECT "{column}" FROM "{table}" WHERE state_key = ?', (key,)),
               (f"{a_table}.{a_column}", a_table, f'SELECT "{a_column}" FROM "{a_table}"', ())]
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    out: list[tuple[str, Any]] = []
    for label, name, sql, args in queries:
        if name not in present:
            continue
        for n, (text,) in enumerate(conn.execute(sql + " LIMIT 100", args), 1):
            try:
                out.append((f"{label}[row {n}]", json.loads(text)))
            except (TypeError, ValueError, RecursionError):
                continue
    return out


def approvals_store(state_dir: str) -> str:
    """Where OpenClaw 2026.9.6 keeps its exec approvals: the `exec_approvals_config` row
    'current' of state/openclaw.sqlite (src/infra/exec-approvals-sqlite.ts
    readExecApprovalsConfigRow; `openclaw approvals set` writes it there, and
    exec-approvals.json is the legacy file `openclaw doctor` imports,
    src/infra/state-migrations.exec-approvals.ts)."""
    return _state_store(state_dir)


def _state_row(fs: Any, state_dir: str, table: str, sql: str, key: str, label: str,
               limit: int, copies: dict[str, Any] | None) -> tuple[Any, str] | None:
    """(the JSON document of one row of the state store, where it was read) or None when
    the store, the table or the row is absent. The store is read through a private copy
    (never opened in place), the run's shared one when `copies` is the scope's cache
    (storage reads the same store); errors raise CouldNotCheck naming the store."""
    from aiaudit.status import CouldNotCheck
    from aiaudit.storage.locate import stat_paths
    from aiaudit.storage.snapshot import shared_copy
    from aiaudit.storage.sqlitefacts import DB_ERRORS, checkpoint, open_copy

    store = approvals_store(state_dir)
    sizes = {f.path: f.size for f in stat_paths(fs, [store, store + "-wal"])}
    if store not in sizes:
        return None
    files = [(store, sizes[store])] + [(p, n) for p, n in sizes.items() if p != store]
    copy = shared_copy(copies, fs, files, limit, "openclaw-state")
    try:
        conn = open_copy(copy.path, None)
        try:
            checkpoint(conn)
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            row = conn.execute(sql, (key,)).fetchone() if table in tables else None
        finally:
            conn.close()
    except DB_ERRORS as exc:
        raise CouldNotCheck(f"cannot read the copy of {store}: {exc}") from None
    if row is None:
        return None
    where = f"{store}#{table}[{key}]"
    try:
        return json.loads(row[0]), where
    except (TypeError, ValueError, RecursionError):
        raise CouldNotCheck(f"{where} is not JSON ({label})") from None


def read_exec_approvals(fs: Any, state_dir: str, limit: int = 64 * 1024 * 1024,
                        copies: dict[str, Any] | None = None) -> tuple[Any, str] | None:
    """(the approvals document, where it was read) from the state store's row, or None when
    the store or the row is absent (then the legacy exec-approvals.json is the one)."""
    return _state_row(fs, state_dir, "exec_approvals_config",
                      "SELECT raw_json FROM exec_approvals_config WHERE config_key = ?",
                      "current", "OpenClaw reads it as the default approvals: security deny",
                      limit, copies)


# `openclaw plugins install` records each install in the state store's plugin index
# (2026.9.6: config_machine_state row `plugins.installedIndex`, written by
# src/plugins/installed-plugin-index-store-write.ts; its `installRecords` keep source,
# sourcePath/spec, installPath, version; its `plugins` keep each manifest's and
# package.json's sha256, never a hash of the code)
PLUGIN_INDEX_KEY = "plugins.installedIndex"
# install sources OpenClaw trusts without --force (src/plugins/install-provenance.ts
# isOpenClawTrustedPluginInstallSpec: clawhub: specs; npm only for its bundled or official
# catalog packages); every other source gets formatNonClawHubInstallWarning
PLUGIN_SOURCE_LABELS = {"git": "Git repository", "local-archive": "local archive",
                        "archive": "local archive", "local-path": "local path",
                        "path": "local path", "marketplace": "marketplace source",
                        "npm": "npm registry", "npm-pack": "local npm-pack archive"}


@dataclass
class PluginInstall:
    """One installed plugin as OpenClaw's plugin index records it."""

    plugin_id: str
    install_path: str
    record: dict[str, Any]  # installRecords[id]: source, sourcePath/spec, version ...
    entry: dict[str, Any]  # plugins[] entry: manifestHash, packageJson.hash, enabled
    where: str  # the store row it was read from


def read_plugin_installs(fs: Any, state_dir: str, limit: int = 64 * 1024 * 1024,
                         copies: dict[str, Any] | None = None) -> list[PluginInstall] | None:
    """Installed plugins of one state dir from the state store's plugin index, or None when
    the store or its index row is absent."""
    read = _state_row(fs, state_dir, "config_machine_state",
                      "SELECT value_json FROM config_machine_state WHERE state_key = ?",
                      PLUGIN_INDEX_KEY, "OpenClaw rebuilds it from the plugin dirs",
                      limit, copies)
    if read is None:
        return None
    doc, where = read
    index = doc.get("index") if isinstance(doc, dict) else None
    if not isinstance(index, dict):
        return []
    records = index.get("installRecords") if isinstance(index.get("installRecords"),
                                                        dict) else {}
    entries = {str(e.get("pluginId")): e for e in index.get("plugins") or ()
               if isinstance(e, dict)}
    out = []
    for plugin_id, record in records.items():
        if not isinstance(record, dict):
            continue
        path = str(record.get("installPath") or f"{state_dir}/extensions/{plugin_id}")
        out.append(PluginInstall(str(plugin_id), posixpath.normpath(path), record,
                                 entries.get(str(plugin_id), {}), where))
    return out


def is_auth_profile_file(relative: str) -> bool:
    """A legacy auth-profiles.json or the copy `openclaw doctor --fix` kept of it."""
    return any(fnmatch.fnmatch(relative, g) for g in data()["auth_profiles"]["legacy_files"])


def own_key_columns() -> dict[str, tuple[str, ...]]:
    """{table: columns} where OpenClaw keeps its own key material (device identity), which
    is no secret of a conversation (openclaw.toml [history] own_keys)."""
    return data.columns("history", "own_keys")


def own_key_values(conn: Any, columns: bool = True) -> list[tuple[str, str]]:
    """(where, value) of OpenClaw's own generated secrets in an open copy of its state
    store: the device identity's key column and the JSON fields of [history] own_json_keys
    (the exec approvals' socket token). Read so that the same value elsewhere (its WAL, a
    backup) is named as OpenClaw's own key, not as a secret someone put there.
    `columns=False`: the JSON fields only."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    out: list[tuple[str, str]] = []
    wanted = [(t, c, "") for t, cols in own_key_columns().items() for c in cols] \
        if columns else []
    for entry in data()["history"].get("own_json_keys", []):
        column, path = entry.split(":", 1)
        table, col = column.split(".", 1)
        wanted.append((table, col, path))
    for table, col, path in wanted:
        if table not in tables:
            continue
        for (value,) in conn.execute(f'SELECT "{col}" FROM "{table}" LIMIT 100'):
            if not isinstance(value, str):
                continue
            if not path:
                out.append((f"{table}.{col}", value))
                continue
            try:
                doc: Any = json.loads(value)
            except (ValueError, RecursionError):
                continue
            for key in path.split("."):
                doc = doc.get(key) if isinstance(doc, dict) else None
            if isinstance(doc, str) and doc:
                out.append((f"{table}.{col} {path}", doc))
    return out


def settings_tables() -> tuple[str, ...]:
    """Tables of the state store that hold settings and credentials, not conversation
    (openclaw.toml [history] settings_tables)."""
    return tuple(data()["history"]["settings_tables"])


def is_state_store(path: str) -> bool:
    """The shared state store (state/openclaw.sqlite) of some state dir."""
    return path.endswith("/" + str(data()["history"]["state_store"]))


def archived_column() -> tuple[str, str]:
    table, col = data()["history"]["archived"].split(".", 1)
    return table, col


@dataclass
class StateFacts:
    """What one OpenClaw state dir says about itself (for the report)."""

    state_dir: str
    config: Config
    maintenance: Maintenance | None = None
    gateway: Gateway | None = None
    sandboxes: list[Sandbox] = field(default_factory=list)


def state_facts(fs: Any, state_dir: str, in_container: bool = False) -> StateFacts:
    cfg = read_config(fs, state_dir)
    facts = StateFacts(state_dir, cfg)
    facts.maintenance = maintenance(cfg)
    facts.gateway = gateway(cfg, in_container)
    facts.sandboxes = sandboxes(cfg)
    return facts
