"""The `[supply_chain]` table of the audit config: this area's inputs, with defaults.

The foundation hands the raw table over (literal secrets already rejected); the keys are
validated here so that a typo is reported with its name instead of silently ignored.

    [supply_chain]
    home_dirs = ["/home/agent"]          # default: root's and every login user's home
    skill_roots = ["/srv/skills"]        # extra skill roots (any framework)
    openclaw_state_dirs = ["/srv/openclaw"]   # besides ~/.openclaw, ~/.clawdbot
    hermes_homes = ["/srv/hermes"]       # besides ~/.hermes and [paths] state_dirs
    project_dirs = ["/srv/repo"]         # .claude/.agents/.hermes skills, .mcp.json, ...
    mcp_configs = ["/etc/mcp.json"]      # extra MCP client configs
    mcp_snapshots = ["/srv/mcp/fs.json"] # captured tools/list (prompts, resources) results
    mcp_list_remote = true               # ask remote (HTTP/SSE) MCP servers for their lists
    allowed_registries = ["clawhub.ai", "github:openai/skills"]
    allowed_owners = ["steipete"]        # default: any owner that is not a look-alike
    popular_owners = ["openclaw"]        # names look-alikes are compared with
    baseline_file = "/var/lib/aiaudit/supply-chain-baseline.json"   # SUP-07
    agent_process = ["openclaw"]         # regexes on /proc cmdlines (SUP-06)
    skill_process = ["skill-runner"]     # processes that execute skills (SUP-05)
    allowlist = [{path = "openclaw:skills/sec/scan.py", rule = "crypto-miner",
                  sha256 = "<file sha256>", reason = "detector pattern list"}]
    approved_skills = ["/home/a/.agents/skills/x sha256:<content sha256 from SUP-02>"]

Table entries may also be written as strings ("PATH RULE sha256:HEX", "PATH sha256:HEX").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiaudit.config import SettingsError
from aiaudit.products import hermes as _hermes
from aiaudit.products import open_webui as _open_webui
from aiaudit.status import CouldNotCheck

# Hermes' hard-coded trusted repositories (tools/skills_guard.py TRUSTED_REPOS) and the
# default ClawHub registry. Registry ids: `<host>` for ClawHub; for Hermes hub installs
# `github:<owner>/<repo>`, `url:<host>` (`hermes skills install <url>`) or `hermes:<source>`
# (aiaudit.products.hermes.registry_of).
DEFAULT_REGISTRIES = (
    "clawhub.ai",
    "hermes:official",
    "github:openai/skills",
    "github:anthropics/skills",
    "github:huggingface/skills",
    "github:NVIDIA/skills",
)
# Publishers whose names impostors imitate (ClawHavoc used look-alike handles).
DEFAULT_POPULAR_OWNERS = (
    "openclaw", "steipete", "clawhub", "anthropics", "anthropic", "openai", "huggingface",
    "nvidia", "vercel-labs", "microsoft", "google", "github", "modelcontextprotocol",
)
# Command lines of agent processes (regular expressions, searched in /proc cmdlines).
# Open WebUI runs its Tools and Functions inside its own server process (open_webui/utils/
# plugin.py exec()s their code), so the server is where they execute.
DEFAULT_AGENT_PROCESS = (r"(^|/|\s)openclaw(\.mjs)?(\s|$)", *_hermes.process_patterns(),
                         r"(^|/|\s)clawdbot(\s|$)", *_open_webui.process_patterns())


@dataclass(frozen=True)
class AllowedFinding:
    """An accepted SUP-03/SUP-04 finding, bound to the exact file content it was reviewed on."""

    path: str  # "<skill id>/<file>" or the file's absolute path on the target
    rule: str
    sha256: str
    reason: str = ""


@dataclass(frozen=True)
class ApprovedSkill:
    """An operator-approved skill without registry provenance, bound to its content hash."""

    path: str  # skill id or absolute directory on the target
    content_sha256: str
    reason: str = ""


@dataclass(frozen=True)
class Settings:
    home_dirs: tuple[str, ...] | None = None  # None: every login home on the target
    skill_roots: tuple[str, ...] = ()
    openclaw_state_dirs: tuple[str, ...] = ()
    hermes_homes: tuple[str, ...] = ()
    project_dirs: tuple[str, ...] = ()
    mcp_configs: tuple[str, ...] = ()
    mcp_snapshots: tuple[str, ...] = ()
    mcp_list_remote: bool = False
    allowed_registries: tuple[str, ...] = DEFAULT_REGISTRIES
    allowed_owners: tuple[str, ...] = ()  # empty: any owner that is not a look-alike
    popular_owners: tuple[str, ...] = DEFAULT_POPULAR_OWNERS
    allowlist: tuple[AllowedFinding, ...] = ()
    approved_skills: tuple[ApprovedSkill, ...] = ()
    baseline_file: str | None = None
    agent_process: tuple[str, ...] = DEFAULT_AGENT_PROCESS
    skill_process: tuple[str, ...] | None = None  # None: same as agent_process
    max_file_bytes: int = 64 * 1024 * 1024
    configured: frozenset[str] = frozenset()  # keys the audit config set explicitly

    @property
    def skill_runner_patterns(self) -> tuple[str, ...]:
        return self.skill_process if self.skill_process is not None else self.agent_process


_LISTS = {"home_dirs", "skill_roots", "openclaw_state_dirs", "hermes_homes", "project_dirs",
          "mcp_configs", "mcp_snapshots", "allowed_registries", "allowed_owners", "popular_owners",
          "agent_process", "skill_process"}
_TABLES = {"allowlist": ("path", "rule", "sha256"),
           "approved_skills": ("path", "content_sha256")}
_SCALARS = {"baseline_file": str, "max_file_bytes": int}


class SupplyChainSettingsError(SettingsError, CouldNotCheck):
    """A bad `[supply_chain]` key: a usage error at load time, an ERROR if met later."""


def _bad(key: str, why: str) -> SupplyChainSettingsError:
    return SupplyChainSettingsError("supply_chain", key, why)


def _string_list(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(key, "must be a list of strings")
    return tuple(value)


def _tables(key: str, value: Any) -> list[dict[str, str]]:
    """Tables, or compact strings "PATH [RULE] sha256:HEX" (what flat TOML writers emit)."""
    required = _TABLES[key]
    if not isinstance(value, list):
        raise _bad(key, "must be an array of tables")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            words = item.split()
            if len(words) != len(required):
                raise _bad(f"{key}[{i}]", f"a string entry must read \"{' '.join(required)}\"")
            item = dict(zip(required, words, strict=True))
        if not isinstance(item, dict):
            raise _bad(f"{key}[{i}]", "must be a table or a string")
        missing = [k for k in required if not isinstance(item.get(k), str) or not item.get(k)]
        if missing:
            raise _bad(f"{key}[{i}]", f"needs string key(s) {', '.join(missing)}")
        out.append({k: str(v) for k, v in item.items()})
    return out


def _hex_digest(text: str) -> str:
    return text.split(":", 1)[1] if text.startswith("sha256:") else text


def parse_settings(section: dict[str, Any]) -> Settings:
    """Validate the raw `[supply_chain]` table (CouldNotCheck naming the key when bad)."""
    known = _LISTS | set(_TABLES) | set(_SCALARS) | {"mcp_list_remote"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise _bad(unknown[0], f"unknown key (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for key in _LISTS & set(section):
        values[key] = _string_list(key, section[key])
    for key, kind in _SCALARS.items():
        if key in section:
            if not isinstance(section[key], kind) or isinstance(section[key], bool):
                raise _bad(key, f"must be a {kind.__name__}")
            values[key] = section[key]
    if "mcp_list_remote" in section:
        if not isinstance(section["mcp_list_remote"], bool):
            raise _bad("mcp_list_remote", "must be true or false")
        values["mcp_list_remote"] = section["mcp_list_remote"]
    if "allowlist" in section:
        values["allowlist"] = tuple(
            AllowedFinding(t["path"], t["rule"], _hex_digest(t["sha256"]).lower(),
                           t.get("reason", ""))
            for t in _tables("allowlist", section["allowlist"]))
    if "approved_skills" in section:
        values["approved_skills"] = tuple(
            ApprovedSkill(t["path"], _hex_digest(t["content_sha256"]).lower(),
                          t.get("reason", ""))
            for t in _tables("approved_skills", section["approved_skills"]))
    return Settings(**values, configured=frozenset(section))


def settings_for(ctx: Any) -> Settings:
    """The run's settings (parsed once per audit run)."""
    return ctx.cached("supply_chain:settings",
                      lambda: parse_settings(ctx.config.area_section("supply_chain")))
