"""Find every skill root and MCP client config on the target, read-only.

Round trips are the cost on a remote host, so discovery is: one command listing the
homes, one probe listing which candidate paths exist (globs expanded by the target's
shell), a second probe for directories named in the agents' own configs, then one tar
stream per skill root (a local target's roots are walked in-process instead) and one read
per config file. Nothing found is executed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import shlex
import stat
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from aiaudit.access import check_access, coalesce
from aiaudit.hostfs import HostFS
from aiaudit.products import openclaw
from aiaudit.status import CouldNotCheck
from aiaudit.supply_chain import openclaw_plugins
from aiaudit.supply_chain.frontmatter import Manifest, parse_skill_md
from aiaudit.supply_chain.model import Skill, SkillFile, SkillRoot
from aiaudit.supply_chain.settings import Settings

if TYPE_CHECKING:  # the scope module imports every product's reader: not needed to scan
    from aiaudit.scope import Scope

MAX_SKILL_DEPTH = 6  # OpenClaw finds SKILL.md up to 6 directories below a root
MAX_CONFIG_BYTES = 4 * 1024 * 1024
_NOT_SKILL_DIRS = {".hub", ".git", "node_modules", ".clawhub", ".clawdhub"}

# MCP client configs relative to a home directory: (client, path, format).
HOME_MCP_CONFIGS = (
    ("claude-desktop", ".config/Claude/claude_desktop_config.json", "json"),
    ("claude-code", ".claude.json", "json"),
    ("cursor", ".cursor/mcp.json", "json"),
    # VS Code's user-level mcp.json (and the `mcp` key of settings.json): stable, Insiders,
    # VSCodium, VS Code Server (remote hosts), macOS, and per-profile copies.
    ("vscode", ".config/Code/User/mcp.json", "jsonc"),
    ("vscode", ".config/Code/User/settings.json", "jsonc"),
    ("vscode", ".config/Code/User/profiles/*/mcp.json", "jsonc"),
    ("vscode", ".config/Code - Insiders/User/mcp.json", "jsonc"),
    ("vscode", ".config/VSCodium/User/mcp.json", "jsonc"),
    ("vscode", ".vscode-server/data/User/mcp.json", "jsonc"),
    ("vscode", ".vscode-server-insiders/data/User/mcp.json", "jsonc"),
    ("vscode", "Library/Application Support/Code/User/mcp.json", "jsonc"),
    ("vscode", "Library/Application Support/Code/User/settings.json", "jsonc"),
    ("windsurf", ".codeium/windsurf/mcp_config.json", "json"),
    ("gemini", ".gemini/settings.json", "json"),
    ("codex", ".codex/config.toml", "toml"),
    # a Claude Code plugin's own .mcp.json (servers it starts when enabled)
    ("claude-plugin", ".claude/plugins/cache/*/*/*/.mcp.json", "json"),
    ("claude-plugin", ".claude/plugins/cache/*/*/.mcp.json", "json"),
)
# Claude Code plugins as installed (`/plugin install`): cache/<marketplace>/<plugin>/<version>/
# with .claude-plugin/plugin.json, hooks/hooks.json, commands/, agents/, skills/, scripts.
CLAUDE_PLUGIN_MANIFESTS = (".claude/plugins/cache/*/*/*/.claude-plugin/plugin.json",
                           ".claude/plugins/cache/*/*/.claude-plugin/plugin.json")
PLUGIN_MANIFEST = ".claude-plugin/plugin.json"
PROJECT_MCP_CONFIGS = (
    ("claude-code", ".mcp.json", "json"),
    ("cursor", ".cursor/mcp.json", "json"),
    ("vscode", ".vscode/mcp.json", "jsonc"),
)


@dataclass
class ConfigFile:
    """A config file read from the target and parsed (doc None when it did not parse)."""

    client: str
    path: str
    fmt: str
    doc: Any = None
    error: str | None = None
    absent: bool = False  # the agent's home exists without this file: it runs on defaults


@dataclass
class Inventory:
    """Everything supply-chain discovery found on the target."""

    skills: list[Skill] = field(default_factory=list)
    roots: list[SkillRoot] = field(default_factory=list)
    configs: list[ConfigFile] = field(default_factory=list)  # MCP and agent configs
    homes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # reasons: path and missing right
    manual: list[str] = field(default_factory=list)  # what the operator must supply first
    checked: tuple[int, int] = (0, 0)  # candidate places checked, of them present & readable
    tables: list[str] = field(default_factory=list)  # plugin tables read (Open WebUI)

    def proof(self) -> str:
        total, ok = self.checked
        read = f"; plugin tables read: {'; '.join(self.tables)}" if self.tables else ""
        return (f"{total} candidate place(s) checked: {total - ok} proven absent, {ok} "
                f"readable and read, none unreadable{read}")

    def configs_of(self, client: str) -> list[ConfigFile]:
        return [c for c in self.configs if c.client == client]


def _glob_quote(pattern: str) -> str:
    """Quote a path for sh, leaving `*` to the shell's glob expansion."""
    return "*".join(shlex.quote(part) if part else "" for part in pattern.split("*"))


def probe(fs: HostFS, patterns: Iterable[str]) -> dict[str, str]:
    """Which candidate paths exist on the target: {path: "d" | "f"} (one round trip)."""
    patterns = list(dict.fromkeys(p for p in patterns if p))
    if not patterns:
        return {}
    words = " ".join(_glob_quote(p) for p in patterns)
    script = (f"for p in {words}; do if [ -d \"$p\" ]; then printf 'd\\t%s\\n' \"$p\"; "
              f"elif [ -f \"$p\" ]; then printf 'f\\t%s\\n' \"$p\"; fi; done")
    rc, out, err = fs.run(script)
    if rc != 0:
        raise CouldNotCheck(f"cannot list candidate skill paths: {err.strip() or rc}")
    found = {}
    for line in out.splitlines():
        kind, _, path = line.partition("\t")
        if kind in ("d", "f") and path:
            found[path.rstrip("/")] = kind
    return found


def login_homes(fs: HostFS) -> list[str]:
    """Home directories of root and of regular users (uid >= 1000)."""
    rc, out, _ = fs.run("getent passwd 2>/dev/null || cat /etc/passwd")
    homes = []
    for line in out.splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[2].isdigit():
            uid, home = int(parts[2]), parts[5]
            if (uid == 0 or 1000 <= uid < 65534) and home.startswith("/") and home != "/":
                homes.append(home.rstrip("/"))
    if rc != 0 and not homes:
        raise CouldNotCheck("cannot read the user list (getent passwd) on the target")
    return list(dict.fromkeys(homes))


def read_text(fs: HostFS, path: str, limit: int = MAX_CONFIG_BYTES) -> str:
    with fs.open(path) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise CouldNotCheck(f"{path} is larger than {limit} bytes")
    return data.decode("utf-8", "replace")


def parse_config(text: str, fmt: str) -> Any:
    """JSON, JSONC/JSON5 (VS Code, OpenClaw), YAML (Hermes) or TOML (Codex)."""
    if fmt in ("json", "jsonc", "json5"):
        return openclaw.loads(text)  # the one JSON5 reader (plain JSON takes its fast path)
    if fmt == "yaml":
        return yaml.safe_load(text)
    if fmt == "toml":
        return tomllib.loads(text)
    raise ValueError(f"unknown config format {fmt}")


def _format_of(path: str) -> str:
    ext = posixpath.splitext(path)[1].lower()
    return {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json5": "json5"}.get(ext, "jsonc")


def _load_config(fs: HostFS, client: str, path: str, fmt: str) -> ConfigFile:
    cfg = ConfigFile(client, path, fmt)
    try:
        cfg.doc = parse_config(read_text(fs, path), fmt)
    except CouldNotCheck as exc:
        cfg.error = str(exc)
    except Exception as exc:  # parsers raise many types on hostile input
        cfg.error = f"cannot parse {path}: {type(exc).__name__}: {' '.join(str(exc).split())}"
    return cfg


def _stored_approvals(fs: HostFS, state: str, scope: Scope | None) -> ConfigFile | None:
    """OpenClaw's exec approvals from its state store (2026.9.6), None when it holds none
    (older states keep exec-approvals.json, read instead); through the scope's shared copy
    of the store, which storage reads too."""
    try:
        read = openclaw.read_exec_approvals(fs, state,
                                            copies=scope.copies if scope else None)
    except CouldNotCheck as exc:
        return ConfigFile("openclaw-exec-approvals", openclaw.approvals_store(state), "json",
                          error=str(exc))
    if read is None:
        return None
    doc, where = read
    return ConfigFile("openclaw-exec-approvals", where, "json", doc)


def _rel_label(path: str, base: str, prefix: str = "") -> str:
    if path == base:
        return prefix.rstrip("/") or posixpath.basename(path)
    if path.startswith(base + "/"):
        return prefix + path[len(base) + 1:]
    return path


def _openclaw_workspaces(doc: Any) -> list[str]:
    if not isinstance(doc, dict):
        return []
    agents = doc.get("agents") if isinstance(doc.get("agents"), dict) else {}
    out = []
    defaults = agents.get("defaults") if isinstance(agents.get("defaults"), dict) else {}
    if isinstance(defaults.get("workspace"), str):
        out.append(defaults["workspace"])
    entries = agents.get("entries") if isinstance(agents.get("entries"), dict) else {}
    listed = agents.get("list") if isinstance(agents.get("list"), list) else []
    for agent in [*entries.values(), *listed]:  # agents.entries.<id> (current), list (legacy)
        if isinstance(agent, dict) and isinstance(agent.get("workspace"), str):
            out.append(agent["workspace"])
    return list(dict.fromkeys(out))


def _openclaw_extra_dirs(doc: Any) -> list[str]:
    skills = doc.get("skills") if isinstance(doc, dict) else None
    load = skills.get("load") if isinstance(skills, dict) else None
    dirs = load.get("extraDirs") if isinstance(load, dict) else None
    return [d for d in dirs if isinstance(d, str)] if isinstance(dirs, list) else []


def _expand(path: str, home: str) -> str:
    if path == "~" or path.startswith("~/"):
        return home + path[1:]
    return path


class _Planner:
    """Collects candidate roots and config files from homes, settings and agent configs.

    With a closed deployment scope the agent state dirs are the scope's roots only (a home
    the scope holds for its MCP configs may hold other deployments' state dirs); otherwise
    every home's default state dirs, the settings' and the scope's (the old keys) count.
    """

    def __init__(self, settings: Settings, homes: list[str], scope: Scope | None = None):
        from aiaudit.products import hermes

        self.settings, self.homes = settings, homes
        closed = scope is not None and scope.closed
        states = [] if closed else [d for h in homes for d in openclaw.home_state_dirs(h)]
        states += list(settings.openclaw_state_dirs)
        states += scope.roots_of("openclaw") if scope else []
        # one state dir named twice (below a home and in the settings) is audited once
        self.openclaw_states = list(dict.fromkeys(posixpath.normpath(d) for d in states))
        # one home named twice ([supply_chain] hermes_homes and [paths] state_dirs, or a
        # trailing slash) is one home: its config and skills are judged once; a named dir
        # no product claims is looked at as a Hermes home, as [paths] state_dirs always was
        found = [] if closed else hermes.homes_below(homes)
        found += [*settings.hermes_homes, *(scope.roots_of("hermes") if scope else [])]
        if scope:
            roots = {r.path for r in scope.roots}
            found += [n.path for n in scope.state_dirs if n.path not in roots
                      and not any(r.startswith(n.path + "/") for r in roots)]
        self.hermes_homes = list(dict.fromkeys(posixpath.normpath(p) for p in found))
        self.hermes_homes = [d for d in self.hermes_homes if d not in self.openclaw_states
                             and not openclaw.is_state_dir_name(d)]

    def add_hermes_profiles(self, fs: HostFS, found: dict[str, str]) -> None:
        """Named profiles (profiles/<name>/) are Hermes homes of their own, with their own
        config.yaml and skills/ (hermes_cli/profiles.py): judged like the default home."""
        from aiaudit.products import hermes

        profiles = [p for hh in self.hermes_homes for p, kind in found.items()
                    if kind == "d" and fnmatch.fnmatchcase(p, hermes.profiles_glob(hh))
                    and "/" not in p[len(hermes.profiles_glob(hh)) - 1:]]
        new = [p for p in sorted(profiles) if p not in self.hermes_homes]
        if new:
            self.hermes_homes += new
            found.update(probe(fs, [q for p in new for q in (f"{p}/skills",
                                                              f"{p}/config.yaml")]))

    def first_patterns(self) -> list[str]:
        from aiaudit.products import hermes

        pats: list[str] = []
        for state in self.openclaw_states:
            pats += [*openclaw.config_candidates(state), f"{state}/skills",
                     f"{state}/workspace", f"{state}/workspace-*",
                     f"{state}/agents/*/agent/workshop-skills", f"{state}/extensions/*",
                     f"{state}/.clawhub/lock.json", f"{state}/exec-approvals.json",
                     openclaw.approvals_store(state)]
        for hh in self.hermes_homes:
            pats += [f"{hh}/skills", f"{hh}/config.yaml", hermes.profiles_glob(hh)]
        for home in self.homes:
            pats += [f"{home}/.agents/skills", f"{home}/.claude/skills",
                     f"{home}/.claude/plugins/cache/*/*/*/skills",
                     f"{home}/.claude/plugins/cache/*/*/skills"]
            pats += [f"{home}/{rel}" for rel in CLAUDE_PLUGIN_MANIFESTS]
            pats += [f"{home}/{rel}" for _, rel, _ in HOME_MCP_CONFIGS]
        for project in self.settings.project_dirs:
            pats += [f"{project}/{d}" for d in (".claude/skills", ".agents/skills",
                                                 ".hermes/skills", "skills",
                                                 ".clawhub/lock.json")]
            pats += [f"{project}/{rel}" for _, rel, _ in PROJECT_MCP_CONFIGS]
        pats += list(self.settings.skill_roots) + list(self.settings.mcp_configs)
        return pats


def _workspace_patterns(workspace: str) -> list[str]:
    return [f"{workspace}/skills", f"{workspace}/.agents/skills",
            f"{workspace}/.clawhub/lock.json", f"{workspace}/.clawdhub/lock.json"]


def plan_roots(settings: Settings, homes: list[str], found: dict[str, str],
               openclaw_docs: dict[str, Any], hermes_homes: list[str]) -> list[SkillRoot]:
    """Skill roots from what the probes found (directories only)."""
    roots: list[SkillRoot] = []

    def add(framework: str, path: str, label: str, lock_dir: str | None = None) -> None:
        if found.get(path) == "d" and all(r.path != path for r in roots):
            roots.append(SkillRoot(framework, path, label, lock_dir))

    for state, doc in openclaw_docs.items():
        workspaces = [_expand(w, posixpath.dirname(state)) for w in _openclaw_workspaces(doc)]
        workspaces.append(f"{state}/workspace")
        workspaces += [p for p in found if p.startswith(f"{state}/workspace-")]
        for ws in workspaces:
            add("openclaw", f"{ws}/skills", _rel_label(f"{ws}/skills", state), ws)
            add("openclaw", f"{ws}/.agents/skills", _rel_label(f"{ws}/.agents/skills", state),
                ws)
        add("openclaw", f"{state}/skills", "skills", state)
        for path in sorted(found):
            if path.startswith(f"{state}/agents/") and path.endswith("/workshop-skills"):
                add("openclaw", path, _rel_label(path, state))
            if path.startswith(f"{state}/extensions/"):
                add("openclaw", path, _rel_label(path, state))
        for extra in _openclaw_extra_dirs(doc):
            path = _expand(extra, posixpath.dirname(state))
            add("openclaw", path, path)
    plugins = []  # a plugin is reviewed whole: its hooks, commands and agents are code too
    for path, kind in sorted(found.items()):
        home = next((h for h in homes if path.startswith(h + "/")), None)
        if kind == "f" and home and any(fnmatch.fnmatchcase(path, f"{home}/{rel}")
                                        for rel in CLAUDE_PLUGIN_MANIFESTS):
            plugin = path[:-len(PLUGIN_MANIFEST) - 1]
            if not any(plugin.startswith(p + "/") for p in plugins):
                plugins.append(plugin)
                roots.append(SkillRoot("claude", plugin, plugin[len(home) + 1:]))
    for path, kind in sorted(found.items()):
        if kind != "d" or any(path.startswith(p + "/") for p in plugins):
            continue
        home = next((h for h in homes if path.startswith(h + "/")), None)
        if any(path == f"{hh}/skills" for hh in hermes_homes):
            add("hermes", path, "skills")
        elif home and path in (f"{home}/.agents/skills",):
            add("agents", path, ".agents/skills")
        elif home and path.startswith(f"{home}/.claude/"):
            add("claude", path, path[len(home) + 1:])
    for project in settings.project_dirs:
        add("claude", f"{project}/.claude/skills", f"{project}/.claude/skills")
        add("agents", f"{project}/.agents/skills", f"{project}/.agents/skills")
        add("hermes", f"{project}/.hermes/skills", f"{project}/.hermes/skills")
        add("openclaw", f"{project}/skills", f"{project}/skills", project)
    for extra in settings.skill_roots:
        add("extra", extra.rstrip("/"), extra.rstrip("/"))
    return roots


def read_tree(fs: HostFS, root: str, max_bytes: int,
              denied: list[str] | None = None) -> list[SkillFile]:
    """Every entry below root; paths that could not be read go to `denied` (relative)."""
    denied = [] if denied is None else denied
    if fs.kind == "local":
        return _read_local_tree(root.rstrip("/") or "/", max_bytes, denied)
    entries = []
    for entry in fs.tree(root, denied):
        data = None
        if entry.kind == "file" and entry.size <= max_bytes:
            with entry.open() as handle:
                data = handle.read()
        entries.append(SkillFile(entry.path, entry.kind, entry.size, entry.mode, data,
                                 entry.linkname))
    return entries


def _read_local_tree(root: str, max_bytes: int, denied: list[str]) -> list[SkillFile]:
    """A local root read in-process, entry for entry what the tar stream gives (same order,
    kinds, modes, hard links named by their first path, sockets left out): spawning tar
    and parsing its headers in Python costs four times the walk."""
    entries: list[SkillFile] = []
    first_path: dict[tuple[int, int], str] = {}

    def visit(directory: str, rel: str) -> None:
        try:
            with os.scandir(directory) as listing:
                children = list(listing)
        except OSError:
            denied.append(rel or ".")
            return
        for child in children:
            path = f"{rel}/{child.name}" if rel else child.name
            try:
                st = child.stat(follow_symlinks=False)
            except OSError:
                continue
            kind, mode = stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)
            if kind == stat.S_IFLNK:
                entries.append(SkillFile(path, "symlink", 0, mode, None,
                                         os.readlink(child.path)))
            elif kind == stat.S_IFDIR:
                entries.append(SkillFile(path, "dir", 0, mode))
                visit(child.path, path)
            elif kind == stat.S_IFREG:
                if st.st_nlink > 1:
                    first = first_path.setdefault((st.st_dev, st.st_ino), path)
                    if first != path:
                        entries.append(SkillFile(path, "hardlink", 0, mode, None,
                                                 "./" + first))
                        continue
                data = None
                if st.st_size <= max_bytes:
                    try:
                        with open(child.path, "rb") as handle:
                            data = handle.read(st.st_size)
                    except OSError:
                        denied.append(path)  # left out, as tar --ignore-failed-read does
                        continue
                entries.append(SkillFile(path, "file", st.st_size, mode, data))
            elif kind != stat.S_IFSOCK:  # tar ignores sockets
                entries.append(SkillFile(path, "other", 0, mode))

    visit(root, "")
    return entries


def json_record(files: list[SkillFile], path: str) -> Any:
    entry = next((f for f in files if f.path == path and f.data is not None), None)
    if entry is None:
        return None
    try:
        return json.loads(entry.data.decode("utf-8", "replace"))
    except ValueError as exc:
        return {"_error": f"{path} is not valid JSON: {exc}"}


def _plugin_record(entries: list[SkillFile]) -> Any:
    """The manifest of a Claude Code plugin root (.claude-plugin/plugin.json). OpenClaw's
    extensions/<id> plugins are items of openclaw_plugins.plugin_item, with their install
    record."""
    return json_record(entries, PLUGIN_MANIFEST)


def _openclaw_plugin_json(entries: list[SkillFile]) -> Any:
    """openclaw.plugin.json, read as JSON5 as OpenClaw's loadPluginManifest reads it."""
    entry = next((f for f in entries if f.path == openclaw_plugins.MANIFEST and
                  f.data is not None), None)
    try:
        return openclaw.loads(entry.data.decode("utf-8", "replace")) if entry else None
    except Exception:  # json5 raises ValueError and assorted others on bad input
        return None


def plugin_manifest(plugin: Any, files: list[SkillFile]) -> tuple[Manifest, str]:
    """A Claude Code plugin's manifest as a skill's: name and description from
    .claude-plugin/plugin.json (the description, else the README's first paragraph), and
    what documents it (plugin.json and README.md) as the text its code is compared with."""
    doc = plugin if isinstance(plugin, dict) and "_error" not in plugin else {}
    readme = next((f.data.decode("utf-8", "replace") for f in files
                   if f.path.lower() == "readme.md" and f.data is not None), "")
    description = doc.get("description") if isinstance(doc.get("description"), str) else ""
    if not description.strip():
        description = next((p.strip().replace("\n", " ") for p in readme.split("\n\n")
                            if p.strip() and not p.lstrip().startswith("#")), "")
    name = next((doc[k] for k in ("name", "id") if isinstance(doc.get(k), str) and doc[k]), "")
    text = (f"---\nname: {json.dumps(name)}\ndescription: {json.dumps(description)}\n---\n"
            + readme)
    manifest = parse_skill_md(text)
    if isinstance(plugin, dict) and "_error" in plugin:
        manifest.errors.append(plugin["_error"])
    return manifest, text + "\n" + json.dumps(doc, indent=1)


def skills_in_tree(root: SkillRoot, entries: list[SkillFile]) -> list[Skill]:
    """Split a root's tree into skills: directories holding SKILL.md, up to 6 deep."""
    skill_dirs = []
    for e in entries:
        if e.kind != "file" or e.parts[-1] != "SKILL.md":
            continue
        parent = e.parts[:-1]
        if len(parent) > MAX_SKILL_DEPTH or any(p in _NOT_SKILL_DIRS for p in parent):
            continue
        skill_dirs.append("/".join(parent))
    plugin = _plugin_record(entries)
    if plugin is not None and "" not in skill_dirs:
        skill_dirs.append("")  # a Claude Code plugin: reviewed whole, its skills nested
    # one pass: every entry joins each skill directory among its ancestors
    members: dict[str, list[SkillFile]] = {d: [] for d in skill_dirs}
    nested: dict[str, list[str]] = {d: [] for d in skill_dirs}
    for e in entries:
        parts = e.parts
        for depth in range(len(parts)):
            owner = "/".join(parts[:depth])
            if owner in members and e.path != owner:
                prefix = len(owner) + 1 if owner else 0
                members[owner].append(SkillFile(e.path[prefix:], e.kind, e.size, e.mode,
                                                e.data, e.linkname))
    for d in skill_dirs:
        for depth in range(len(d.split("/")) if d else 0):
            owner = "/".join(d.split("/")[:depth])
            if owner in nested:
                nested[owner].append(d[len(owner) + 1:] if owner else d)
    skills = []
    for rel in sorted(skill_dirs):
        files = members[rel]
        skill_md = next((f for f in files if f.path == "SKILL.md"), None)
        doc = ""
        if skill_md is not None:
            manifest = parse_skill_md(skill_md.data.decode("utf-8", "replace"))
        else:
            manifest, doc = plugin_manifest(plugin, files)
        label = posixpath.join(root.label, rel) if rel else root.label
        skill = Skill(f"{root.framework}:{label}", root, rel, files, manifest,
                      tuple(nested[rel]))
        if doc:
            skill.records["plugin-doc"] = doc
        for name in (".clawhub/origin.json", ".clawdhub/origin.json",
                     ".openclaw/source-origin.json"):
            record = json_record(files, name)
            if record is not None:
                skill.records[name] = record
        skills.append(skill)
    hub_lock = json_record(entries, ".hub/lock.json")
    if hub_lock is not None:
        for skill in skills:
            skill.records["hermes-lock"] = hub_lock
    return skills


def discover(fs: HostFS, settings: Settings, scope: Scope | None = None) -> Inventory:
    """The target's skills and MCP/agent configs (within the deployment scope, if given)."""
    inv = Inventory()
    homes = scope.homes if scope is not None else settings.home_dirs
    inv.homes = list(homes) if homes is not None else login_homes(fs)
    planner = _Planner(settings, inv.homes, scope)
    found = probe(fs, planner.first_patterns())
    planner.add_hermes_profiles(fs, found)
    openclaw_docs: dict[str, Any] = {}
    # which config and store files exist in every candidate state dir: one command
    present = openclaw.present_files(
        fs, [p for state in planner.openclaw_states for p in openclaw.lookup_paths(state)])
    for state in planner.openclaw_states:
        # OpenClaw's one reader: openclaw.json, legacy clawdbot.json, or the file OpenClaw
        # recorded loading (OPENCLAW_CONFIG_PATH elsewhere), `$include`s merged in
        oc_cfg = openclaw.read_config(fs, state, present=present)
        if oc_cfg.exists:
            cfg = ConfigFile("openclaw", oc_cfg.path, "json5")
            cfg.doc, cfg.error = oc_cfg.doc, oc_cfg.error or None
            inv.configs.append(cfg)
            openclaw_docs[state] = cfg.doc
        elif found.get(state + "/skills") or found.get(state + "/workspace"):
            openclaw_docs[state] = None
    second: list[str] = []
    for state, doc in openclaw_docs.items():
        for ws in _openclaw_workspaces(doc):
            second += _workspace_patterns(_expand(ws, posixpath.dirname(state)))
        second += [_expand(d, posixpath.dirname(state)) for d in _openclaw_extra_dirs(doc)]
        second += _workspace_patterns(f"{state}/workspace")
        second += [q for p in found if p.startswith(f"{state}/workspace-")
                   for q in _workspace_patterns(p)]
    found.update(probe(fs, second))
    for hh in planner.hermes_homes:
        if found.get(f"{hh}/config.yaml") == "f":
            inv.configs.append(_load_config(fs, "hermes", f"{hh}/config.yaml", "yaml"))
        elif found.get(f"{hh}/skills") == "d":
            # a set-up home without config.yaml (`hermes setup` makes skills/ and the other
            # subdirs: hermes_cli/config.py ensure_hermes_home; `hermes --help` alone makes
            # only logs/) runs on Hermes' DEFAULT_CONFIG: judged on those defaults
            inv.configs.append(ConfigFile("hermes", f"{hh}/config.yaml", "yaml", {},
                                          absent=True))
    for state in planner.openclaw_states:
        stored = _stored_approvals(fs, state, scope) \
            if found.get(openclaw.approvals_store(state)) == "f" else None
        if stored is not None:
            inv.configs.append(stored)
        elif found.get(f"{state}/exec-approvals.json") == "f":
            inv.configs.append(_load_config(fs, "openclaw-exec-approvals",
                                            f"{state}/exec-approvals.json", "json5"))
    for home in inv.homes:
        for client, rel, fmt in HOME_MCP_CONFIGS:
            pattern = f"{home}/{rel}"
            paths = sorted(p for p, kind in found.items() if kind == "f" and
                           fnmatch.fnmatchcase(p, pattern)) if "*" in rel else \
                [pattern] if found.get(pattern) == "f" else []
            for path in paths:
                inv.configs.append(_load_config(fs, client, path, fmt))
    for project in settings.project_dirs:
        for client, rel, fmt in PROJECT_MCP_CONFIGS:
            if found.get(f"{project}/{rel}") == "f":
                inv.configs.append(_load_config(fs, client, f"{project}/{rel}", fmt))
    for path in settings.mcp_configs:
        if found.get(path) == "f":
            inv.configs.append(_load_config(fs, "configured", path, _format_of(path)))
    inv.roots = plan_roots(settings, inv.homes, found, openclaw_docs, planner.hermes_homes)
    inv.unreadable, inv.checked = closed_places(fs, planner, settings, inv.homes)
    installs = _plugin_installs(fs, planner.openclaw_states, found, scope, inv)
    locks: dict[str, Any] = {}
    for root in inv.roots:
        denied: list[str] = []
        entries = read_tree(fs, root.path, settings.max_file_bytes, denied)
        skills = skills_in_tree(root, entries)
        if openclaw_plugins.is_plugin_root(root):
            plugin = openclaw_plugins.plugin_item(root, entries, skills,
                                                  installs.get(posixpath.normpath(root.path)))
            if plugin is not None:  # its manifest and README document it, as SKILL.md would
                plugin.records.setdefault("plugin-doc", plugin_manifest(
                    _openclaw_plugin_json(entries), entries)[1])
            skills = ([plugin] if plugin else []) + skills
        _assign_denied(root, skills, denied, inv)
        if root.lock_dir and skills:
            if root.lock_dir not in locks:
                locks[root.lock_dir] = _clawhub_lock(fs, root.lock_dir, found)
            for skill in skills:
                if locks[root.lock_dir] is not None:
                    skill.records["clawhub-lock"] = locks[root.lock_dir]
        inv.skills += skills
    return inv


def _plugin_installs(fs: HostFS, states: list[str], found: dict[str, str],
                     scope: Scope | None, inv: Inventory) -> dict[str, Any]:
    """OpenClaw's plugin install records by install path, from each state store's plugin
    index (through the scope's shared copy of the store); an unreadable store is named."""
    out: dict[str, Any] = {}
    for state in states:
        if found.get(openclaw.approvals_store(state)) != "f":
            continue
        try:
            installs = openclaw.read_plugin_installs(fs, state,
                                                     copies=scope.copies if scope else None)
        except CouldNotCheck as exc:
            inv.unreadable.append(f"{exc}; OpenClaw's plugin install records there cannot "
                                  "be read")
            continue
        for install in installs or ():
            out[install.install_path] = install
            # a state dir moved or restored elsewhere keeps its old absolute installPath
            out.setdefault(posixpath.join(state, "extensions", install.plugin_id), install)
    return out


def closed_places(fs: HostFS, planner: _Planner, settings: Settings,
                  homes: list[str]) -> tuple[list[str], tuple[int, int]]:
    """Homes, agent state dirs and configured places the audit account cannot search or
    read: skills and configs below them can be neither reviewed nor ruled out."""
    places = list(homes) + planner.openclaw_states + planner.hermes_homes
    places += [f"{h}/{d}" for h in homes for d in (".agents/skills", ".claude/skills")]
    places += list(settings.project_dirs) + list(settings.skill_roots)
    places += list(settings.mcp_configs)
    places += [p for hh in planner.hermes_homes for p in (f"{hh}/skills", f"{hh}/config.yaml")]
    places += [f"{s}/openclaw.json" for s in planner.openclaw_states]
    found = check_access(fs, places)
    ok = sum(1 for a in found.values() if a.ok)
    return [a.reason() for a in coalesce(found.values())], (len(found), ok)


def _assign_denied(root: SkillRoot, skills: list[Skill], denied: list[str],
                   inv: Inventory) -> None:
    """An unreadable path belongs to the skill it lies in; elsewhere it hides whole skills."""
    for rel in denied:
        owner = max((s for s in skills if not s.rel or rel == s.rel
                     or rel.startswith(s.rel + "/")), key=lambda s: len(s.rel), default=None)
        full = posixpath.join(root.path, rel) if rel != "." else root.path
        reason = (f"cannot read {full}: permission denied (the audit account lacks the read "
                  "(r) or search (x) right on it)")
        if owner is not None:
            owner.denied.append(reason)
        else:
            inv.unreadable.append(reason + f"; skills below it in {root.path} cannot be reviewed")


def _clawhub_lock(fs: HostFS, workdir: str, found: dict[str, str]) -> Any:
    for name in (".clawhub/lock.json", ".clawdhub/lock.json"):
        path = f"{workdir}/{name}"
        if found.get(path) == "f":
            try:
                return json.loads(read_text(fs, path))
            except (ValueError, CouldNotCheck) as exc:
                return {"_error": f"{path}: {exc}"}
    return None
