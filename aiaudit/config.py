"""The audit config (`--audit-config FILE`, TOML): endpoints, canary, paths, policy, waivers.

Inputs with defaults, as in dev-sec baselines. Secrets are never literal in the file: a
credential is named by an environment variable (`*_env`) or a mounted secret file (`*_file`).
A bad file is reported with the key and the line, never with a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiaudit.redact import register_secret

DEFAULT_POLICY: dict[str, int | float] = {
    "retention_days": 90,
    "retention_min_days": 30,
    "backup_max_age_days": 7,
    "injection_leak_threshold": 0.0,
}

# section -> key -> accepted types. Area issues add their sections here.
_STR, _INT, _BOOL, _LIST = (str,), (int,), (bool,), (list,)
SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "ssh": {"config_file": _STR, "identity_file": _STR},
    "canary": {"value": _STR, "value_env": _STR, "value_file": _STR},
    "endpoints": {
        "name": _STR,
        "url": _STR,
        "api": _STR,
        "auth_header": _STR,
        "auth_scheme": _STR,
        "auth_env": _STR,
        "auth_file": _STR,
        "user_field": _STR,
        "body_template": _STR,
        "answer_path": _STR,
    },
    "users": {"name": _STR, "token_env": _STR, "token_file": _STR},
    "deployment": {"homes": _LIST, "units": _LIST, "users": _LIST, "ports": _LIST},
    "paths": {"state_dirs": _LIST, "access_logs": _LIST},
    "exposure": {
        "extra_ports": _LIST,
        "proxy_urls": _LIST,
        "proxy_auth_header": _STR,
        "proxy_auth_scheme": _STR,
        "proxy_auth_env": _STR,
        "proxy_auth_file": _STR,
        "alert_sinks": _LIST,
        "alert_wait_seconds": (int, float),
        "host_budget_seconds": (int, float),
    },
    "policy": {k: (int, float) for k in DEFAULT_POLICY},
    "waivers": {"control": _STR, "justification": _STR, "expires": (dt.date, str)},
}
# Area sections whose keys the area packages validate themselves (see area_section()).
AREA_SECTIONS = ("storage", "supply_chain", "injection")
ARRAY_SECTIONS = {"endpoints", "users", "waivers"}
REQUIRED = {
    "endpoints": ("name", "url"),
    "users": ("name",),
    "waivers": ("control", "justification", "expires"),
}
APIS = ("openai", "ollama", "rest")
_SECRET_KEY = re.compile(r"(?i)(token|secret|password|api_?key|auth)$")


class SettingsError(ValueError):
    """A section (`[deployment]`, `[storage]`, `[supply_chain]`, `[injection]`) has a bad key.

    The area parsers raise it with the key so that `load_config` can name the file and line:
    every section is validated once, at start, and a typo is a usage error, not an ERROR in
    every test.
    """

    def __init__(self, section: str, key: str, msg: str):
        super().__init__(f"[{section}] {key}: {msg}")
        self.section, self.key, self.msg = section, key, msg


class ConfigError(ValueError):
    """The audit config cannot be used; the message names the file, line and key."""


@dataclass(frozen=True)
class Credential:
    """Where a secret comes from; the value is read only when needed."""

    env: str | None = None
    file: str | None = None

    def read(self) -> str | None:
        """The secret (registered for redaction); OSError when the file cannot be read."""
        secret = None
        if self.env:
            secret = os.environ.get(self.env)
        elif self.file:
            secret = Path(self.file).read_text(encoding="utf-8").strip()
        register_secret(secret)
        return secret or None

    def value(self) -> str | None:
        """The secret, or None when it is unset or unreadable (the caller reports it)."""
        try:
            return self.read()
        except OSError:
            return None

    def describe(self) -> str:
        if self.env:
            return f"env ${self.env}"
        return f"file {self.file}" if self.file else "none"


@dataclass(frozen=True)
class Endpoint:
    name: str
    url: str
    api: str = "openai"
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    credential: Credential = Credential()
    user_field: str | None = None
    body_template: str | None = None
    answer_path: str | None = None

    def auth_headers(self) -> dict[str, str]:
        secret = self.credential.value()
        if not secret:
            return {}
        value = f"{self.auth_scheme} {secret}" if self.auth_scheme else secret
        return {self.auth_header: value}


@dataclass(frozen=True)
class ExposureConfig:
    """`[exposure]`: extra ports to probe, the authenticating proxy in front of the AI
    APIs and its credential (EXP-03), and where EXP-05's marker must show up."""

    proxy_urls: tuple[str, ...] = ()
    proxy_auth_header: str = "Authorization"
    proxy_auth_scheme: str = "Bearer"
    proxy_credential: Credential = Credential()
    alert_sinks: tuple[str, ...] = ()  # files read like access logs (SIEM spool, alert log)
    alert_wait_seconds: float = 10.0
    host_budget_seconds: float = 30.0  # total time one host:port may cost the whole audit

    def proxy_auth_headers(self) -> dict[str, str]:
        secret = self.proxy_credential.value()
        if not secret:
            return {}
        scheme = self.proxy_auth_scheme
        return {self.proxy_auth_header: f"{scheme} {secret}" if scheme else secret}


@dataclass(frozen=True)
class DeploymentConfig:
    """`[deployment]`: where the audited deployment is (aiaudit.scope resolves it once).

    `homes` are framework dirs (`/home/u/.hermes`, `/srv/openclaw`) or user homes holding
    them (`/home/u` finds `.hermes` and `.openclaw`); `units` are its systemd services,
    `users` the accounts it runs as, `ports` the ports it listens on. Set, it is the scope:
    only what it names is judged; the rest of the host is listed as "also seen".
    """

    homes: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()

    @property
    def is_set(self) -> bool:
        return bool(self.homes or self.units or self.users or self.ports)


_UNIT = re.compile(r"^[A-Za-z0-9_.@:\\-]+$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$")


def parse_deployment(table: dict[str, Any]) -> DeploymentConfig:
    """`[deployment]` checked key by key; SettingsError names the key (one usage line)."""
    def strings(key: str, ok: Any, what: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and ok(v) for v in value):
            raise SettingsError("deployment", key, f"must be a list of {what}")
        return tuple(dict.fromkeys(value))

    homes = strings("homes", lambda v: v.startswith("/"), "absolute paths")
    units = strings("units", lambda v: bool(_UNIT.match(v)), "systemd unit names")
    users = strings("users", lambda v: bool(_ACCOUNT.match(v)), "user names or uids")
    ports = table.get("ports", [])
    if not isinstance(ports, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports):
        raise SettingsError("deployment", "ports", "must be a list of port numbers")
    found = DeploymentConfig(tuple(h.rstrip("/") or "/" for h in homes),
                             tuple(u if "." in u else f"{u}.service" for u in units),
                             users, tuple(dict.fromkeys(ports)))
    if not found.is_set:
        raise SettingsError("deployment", "homes", "the section names nothing: set homes "
                            "(a framework dir or a user home), units, users or ports")
    return found


@dataclass(frozen=True)
class User:
    name: str
    credential: Credential


@dataclass(frozen=True)
class Waiver:
    control: str
    justification: str
    expires: dt.date

    def valid(self, today: dt.date | None = None) -> bool:
        return (today or dt.date.today()) <= self.expires


@dataclass
class AuditConfig:
    path: str | None = None
    ssh_config_file: str | None = None
    ssh_identity_file: str | None = None
    canary: str | None = None
    endpoints: list[Endpoint] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    deployment: DeploymentConfig = DeploymentConfig()
    state_dirs: list[str] = field(default_factory=list)
    access_logs: list[str] = field(default_factory=list)
    extra_ports: list[int] = field(default_factory=list)
    exposure: ExposureConfig = ExposureConfig()
    policy: dict[str, int | float] = field(default_factory=lambda: dict(DEFAULT_POLICY))
    waivers: list[Waiver] = field(default_factory=list)
    areas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def area_section(self, name: str) -> dict[str, Any]:
        """The raw `[storage]`, `[supply_chain]` or `[injection]` table (empty if absent)."""
        return self.areas.get(name, {})

    def waiver_for(self, control_id: str) -> Waiver | None:
        return next((w for w in self.waivers if w.control == control_id), None)


def _line_of(text: str, section: str | None, key: str, index: int = 0) -> int | None:
    """Best-effort line number of `key` inside `section` (the index-th table for arrays)."""
    lines = text.splitlines()
    start = 0
    if section:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(section)}\s*\]\]?\s*(#.*)?$")
        hits = [i for i, line in enumerate(lines) if header.match(line)]
        if not hits:
            return None
        start = hits[min(index, len(hits) - 1)]
    key_rx = re.compile(rf"^\s*({re.escape(key)}\s*=|\[\[?\s*{re.escape(key)}\s*[\].])")
    for i in range(start, len(lines)):
        if i > start and section and lines[i].lstrip().startswith("["):
            break
        if key_rx.match(lines[i]):
            return i + 1
    return start + 1 if section else None


class _Loader:
    def __init__(self, path: str, text: str):
        self.path, self.text = path, text

    def fail(self, section: str | None, key: str, msg: str, index: int = 0) -> ConfigError:
        line = _line_of(self.text, section, key, index)
        where = f"{self.path}:{line}" if line else self.path
        name = f"{section}.{key}" if section else key
        return ConfigError(f"{where}: {name}: {msg}")

    def check_table(self, section: str, table: Any, index: int = 0) -> dict:
        if not isinstance(table, dict):
            raise self.fail(None, section, "must be a table", index)
        schema = SCHEMA[section]
        for key, value in table.items():
            if key not in schema:
                if _SECRET_KEY.search(key) and isinstance(value, str):
                    raise self.fail(section, key, "literal secrets are not allowed; name an "
                                    "environment variable (*_env) or a secret file (*_file)", index)
                known = ", ".join(sorted(schema))
                raise self.fail(section, key, f"unknown key (known: {known})", index)
            types = schema[key]
            if isinstance(value, bool) and bool not in types or not isinstance(value, types):
                kinds = " or ".join(t.__name__ for t in types)
                got = type(value).__name__
                raise self.fail(section, key, f"expected {kinds}, got {got}", index)
        for key in REQUIRED.get(section, ()):
            if key not in table:
                raise self.fail(section, key, "is required", index)
        return table


def _credential(table: dict, prefix: str) -> Credential:
    return Credential(env=table.get(f"{prefix}_env"), file=table.get(f"{prefix}_file") or None)


def _exposure(load: _Loader, table: dict[str, Any]) -> ExposureConfig:
    urls = table.get("proxy_urls", [])
    for url in urls:
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise load.fail("exposure", "proxy_urls", "must be a list of http(s) URLs")
    sinks = table.get("alert_sinks", [])
    if not all(isinstance(p, str) for p in sinks):
        raise load.fail("exposure", "alert_sinks", "must be a list of file paths")
    wait = table.get("alert_wait_seconds", 10.0)
    if not 0 < wait <= 300:
        raise load.fail("exposure", "alert_wait_seconds", "must be between 0 and 300")
    budget = table.get("host_budget_seconds", 30.0)
    if not 1 <= budget <= 3600:
        raise load.fail("exposure", "host_budget_seconds", "must be between 1 and 3600")
    return ExposureConfig(
        proxy_urls=tuple(urls),
        proxy_auth_header=table.get("proxy_auth_header", "Authorization"),
        proxy_auth_scheme=table.get("proxy_auth_scheme", "Bearer"),
        proxy_credential=_credential(table, "proxy_auth"),
        alert_sinks=tuple(sinks),
        alert_wait_seconds=float(wait),
        host_budget_seconds=float(budget),
    )


def _validate_area(load: _Loader, section: str, table: dict[str, Any]) -> None:
    """Run the area's own parser now, so a bad key is one usage line naming file and line."""
    from aiaudit.injection.settings import load_settings
    from aiaudit.storage.settings import parse_settings as storage_settings
    from aiaudit.supply_chain.settings import parse_settings as supply_chain_settings

    parser = {"storage": storage_settings, "supply_chain": supply_chain_settings,
              "injection": load_settings}[section]
    try:
        parser(table)
    except SettingsError as exc:
        raise load.fail(section, exc.key.split("[", 1)[0], exc.msg) from None


def load_config(path: str | None) -> AuditConfig:
    """Read and validate the audit config; no path gives the defaults."""
    if not path:
        return AuditConfig()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read audit config: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    load = _Loader(path, text)
    cfg = AuditConfig(path=path)
    for section, value in doc.items():
        if section in AREA_SECTIONS:
            if not isinstance(value, dict):
                raise load.fail(None, section, "must be a table")
            for key, item in value.items():
                if _SECRET_KEY.search(key) and isinstance(item, str):
                    raise load.fail(section, key, "literal secrets are not allowed; name an "
                                    "environment variable (*_env) or a secret file (*_file)")
            _validate_area(load, section, value)
            cfg.areas[section] = value
            continue
        if section not in SCHEMA:
            known = ", ".join(sorted([*SCHEMA, *AREA_SECTIONS]))
            raise load.fail(None, section, f"unknown section (known: {known})")
        if section in ARRAY_SECTIONS:
            if not isinstance(value, list):
                raise load.fail(None, section, f"use [[{section}]] tables")
            for i, table in enumerate(value):
                load.check_table(section, table, i)
        else:
            load.check_table(section, value)
    ssh = doc.get("ssh", {})
    cfg.ssh_config_file = ssh.get("config_file")
    cfg.ssh_identity_file = ssh.get("identity_file")
    canary = doc.get("canary", {})
    cfg.canary = canary.get("value") or _credential(canary, "value").value()
    for i, ep in enumerate(doc.get("endpoints", [])):
        api = ep.get("api", "openai")
        if api not in APIS:
            raise load.fail("endpoints", "api", f"must be one of {', '.join(APIS)}", i)
        if not re.match(r"^https?://[^/\s]+", ep["url"]):
            raise load.fail("endpoints", "url", "must be an http(s) URL", i)
        cfg.endpoints.append(
            Endpoint(
                name=ep["name"],
                url=ep["url"],
                api=api,
                auth_header=ep.get("auth_header", "Authorization"),
                auth_scheme=ep.get("auth_scheme", "Bearer"),
                credential=_credential(ep, "auth"),
                user_field=ep.get("user_field"),
                body_template=ep.get("body_template"),
                answer_path=ep.get("answer_path"),
            )
        )
    for user in doc.get("users", []):
        cfg.users.append(User(user["name"], _credential(user, "token")))
    if "deployment" in doc:
        try:
            cfg.deployment = parse_deployment(doc["deployment"])
        except SettingsError as exc:
            raise load.fail("deployment", exc.key, exc.msg) from None
    paths = doc.get("paths", {})
    cfg.state_dirs = [str(p) for p in paths.get("state_dirs", [])]
    cfg.access_logs = [str(p) for p in paths.get("access_logs", [])]
    ports = doc.get("exposure", {}).get("extra_ports", [])
    if not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
        raise load.fail("exposure", "extra_ports", "must be a list of port numbers")
    cfg.extra_ports = list(ports)
    cfg.exposure = _exposure(load, doc.get("exposure", {}))
    cfg.policy.update(doc.get("policy", {}))
    for i, w in enumerate(doc.get("waivers", [])):
        expires = w["expires"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError:
                raise load.fail("waivers", "expires", "must be a date (YYYY-MM-DD)", i) from None
        cfg.waivers.append(Waiver(w["control"], w["justification"], expires))
    return cfg
