"""Hermes Agent (PyPI `hermes-agent` 0.19.0): its home, its one config, its defaults.

Hermes reads `config.yaml` (deep-merged over DEFAULT_CONFIG, `${VAR}` expanded) and `.env`
(loaded over the shell environment); top-level scalar keys of config.yaml are bridged into
the environment where .env does not set them (gateway/run.py). Unset keys take Hermes'
defaults, which live in `aiaudit/data/hermes.toml` with the source file of each. Areas
fetch the two files their own way (one round trip per area) and hand the text to
`parse_config`, so every area reads Hermes the same way.
"""

from __future__ import annotations

import codecs
import functools
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from aiaudit.products import ProductData

DATA = ProductData("hermes")  # aiaudit/data/hermes.toml (defaults with their sources)
REFERENCE = re.compile(r"^\s*\$\{[^}]+\}\s*$")  # what hermes_cli/config.py _expand_env_vars expands
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_TRUTHY = ("1", "true", "yes", "on")  # gateway/config.py is_truthy_value
_DQ_ESCAPES = re.compile(r"\\[\\'\"abfnrtv]")  # python-dotenv parser.py _double_quote_escapes
_SQ_ESCAPES = re.compile(r"\\[\\']")  # _single_quote_escapes

product_data = DATA
defaults = DATA.defaults
service_name = DATA.service_name
process_patterns = functools.partial(DATA.strings, "processes", "patterns")
history_routes = functools.partial(DATA.strings, "history", "routes")
# {table: columns} that date a conversation in state.db (hermes_state.py SCHEMA_SQL)
conversation_time_columns = functools.partial(DATA.columns, "history", "conversation_times")


def confined_backends() -> tuple[str, ...]:
    return tuple(product_data()["terminal"]["confined_backends"])


def home_env() -> str:
    return product_data()["home"]["env"]


def homes_below(user_homes: list[str]) -> list[str]:
    """Default homes (`~/.hermes`) of the given user home directories."""
    rel = product_data()["home"]["default"]
    return [posixpath.join(h.rstrip("/") or "/", rel) for h in user_homes]


def home_dir_names() -> tuple[str, ...]:
    """The Hermes home's name below a user's home (`.hermes`)."""
    return (product_data()["home"]["default"],)


def is_home_listing(names: set[str]) -> bool:
    """Whether a directory holding these top-level names is a Hermes home: its state.db, or
    its config.yaml beside its .env or skills dir (config.yaml alone is too common)."""
    home = product_data()["home"]
    return home["state_db"] in names or (
        home["config"] in names and bool({home["env_file"], home["skills"]} & names))


def profiles_glob(home: str) -> str:
    """Glob of the home's named profiles (`profiles/*`): each is a Hermes home of its own
    with its own config.yaml, .env, state.db and skills (hermes_cli/profiles.py)."""
    return posixpath.join(home.rstrip("/") or "/", product_data()["home"]["profiles"], "*")


def default_backups(home: str) -> list[str]:
    """Where `hermes backup` without -o puts its zip for this home: the user's home above a
    default-named `.hermes` (a custom HERMES_HOME says nothing about the user's home)."""
    home = home.rstrip("/")
    if posixpath.basename(home) not in home_dir_names():
        return []
    return [posixpath.join(posixpath.dirname(home) or "/",
                           product_data()["backup"]["default_glob"])]


def home_of_store(store_path: str) -> str:
    """The Hermes home whose config governs a store: state.db sits in its own home (the
    default one or a profile's, hermes_state.py DEFAULT_DB_PATH); a sessions/ transcript
    belongs to the home above sessions/."""
    parent = posixpath.dirname(store_path)
    return posixpath.dirname(parent) if posixpath.basename(parent) == "sessions" else parent


def file_in(home: str, key: str) -> str:
    """Path of one of the home's files (`config`, `env_file`, `state_db`, `hub_lock`, ...)."""
    return posixpath.join(home.rstrip("/"), product_data()["home"][key])


def is_reference(value: Any) -> bool:
    """A `${VAR}` reference Hermes expands at load time (the secret lives elsewhere)."""
    return isinstance(value, str) and bool(REFERENCE.match(value))


def truthy(value: Any) -> bool:
    """How Hermes tests a flag read from config or env (YAML booleans, "true"/"1"/...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return isinstance(value, str) and value.strip().lower() in _TRUTHY


def parse_env(text: str) -> dict[str, str]:
    """A dotenv file as python-dotenv reads the simple forms Hermes writes."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _ENV_LINE.match(line)
        if m and not line.lstrip().startswith("#"):
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                # python-dotenv (parser.py parse_value) decodes these escapes in quoted
                # values: `hermes config set` writes a JSON list as "[\"a:b\"]"
                escapes = _DQ_ESCAPES if value[0] == '"' else _SQ_ESCAPES
                value = escapes.sub(lambda m: codecs.decode(m.group(0), "unicode-escape"),
                                    value[1:-1])
            else:
                value = value.split(" #", 1)[0].strip()
            out[m.group(1)] = value
    return out


@dataclass(frozen=True)
class Setting:
    """One resolved setting: its value and where it came from (a file key or a default)."""

    key: str
    value: Any
    source: str  # "config.yaml", ".env", "config.yaml (top-level, bridged to env)", "default"

    @property
    def is_default(self) -> bool:
        return self.source == "default"

    def describe(self) -> str:
        shown = str(self.value).lower() if isinstance(self.value, bool) else self.value
        where = (f"unset: Hermes default, {DATA.file}" if self.is_default else self.source)
        return f"{self.key}={shown} ({where})"


@dataclass(frozen=True)
class Managed:
    """The managed scope (hermes_cli/managed_scope.py), as read from the target: its
    config.yaml and .env texts (None: the file does not exist)."""

    dir: str
    config_text: str | None = None
    env_text: str | None = None

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(p for p, t in ((self.config_path, self.config_text),
                                    (self.env_path, self.env_text)) if t is not None)

    @property
    def config_path(self) -> str:
        return posixpath.join(self.dir, product_data()["managed"]["config"])

    @property
    def env_path(self) -> str:
        return posixpath.join(self.dir, product_data()["managed"]["env_file"])


def managed_dir() -> str:
    """Where Hermes looks for its managed scope by default (/etc/hermes)."""
    return product_data()["managed"]["dir"]


def managed_env() -> str:
    """The variable that moves the managed scope (HERMES_MANAGED_DIR)."""
    return product_data()["managed"]["env"]


def managed_paths(directory: str | None = None) -> tuple[str, str]:
    m = Managed(directory or managed_dir())
    return m.config_path, m.env_path


def read_managed(fs: Any, directory: str | None = None, limit: int = 1024 * 1024) -> Managed:
    """The managed scope's two files on the target. A missing file is no managed layer; an
    existing one the audit account cannot read is CouldNotCheck (naming the path and the
    right): what it pins wins over the home's own settings, so nothing can be judged
    without it."""
    from aiaudit.access import check_access
    from aiaudit.status import CouldNotCheck

    directory = directory or managed_dir()
    texts: dict[str, str | None] = {}
    paths = managed_paths(directory)
    found = check_access(fs, paths)
    for path in paths:
        access = found.get(path)
        if access is None or access.missing:
            texts[path] = None
            continue
        if access.unreadable:
            raise CouldNotCheck(access.reason() + " (Hermes' managed scope: it overrides "
                                "every home's settings)")
        try:
            with fs.open(path) as stream:
                texts[path] = stream.read(limit).decode("utf-8", "replace")
        except OSError as exc:
            raise CouldNotCheck(f"cannot read {path}: {exc}") from None
    return Managed(directory, texts[paths[0]], texts[paths[1]])


def managed_for(ctx: Any, home: str | None = None) -> Managed:
    """The managed scope the Hermes processes of `home` load (the one HERMES_MANAGED_DIR
    in their environment names, aiaudit.scope; else /etc/hermes), each dir read once per
    run (every area asks for it)."""
    from aiaudit.hostfs import HostFS

    directory = managed_dir_for(ctx, home)[0]
    return ctx.cached(f"hermes:managed:{directory}",
                      lambda: read_managed(HostFS.for_context(ctx), directory))


def managed_dir_for(ctx: Any, home: str | None) -> tuple[str, str]:
    """(managed dir, where it was named: "" for Hermes' default) for a home of the run's
    scope."""
    if home is None:
        return managed_dir(), ""
    in_env = _managed_dir_in_home_env(ctx, home)
    if in_env is not None:
        return in_env
    from aiaudit.scope import scope_for

    try:
        scope = scope_for(ctx)
    except Exception:  # network-only targets have no scope: nothing on the host is read
        return managed_dir(), ""
    return scope.hermes_managed_dir(home)


def _managed_dir_in_home_env(ctx: Any, home: str) -> tuple[str, str] | None:
    """HERMES_MANAGED_DIR set in the home's own .env, which beats the process's and the
    unit's: hermes_cli/env_loader.py load_hermes_dotenv loads <home>/.env with
    override=True and only then calls _apply_managed_env, whose
    managed_scope.get_managed_dir reads os.environ (checked: `hermes config get` resolves
    the managed values with the variable only in .env). An empty value unsets it
    (get_managed_dir strips it: /etc/hermes). None when the .env does not set it or
    cannot be read (the areas reading the .env report that themselves)."""
    from aiaudit.hostfs import HostFS
    from aiaudit.status import CouldNotCheck

    path = file_in(home, "env_file")

    def read() -> str | None:
        try:
            with HostFS.for_context(ctx).open(path) as stream:
                return stream.read(1024 * 1024).decode("utf-8", "replace")
        except (OSError, CouldNotCheck):
            return None

    text = ctx.cached(f"hermes:home-env:{path}", read)
    if text is None:
        return None
    value = parse_env(text).get(managed_env())
    if value is None:
        return None
    value = value.strip()
    why = f"{managed_env()} in {path} (loaded over the process environment before " \
        "get_managed_dir)"
    return (posixpath.normpath(value), why) if value else (managed_dir(), why)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """hermes_cli/config.py _deep_merge: `over` wins per leaf, dicts merge recursively."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class HermesConfig:
    """A Hermes home's config.yaml and .env, parsed once, with Hermes' defaults applied and
    the managed scope (if any) laid over them as Hermes does."""

    home: str
    doc: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # files that were read
    error: str | None = None  # config.yaml did not parse
    managed_doc: dict[str, Any] = field(default_factory=dict)  # the managed config.yaml
    managed_env: dict[str, str] = field(default_factory=dict)  # the managed .env
    managed: Managed | None = None
    # the environment the deployment's gateway unit gives this home's gateway
    # (unit_envs): below the .env files Hermes loads with override=True
    gateway_env: dict[str, Setting] = field(default_factory=dict)

    @property
    def config_path(self) -> str:
        return file_in(self.home, "config")

    @property
    def env_path(self) -> str:
        return file_in(self.home, "env_file")

    @property
    def has_config(self) -> bool:
        return self.config_path in self.files

    def raw(self, dotted: str) -> Any:
        node: Any = self.doc
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def _pinned(self, dotted: str) -> bool:
        node: Any = self.managed_doc
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return not isinstance(node, dict) or not node

    def get(self, dotted: str) -> Setting:
        """A config.yaml key (the managed scope's value when it pins the key), or Hermes'
        default when unset (never "false" by omission)."""
        value = self.raw(dotted)
        if value is not None and self.managed and self._pinned(dotted):
            return Setting(dotted, value, f"{self.managed.config_path} {dotted} (managed "
                           "scope: wins over the home's config.yaml)")
        if value is not None:
            return Setting(dotted, value, f"{self.config_path} {dotted}")
        return Setting(dotted, defaults().get(dotted), "default")

    def env_var(self, name: str, bridged: bool = True) -> Setting | None:
        """An environment variable as Hermes' process sees it from its files: the managed
        .env wins (loaded last, override=True), then the home's .env (load_hermes_dotenv
        override=True), then config.yaml top-level scalars (gateway/run.py bridges them
        where the env lacks them; `bridged=False` leaves those out: only the gateway
        bridges them). The service unit's own environment is not in the home and is not
        seen here."""
        if name in self.managed_env and self.managed:
            return Setting(name, self.managed_env[name], f"{self.managed.env_path} (managed "
                           "scope: loaded last, over the home's .env)")
        if name in self.env:
            return Setting(name, self.env[name], self.env_path)
        if bridged and name in self.gateway_env:
            return self.gateway_env[name]
        value = self.doc.get(name) if isinstance(self.doc, dict) and bridged else None
        if isinstance(value, str | int | float | bool):
            return Setting(name, str(value), f"{self.config_path} (top-level, bridged to env)")
        return None

    def mcp_servers(self) -> dict[str, dict[str, Any]]:
        table = self.doc.get("mcp_servers") if isinstance(self.doc, dict) else None
        return {str(k): v for k, v in table.items() if isinstance(v, dict)} \
            if isinstance(table, dict) else {}


def parse_config(home: str, config_text: str | None, env_text: str | None) -> HermesConfig:
    """The one reader of a Hermes home's configuration (texts as read from the target)."""
    home = home.rstrip("/") or "/"
    files = []
    doc: dict[str, Any] = {}
    error = None
    if config_text is not None:
        files.append(file_in(home, "config"))
        try:
            loaded = yaml.safe_load(config_text)
        except yaml.YAMLError as exc:
            error = f"{file_in(home, 'config')} does not parse as YAML: " + " ".join(
                str(exc).split())[:200]
            loaded = None
        if isinstance(loaded, dict):
            doc = loaded
        elif loaded is not None and error is None:
            error = f"{file_in(home, 'config')} is not a YAML mapping"
    env = {}
    if env_text is not None:
        files.append(file_in(home, "env_file"))
        env = parse_env(env_text)
    return HermesConfig(home, doc, env, tuple(files), error)


def overlay(cfg: HermesConfig, managed: Managed | None) -> HermesConfig:
    """The home's config with the managed scope laid over it as Hermes loads it: the
    managed config.yaml deep-merged on top per leaf (a bare `model: x` pins
    model.default), the managed .env over the home's. A managed config.yaml that does not
    parse is ignored by Hermes (fail-open, logged) and so here."""
    if managed is None or not managed.files:
        return cfg
    mdoc: dict[str, Any] = {}
    if managed.config_text is not None:
        try:
            loaded = yaml.safe_load(managed.config_text)
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            mdoc = dict(loaded)
            if isinstance(mdoc.get("model"), str):
                mdoc["model"] = {"default": mdoc["model"]}
    menv = parse_env(managed.env_text) if managed.env_text is not None else {}
    return HermesConfig(cfg.home, _deep_merge(cfg.doc, mdoc), cfg.env,
                        cfg.files + managed.files, cfg.error, mdoc, menv, managed,
                        cfg.gateway_env)


# ----------------------------------------------------------------- facts the areas use


def literal_credentials(cfg: HermesConfig) -> list[tuple[str, str]]:
    """(where, value) of Hermes' credential settings whose names no generic secret rule
    recognises (API_SERVER_KEY, platforms.api_server.extra.key, ...), when set literally
    (not a `${VAR}` reference) in the home's .env or config.yaml."""
    data = product_data()["credentials"]
    out = []
    for name in data["env"]:
        setting = cfg.env_var(name)
        if setting is not None and _literal_value(setting.value):
            out.append((f"{setting.source} {name}", str(setting.value)))
    for dotted in data["config"]:
        value = cfg.raw(dotted)
        if _literal_value(value):
            where = cfg.managed.config_path if cfg.managed and cfg._pinned(dotted) \
                else cfg.config_path
            out.append((f"{where} {dotted}", str(value)))
    return out


def _literal_value(value: Any) -> bool:
    return isinstance(value, str | int) and len(str(value).strip()) >= 8 and \
        not is_reference(str(value))


@dataclass(frozen=True)
class Retention:
    """sessions.auto_prune / retention_days as Hermes applies them at start-up."""

    enabled: bool
    days: float | None
    detail: str


def retention(cfg: HermesConfig) -> Retention:
    auto = cfg.get("sessions.auto_prune")
    days_setting = cfg.get("sessions.retention_days")
    interval = cfg.get("sessions.min_interval_hours")
    try:
        days: float | None = float(int(days_setting.value))  # cli.py: int(cfg.get(...))
    except (TypeError, ValueError):
        days = None
    enabled = bool(auto.value)  # cli.py: `if not cfg.get("auto_prune", False): return`
    detail = f"{auto.describe()}, {days_setting.describe()}"
    # cli.py _run_state_db_auto_maintenance passes int(retention_days) and
    # int(min_interval_hours) inside one `try ... except Exception` that only logs at debug:
    # a value int() refuses ("30d", "12h", `hermes config set` keeps them as strings) skips
    # the whole maintenance, so nothing is ever pruned
    for setting in (days_setting, interval):
        try:
            int(setting.value)
        except (TypeError, ValueError):
            if enabled:
                enabled = False
                detail += (f"; {setting.describe()} is no integer: Hermes' start-up "
                           "maintenance raises on int() and skips pruning (cli.py)")
    if not cfg.has_config:
        detail = f"{cfg.config_path} missing: {detail}"
    return Retention(enabled, days, detail)


@dataclass(frozen=True)
class ApiServer:
    """The API server's configured intent (gateway/config.py + api_server.py precedence)."""

    enabled: bool
    host: str
    port: int | str
    key: str  # "set in <where>", "reference ${VAR}", "none (Hermes refuses to start)"
    source: str  # the file that enabled it (or the home's config when disabled)
    detail: str


def api_server(cfg: HermesConfig) -> ApiServer:
    data = product_data()["api_server"]
    enable_env = cfg.env_var(data["env_enable"])
    key_env = cfg.env_var(data["env_key"])
    block = cfg.raw("platforms.api_server")
    nested = cfg.raw("gateway.platforms.api_server")  # merged first; top level wins
    merged: dict[str, Any] = {}
    for part in (nested, block):
        if isinstance(part, dict):
            extra = {**merged.get("extra", {}), **(part.get("extra") or {})} \
                if isinstance(part.get("extra") or {}, dict) else merged.get("extra", {})
            merged = {**merged, **part, "extra": extra}
    configured = merged.get("enabled")
    enabled_by = []
    if enable_env and truthy(enable_env.value):
        enabled_by.append(f"{data['env_enable']}={enable_env.value} ({enable_env.source})")
    if key_env and key_env.value:
        enabled_by.append(f"{data['env_key']} set ({key_env.source})")
    if truthy(configured):
        enabled_by.append(f"platforms.api_server.enabled=true ({cfg.config_path})")
    extra = merged.get("extra") if isinstance(merged.get("extra"), dict) else {}
    host_env = cfg.env_var(data["env_host"])
    port_env = cfg.env_var(data["env_port"])
    # gateway/config.py _apply_env_overrides writes API_SERVER_HOST over extra.host only
    # when API_SERVER_ENABLED or API_SERVER_KEY is in the environment (a ${API_SERVER_KEY}
    # key in config.yaml means it is: the gateway cannot start without it); otherwise
    # api_server.py takes extra["host"] before os.getenv("API_SERVER_HOST")
    env_applies = bool(enable_env and truthy(enable_env.value) or key_env and key_env.value
                       or str(extra.get("key") or "").strip() == f"${{{data['env_key']}}}")
    if host_env and host_env.value and (env_applies or extra.get("host") is None):
        host, host_from = host_env.value, f"{data['env_host']} ({host_env.source})"
    elif extra.get("host") is not None:
        host, host_from = str(extra["host"]), "platforms.api_server.extra.host"
    else:
        host = defaults()["platforms.api_server.extra.host"]
        host_from = "unset: Hermes default (gateway/platforms/api_server.py DEFAULT_HOST)"
    port = (port_env.value if port_env and port_env.value else extra.get("port")
            or defaults()["platforms.api_server.extra.port"])
    raw_key = key_env.value if key_env and key_env.value else extra.get("key")
    if raw_key in (None, ""):
        key = ("none in the home's files (Hermes refuses to start without API_SERVER_KEY; "
               "it may come from the service's environment)")
    elif is_reference(raw_key):
        key = f"reference {str(raw_key).strip()}"
    elif len(str(raw_key)) < data["min_key_length"]:
        key = f"shorter than {data['min_key_length']} chars (Hermes refuses to start)"
    else:
        key = "set literally in " + (key_env.source if key_env and key_env.value
                                      else cfg.config_path)
    detail = (f"enabled by {'; '.join(enabled_by)}" if enabled_by else
              "not enabled (platforms.api_server.enabled unset: Hermes default false; no "
              "API_SERVER_ENABLED / API_SERVER_KEY)")
    detail += f"; host {host} from {host_from}; port {port}"
    source = enabled_by[0].rsplit("(", 1)[-1].rstrip(")") if enabled_by else cfg.config_path
    return ApiServer(bool(enabled_by), host, port, key, source, detail)


def unit_entry(exec_start: str) -> str | None:
    """The entry point a unit's `ExecStart=` runs: `hermes gateway ...` the gateway,
    `hermes serve|desktop|acp` the serve path (hermes_cli/main.py subcommands)."""
    words = exec_start.split()
    if not any("hermes" in posixpath.basename(w) for w in words[:3]):  # bin/hermes,
        return None  # hermes-agent, python3 -m hermes_cli.main
    if "gateway" in words:
        return "gateway"
    if {"serve", "desktop", "acp"} & set(words):
        return "serve"
    return None


def unit_envs(settings: list[tuple[str, str, str]], home: str, entry: str
              ) -> dict[str, Setting]:
    """{name: value} of the `Environment=` (and EnvironmentFile=) of the deployment's units
    that start `entry` (unit_entry) for `home` (their HERMES_HOME; a unit without one runs
    ~/.hermes of its user, taken as every home): `settings` is aiaudit.scope.unit_settings."""
    by_unit: dict[str, dict[str, str]] = {}
    for unit, key, value in settings:
        by_unit.setdefault(unit, {})[key] = value
    out: dict[str, Setting] = {}
    for unit, env in by_unit.items():
        named = env.get(home_env())
        if unit_entry(env.get("ExecStart", "")) != entry or named and \
                posixpath.normpath(named) != posixpath.normpath(home):
            continue
        for key, value in env.items():
            if key not in ("ExecStart", home_env()):
                out[key] = Setting(key, value, f"unit {unit}'s Environment=")
    return out


def unit_terminal_envs(settings: list[tuple[str, str, str]], home: str
                       ) -> dict[str, Setting]:
    """{entry: TERMINAL_ENV} the deployment's units put in the environment of the Hermes
    entry point they start for `home` (their HERMES_HOME; a unit without one runs
    ~/.hermes of its user, taken as every home): `settings` is aiaudit.scope.unit_settings.
    Hermes loads the .env files over it (override=True), so it counts only where they set
    no TERMINAL_ENV (terminal_backends)."""
    by_unit: dict[str, dict[str, str]] = {}
    for unit, key, value in settings:
        by_unit.setdefault(unit, {})[key] = value
    name = product_data()["terminal"]["backend_env"]
    out: dict[str, Setting] = {}
    for unit, env in by_unit.items():
        entry = unit_entry(env.get("ExecStart", ""))
        value = env.get(name, "").strip()
        named = env.get(home_env())
        if entry is None or not value or named and posixpath.normpath(named) != \
                posixpath.normpath(home):
            continue
        out[entry] = Setting("terminal.backend", value.lower(),
                             f"unit {unit}'s Environment={name}")
    return out


def terminal_backends(cfg: HermesConfig, unit_env: dict[str, Setting] | None = None
                      ) -> list[tuple[str, Setting]]:
    """(entry point, terminal.backend) for each way Hermes starts an agent; terminal_tool
    reads os.environ TERMINAL_ENV (hermes.toml [terminal] backend_env), which each entry
    point fills its own way after loading the .env files (managed .env over the home's,
    both override=True over the service's environment, hermes_cli/env_loader.py):
    - gateway (gateway/run.py config bridge): config.yaml's terminal.backend overrides the
      env; unset, the env's TERMINAL_ENV stays;
    - CLI (cli.py load_cli_config): config.yaml's terminal.backend; a `terminal` section
      without it exports the DEFAULT env_type `local` over the env; no section at all
      leaves the env's value;
    - `hermes serve`, desktop, ACP, cron ticker (tools/terminal_tool.py
      _ensure_terminal_env_bridged): a TERMINAL_ENV already in the env wins over config.yaml.
    """
    conf = cfg.get("terminal.backend")
    env_name = product_data()["terminal"]["backend_env"]

    def from_env(bridged: bool) -> Setting | None:
        env = cfg.env_var(env_name, bridged)
        if env is None or not str(env.value).strip():
            return None
        return Setting("terminal.backend", str(env.value).strip().lower(),
                       f"{env.source} {env_name}")

    # only gateway/run.py bridges config.yaml's top-level keys into the environment; a
    # unit's Environment= lies below the .env files and above that bridge
    unit_env = unit_env or {}
    dotenv = from_env(False)
    gateway = dotenv or unit_env.get("gateway") or from_env(True)
    serve = dotenv or unit_env.get("serve")
    section = isinstance(cfg.doc, dict) and "terminal" in cfg.doc
    if not conf.is_default:
        return [("gateway", conf), ("cli", conf), ("serve", serve or conf)]
    cli = dotenv or conf
    if section and dotenv is not None:
        cli = Setting("terminal.backend", conf.value,
                      f"default: {cfg.config_path} has a terminal section without backend, "
                      f"so cli.py exports DEFAULT env_type '{conf.value}' over {env_name}")
    return [("gateway", gateway or conf), ("cli", cli), ("serve", serve or conf)]


# every way Hermes starts an agent on the home: `hermes serve` (the desktop backend, ACP,
# the desktop cron ticker) needs no unit or flag more than the CLI does, and runs the
# terminal tool with a TERMINAL_ENV from the .env files over config.yaml
# (tools/terminal_tool.py _ensure_terminal_env_bridged: "Explicit env always wins")
JUDGED_ENTRIES = ("gateway", "cli", "serve")


def terminal_backend(cfg: HermesConfig, unit_env: dict[str, Setting] | None = None
                     ) -> Setting:
    """The backend judged for the home: the first entry point (gateway, CLI, `hermes
    serve`) that runs commands on the host, else the one all use; its source says which
    entry point when they differ. A managed config.yaml pinning docker confines the
    gateway and the CLI, but a TERMINAL_ENV=local left in the home's .env (what `hermes
    config set terminal.backend local` wrote) still runs `hermes serve` on the host."""
    found = [(e, s) for e, s in terminal_backends(cfg, unit_env) if e in JUDGED_ENTRIES]
    values = {str(s.value) for _, s in found}
    confined = confined_backends()
    for entry, setting in found:
        if str(setting.value) not in confined:
            if len(values) == 1:
                return setting
            others = ", ".join(f"{e} {v.value}" for e, v in found if e != entry)
            where = f"unset: Hermes default, {DATA.file}" if setting.is_default \
                else setting.source
            return Setting(setting.key, setting.value, f"{where}; what the {entry} runs "
                           f"with (the other entry points: {others})")
    return found[0][1]


def docker_list(cfg: HermesConfig, key: str) -> tuple[list[str], str]:
    """(items, where) of terminal.<key> (docker_volumes, docker_extra_args) as the docker
    backend gets them (hermes.toml [terminal] docker_lists): config.yaml's value, a JSON
    string decoded as terminal_tool decodes it, else the env variable from .env."""
    env_name = product_data()["terminal"]["docker_lists"][key]
    raw: Any = cfg.raw(f"terminal.{key}")
    where = f"{cfg.config_path} terminal.{key}"
    if raw is None:
        env = cfg.env_var(env_name)
        raw, where = (env.value, f"{env.source} {env_name}") if env else (None, "")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            return [], f"{where}: not JSON (terminal_tool refuses to start the container)"
    if not isinstance(raw, list):
        return [], where
    return [str(x) for x in raw], where


@dataclass(frozen=True)
class HubLock:
    """skills/.hub/lock.json entries by install path (tools/skills_hub.py HubLockFile)."""

    path: str
    installed: dict[str, dict[str, Any]]

    def entry_for(self, install_path: str) -> tuple[str, dict[str, Any]] | None:
        for name, entry in self.installed.items():
            if entry.get("install_path") == install_path or (
                    not entry.get("install_path") and name == install_path):
                return name, entry
        return None


def hub_lock(doc: Any, path: str = "") -> HubLock | None:
    installed = doc.get("installed") if isinstance(doc, dict) else None
    if not isinstance(installed, dict):
        return None
    return HubLock(path, {str(k): v for k, v in installed.items() if isinstance(v, dict)})


def registry_of(entry: dict[str, Any]) -> str | None:
    """The registry id of a hub install: `github:<owner>/<repo>` for GitHub-backed sources,
    `url:<host>` for `hermes skills install <url>`, else `hermes:<source>`."""
    source = str(entry.get("source") or "")
    identifier = str(entry.get("identifier") or "")
    if source in ("github", "skills.sh", "skills-sh") and identifier.count("/") >= 1:
        return "github:" + "/".join(identifier.split("/")[:2])
    if source == "url":
        m = re.match(r"(?i)^https?://([^/:@]+@)?([^/:]+|\[[^\]]+\])", identifier)
        return f"url:{m.group(2).lower()}" if m else "url:?"
    return f"hermes:{source}" if source else None
