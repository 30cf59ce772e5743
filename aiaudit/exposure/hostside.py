"""Host-side exposure facts: configured intent of AI services, the inbound firewall, logs.

Everything is read (files, rule sets); nothing on the target is changed and none of the
target's own tools (openclaw, hermes) is run. One shell round trip per fact family.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from aiaudit.access import access_scripts, coalesce, parse_access
from aiaudit.products import n8n, open_webui, openclaw
from aiaudit.scope import Scope
from aiaudit.status import CouldNotCheck

SBIN = "/usr/sbin"
_MAX_FILE = 65536
_UNIT_WORDS = r"ollama|OLLAMA_|vllm|llama-server|llama_cpp|open-webui|n8n|N8N_"


def _run(host: Any, script: str) -> str:
    result = host.run("sh -c " + shlex.quote(script))
    return result.stdout or ""


def split_files(output: str) -> dict[str, str]:
    """`==> path <==` separated dump -> {path: content}."""
    files: dict[str, str] = {}
    current = None
    for line in output.splitlines(keepends=True):
        m = re.match(r"^==> (.+) <==\n?$", line)
        if m:
            current = m.group(1)
            files[current] = ""
        elif current is not None:
            files[current] += line
    return files


def _dump_script(paths: list[str], filtered_globs: list[str]) -> str:
    """Files read whole, then the globbed files that name an AI server: one `grep -l` over
    all of them (a grep per file cost 0.4-2 s over a host's ~250 unit files)."""
    quoted = " ".join("*".join(shlex.quote(part) if part else "" for part in p.split("*"))
                      for p in paths)  # `*` stays a glob, every other character is quoted
    show = f'printf "==> %s <==\\n" "$f"; head -c {_MAX_FILE} "$f"; echo'
    script = f'for f in {quoted}; do [ -f "$f" ] && (: < "$f") 2>/dev/null && {{ {show}; }}; done; '
    if filtered_globs:
        script += (f'grep -l -s -E {shlex.quote(_UNIT_WORDS)} -- {" ".join(filtered_globs)} | '
                   f'while IFS= read -r f; do [ -f "$f" ] && {{ {show}; }}; done; ')
    return script + "true"


# -------------------------------------------------------------------- configured intent


@dataclass(frozen=True)
class Intent:
    """What a service's configuration says it will listen on (even while it is down)."""

    service: str
    source: str  # file the setting was read from
    bind: str  # host/address or mode as configured ("0.0.0.0", "loopback", "lan", ...)
    auth: str  # "none", "token", "api key set", ...
    detail: str = ""

    @property
    def loopback_only(self) -> bool:
        value = self.bind.strip().strip("[]")
        if value in ("loopback", "localhost"):
            return True
        host = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
        try:
            return ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            return host == "localhost"

    @property
    def case_id(self) -> str:
        return f"configured:{self.service}@{self.bind}"


def _dir_files(d: str) -> list[str]:
    """Agent config files of a named dir: it may be an OpenClaw state dir, a Hermes home,
    or a home holding OpenClaw's state dir."""
    d = d.rstrip("/")
    files = list(openclaw.config_candidates(d))
    for state in openclaw.home_state_dirs(d):
        files += openclaw.config_candidates(state)
    return files + _hermes_files(d)


def _hermes_files(home: str) -> list[str]:
    """A Hermes home's config.yaml and .env, and those of its named profiles (each profile
    runs its own gateway and API server: hermes_cli/profiles.py)."""
    from aiaudit.products import hermes

    profiles = hermes.profiles_glob(home)
    return [f"{home}/config.yaml", f"{home}/.env", f"{profiles}/config.yaml",
            f"{profiles}/.env", *hermes.managed_paths()]


def _candidate_files(scope: Scope) -> list[str]:
    """The scope's agent config files; an open scope adds every home's default ones."""
    files = []
    if not scope.closed:
        for home in ["/root", "/home/*"]:
            for state in openclaw.home_state_dirs(home):
                files += openclaw.config_candidates(state)
            files += _hermes_files(f"{home}/.hermes")
    for root in scope.roots:
        if root.product == "openclaw":
            files += openclaw.config_candidates(root.path)
        else:
            files += _hermes_files(root.path)
    roots = {r.path for r in scope.roots}
    for named in scope.state_dirs:
        if named.path not in roots:
            files += _dir_files(named.path)
    return list(dict.fromkeys(files))


def _unit_files(scope: Scope) -> tuple[list[str], list[str]]:
    """(files read whole, globs read when they name an AI server): a closed scope reads its
    own units only; an open one every unit that names an AI server."""
    if not scope.closed:
        return [], _UNIT_GLOBS
    named = [f"{d}/{u}" for u in scope.units for d in _UNIT_DIRS]
    named += [f"/etc/systemd/system/{u}.d/*.conf" for u in scope.units]
    # Open WebUI's bind is on its command line only: the units that run the scope's data
    # dirs (they name them, DATA_DIR=...) are the deployment's even when not named
    return named, (_UNIT_GLOBS if scope.roots_of(open_webui.APP) else [])


def _names_scope_dir(text: str, scope: Scope) -> bool:
    return any(re.search(re.escape(d.rstrip("/")) + r"(/|\s|$|\")", text)
               for d in scope.roots_of(open_webui.APP))


_UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
_UNIT_GLOBS = ["/etc/systemd/system/*.service", "/etc/systemd/system/*.service.d/*.conf",
               "/lib/systemd/system/*.service", "/usr/lib/systemd/system/*.service",
               "/etc/default/ollama", "/etc/environment"]
# OpenClaw's isContainerEnvironment (extensions/bonjour/src/advertiser.ts): in a container
# an unset gateway.bind is "auto", which listens on 0.0.0.0.
_CONTAINER_SCRIPT = (
    "for f in /.dockerenv /run/.containerenv /var/run/.containerenv; do "
    "[ -e $f ] && echo container && exit 0; done; "
    "grep -qE '/docker/|cri-containerd-[0-9a-f]|containerd/[0-9a-f]{64}|/kubepods[/.]|\\blxc\\b'"
    " /proc/1/cgroup 2>/dev/null && echo container; true")


def _dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def openclaw_intent(path: str, text: str, in_container: bool = False) -> Intent | None:
    """The gateway's bind and auth as OpenClaw resolves them (unset keys: its defaults)."""
    cfg = openclaw.parse_config(path, text)
    if cfg.doc is None:  # not JSON5: OpenClaw itself refuses to start on it
        return None
    gw = openclaw.gateway(cfg, in_container)
    return Intent("OpenClaw gateway", path, gw.address, gw.auth_mode, gw.describe())


def _env_pairs(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        m = re.match(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*=\s*(.*?)\s*$", line)
        if m:
            pairs[m.group(1)] = m.group(2).strip("'\"")
    return pairs


def hermes_intents(files: dict[str, str], managed: Any = None,
                   gateway_env: Any = None) -> list[Intent]:
    """Hermes API server intent per home: its config.yaml and .env read together, as Hermes
    does (env overrides platforms.api_server.extra; an unset `enabled` is false), with the
    managed scope (/etc/hermes) over them: it is no home of its own. `managed`: the
    Managed for every home, or a function of the home giving the one its processes load.
    `gateway_env`: a function of the home giving the environment its gateway unit sets
    (products.hermes.unit_envs)."""
    from aiaudit.products import hermes

    managed_of = managed if callable(managed) else None
    if managed_of is not None:
        managed = None
    mdir = managed.dir if managed is not None else hermes.managed_dir()
    if managed is None:
        cpath, epath = hermes.managed_paths(mdir)
        managed = hermes.Managed(mdir, files.get(cpath), files.get(epath))
    homes: dict[str, dict[str, str]] = {}
    for path, text in files.items():
        home, _, name = path.rpartition("/")
        if name in ("config.yaml", ".env") and home != mdir:
            homes.setdefault(home, {})[name] = text
    out = []
    for home, texts in sorted(homes.items()):
        parsed = hermes.parse_config(home, texts.get("config.yaml"), texts.get(".env"))
        if gateway_env is not None:
            parsed = replace(parsed, gateway_env=gateway_env(home))
        cfg = hermes.overlay(parsed, managed_of(home) if managed_of is not None else managed)
        api = hermes.api_server(cfg)
        if api.enabled:
            out.append(Intent(hermes.service_name(), api.source, api.host, api.key, api.detail))
    return out


_EXEC = re.compile(r"^\s*ExecStart\s*=\s*-?(.*)$", re.M)
_ENV_LINE = re.compile(r"""^\s*Environment\s*=\s*(.*)$""", re.M)
_SERVERS = (
    ("vLLM", re.compile(r"vllm(\.entrypoints\S*|\s+serve)"), "0.0.0.0", ("--api-key",)),
    ("llama.cpp server", re.compile(r"(^|/)llama-server(\s|$)"), "127.0.0.1", ("--api-key",
                                                                                "--api-key-file")),
    ("llama-cpp-python server", re.compile(r"llama_cpp\.server"), "localhost", ("--api_key",)),
)


def _flag(args: list[str], names: tuple[str, ...]) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def unit_intents(path: str, text: str) -> list[Intent]:
    out = []
    env: dict[str, str] = {}
    for raw in _ENV_LINE.findall(text):
        try:
            for item in shlex.split(raw):
                key, _, value = item.partition("=")
                env[key] = value
        except ValueError:
            continue
    env.update({k: v for k, v in _env_pairs(text).items() if k.startswith("OLLAMA_")})
    if "OLLAMA_HOST" in env or re.search(r"(^|/)ollama\s+serve", text, re.M):
        host = env.get("OLLAMA_HOST") or "127.0.0.1"
        host = re.sub(r"^https?://", "", host)
        origins = env.get("OLLAMA_ORIGINS")
        detail = f"OLLAMA_HOST={env.get('OLLAMA_HOST', '(unset: 127.0.0.1)')}"
        if origins:
            detail += f", OLLAMA_ORIGINS={origins}"
        out.append(Intent("Ollama", path, host.rsplit(":", 1)[0] if host.count(":") == 1
                          else host, "none (Ollama has no auth)", detail))
    commands = _EXEC.findall(text)
    for command in commands or ([""] if "N8N_LISTEN_ADDRESS" in env else []):
        listen = n8n.listen_intent(command, env)
        if listen is not None:  # n8n always has its user management: a login
            out.append(Intent(n8n.PRODUCT.data.service_name(), path, listen.host,
                              "login (n8n user management)", listen.detail))
    for command in commands:
        try:
            args = shlex.split(command)
        except ValueError:
            args = command.split()
        serve = open_webui.serve_intent(command, env)
        if serve is not None:
            out.append(Intent(open_webui.service_name(), path, serve.host, serve.auth,
                              f"ExecStart: {command[:200]}; host {serve.host} from "
                              f"{serve.host_from}; port {serve.port}"))
            continue
        for name, pattern, default_host, key_flags in _SERVERS:
            if pattern.search(command):
                host = _flag(args, ("--host",)) or default_host
                key = _flag(args, key_flags)
                auth = "API key set" if key or env.get("VLLM_API_KEY") else "no API key"
                out.append(Intent(name, path, host, auth, f"ExecStart: {command[:200]}"))
    return out


def _intent_dirs() -> tuple[str, ...]:
    from aiaudit.products import hermes

    return (openclaw.home_state_dir_names()[0], *hermes.home_dir_names())


def closed_intent_dirs(host: Any, scope: Scope, homes: list[str]) -> list[str]:
    """Agent config places the audit account cannot read: their bind settings stay unseen.
    `homes`: the target's listed homes (searched in an open scope)."""
    # Open WebUI keeps no bind in its data dir (the command line has it): not a place here
    webui = set(scope.roots_of(open_webui.APP))
    places = [r.path for r in scope.roots if r.path not in webui]
    places += [n.path for n in scope.state_dirs if n.path not in webui]
    # the files that hold the bind (a listable home whose config.yaml/.env is 0600 to
    # another account hides the API server's host: never "none configured")
    for root in scope.roots:
        if root.product == "openclaw":
            places += openclaw.config_candidates(root.path)
        elif root.product == "hermes":
            places += [p for p in _hermes_files(root.path) if "*" not in p]
    if not scope.closed:
        places = [f"{h}/{d}" for h in homes for d in _intent_dirs()] + places
    found = parse_access("".join(_run(host, s) for s in access_scripts(places)))
    return [a.reason() for a in coalesce(found.values())]


def _openclaw_root_intents(fs: Any, scope: Scope, in_container: bool) -> dict[str, Intent]:
    """{config path: intent} of the scope's OpenClaw state dirs through OpenClaw's one
    reader: a config elsewhere (OPENCLAW_CONFIG_PATH, as OpenClaw recorded it) and its
    `$include`s count as OpenClaw loads them."""
    out: dict[str, Intent] = {}
    for root in scope.roots:
        if root.product != "openclaw":
            continue
        cfg = openclaw.read_config(fs, root.path)
        if cfg.doc is None:
            continue
        gw = openclaw.gateway(cfg, in_container)
        via = f" (includes: {', '.join(cfg.includes)})" if cfg.includes else ""
        out[cfg.path] = Intent("OpenClaw gateway", cfg.path, gw.address, gw.auth_mode,
                               gw.describe() + via)
    return out


def configured_intents(host: Any, scope: Scope, fs: Any = None,
                       managed: Any = None) -> list[Intent]:
    """What the scope's agents and AI server units are configured to listen on."""
    units, globs = _unit_files(scope)
    named = _candidate_files(scope) + units
    files = split_files(_run(host, _dump_script(named, globs)))
    if scope.closed and globs:  # globbed units: only those running the scope's data dirs
        files = {p: t for p, t in files.items()
                 if any(fnmatch.fnmatch(p, n) for n in named) or _names_scope_dir(t, scope)}
    in_container = "container" in _run(host, _CONTAINER_SCRIPT)
    if managed is None and fs is not None and \
            any(p.endswith(("/config.yaml", "/.env")) for p in files):
        from aiaudit.products import hermes

        managed = hermes.read_managed(fs)  # unreadable: CouldNotCheck, never "none"
    gateway_env = None
    if fs is not None and scope.units:
        from aiaudit.products import hermes
        from aiaudit.scope import unit_settings

        settings = unit_settings(fs, scope.units)
        gateway_env = lambda home: hermes.unit_envs(settings, home, "gateway")  # noqa: E731
    intents: list[Intent] = hermes_intents(files, managed, gateway_env)
    resolved = _openclaw_root_intents(fs, scope, in_container) if fs is not None else {}
    intents += list(resolved.values())
    for path, text in files.items():
        if path in resolved:
            continue  # read above, with its includes
        if path.endswith(tuple(openclaw.data()["paths"]["config_names"])):
            found = [openclaw_intent(path, text, in_container)]
        elif path.endswith((".env", "config.yaml")):
            continue  # Hermes homes, read above
        else:
            found = list(unit_intents(path, text))
        intents += [i for i in found if i is not None]
    unique = {(i.service, i.source, i.bind): i for i in intents}
    return list(unique.values())


# --------------------------------------------------------------------------- firewall


@dataclass
class Firewall:
    """Inbound policy as the host's rule sets say (nftables, iptables, ufw)."""

    default_deny: bool = False
    sources: list[str] = field(default_factory=list)  # what decided default_deny
    open_ports: set[int] = field(default_factory=set)  # accepted from the network
    accept_all: list[str] = field(default_factory=list)  # unconditional accepts
    notes: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)  # which rule sets could be read
    denied: list[str] = field(default_factory=list)  # rule sets refused to the audit account


def _nft_ports(right: Any) -> set[int]:
    if isinstance(right, int):
        return {right}
    if isinstance(right, dict):
        if "set" in right:
            out: set[int] = set()
            for item in right["set"]:
                if isinstance(item, int):
                    out.add(item)
                elif isinstance(item, dict) and "range" in item:
                    lo, hi = item["range"]
                    out.update(range(int(lo), int(hi) + 1))
            return out
        if "range" in right:
            lo, hi = right["range"]
            return set(range(int(lo), int(hi) + 1))
    return set()


def parse_nft(doc: Any, fw: Firewall) -> None:
    items = doc.get("nftables", []) if isinstance(doc, dict) else []
    inputs = {}
    for item in items:
        chain = item.get("chain")
        if chain and chain.get("hook") == "input":
            key = (chain.get("family"), chain.get("table"), chain.get("name"))
            inputs[key] = chain
            if chain.get("policy") == "drop":
                fw.default_deny = True
                fw.sources.append(f"nftables {chain.get('family')} {chain.get('table')} "
                                  f"{chain.get('name')}: policy drop")
    last: dict[tuple, dict] = {}
    for item in items:
        rule = item.get("rule")
        if not rule:
            continue
        key = (rule.get("family"), rule.get("table"), rule.get("chain"))
        if key not in inputs:
            continue
        last[key] = rule
        exprs = rule.get("expr", [])
        verdict = next((k for e in exprs for k in e if k in ("accept", "drop", "reject")), None)
        matches = [e["match"] for e in exprs if "match" in e]
        if verdict != "accept":
            continue
        lefts = [json.dumps(m.get("left"), sort_keys=True) for m in matches]
        if any('"iif' in left for left in lefts) or any('"ct"' in left for left in lefts):
            continue  # loopback interface or established connections
        ports = set()
        for m in matches:
            left = m.get("left", {})
            if isinstance(left, dict) and left.get("payload", {}).get("field") == "dport":
                ports |= _nft_ports(m.get("right"))
        if ports:
            fw.open_ports |= ports
        elif not matches:
            fw.accept_all.append(f"nftables {key[1]} {key[2]}: unconditional accept")
        else:
            fw.notes.append(f"nftables {key[1]} {key[2]}: accept on {', '.join(lefts)[:160]}")
    for key, rule in last.items():
        exprs = rule.get("expr", [])
        if len(exprs) == 1 and any(k in exprs[0] for k in ("drop", "reject")):
            fw.default_deny = True
            fw.sources.append(f"nftables {key[1]} {key[2]}: final rule drops")


def filter_table_lines(text: str) -> Iterator[str]:
    """The stripped lines of `iptables-save` output that belong to its filter table."""
    table = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("*"):
            table = line[1:]
        if table == "filter":
            yield line


def port_set(spec: str) -> set[int]:
    """Ports of an iptables port spec: `80`, `8000:8010`, `80,443`."""
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition(":")
        if lo.isdigit():
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def parse_iptables(text: str, fw: Firewall) -> None:
    last_input = ""
    for line in filter_table_lines(text):
        m = re.match(r"^:INPUT (\w+)", line)
        if m and m.group(1) in ("DROP", "REJECT"):
            fw.default_deny = True
            fw.sources.append(f"iptables filter INPUT policy {m.group(1)}")
        if not line.startswith("-A INPUT"):
            continue
        last_input = line
        if not re.search(r"-j ACCEPT\b", line):
            continue
        if re.search(r"(^|\s)-i lo\b", line) or re.search(r"--(ct)?state\s+\S*ESTABLISHED", line):
            continue
        ports: set[int] = set()
        for spec in re.findall(r"--dports?\s+(\S+)", line):
            ports |= port_set(spec)
        if ports:
            fw.open_ports |= ports
        elif line.strip() == "-A INPUT -j ACCEPT":
            fw.accept_all.append("iptables INPUT: unconditional accept")
    if re.match(r"^-A INPUT -j (DROP|REJECT)", last_input):
        fw.default_deny = True
        fw.sources.append("iptables INPUT: final rule drops")


def parse_ufw(conf: str, defaults: str, fw: Firewall) -> None:
    if not re.search(r"(?m)^\s*ENABLED\s*=\s*yes\s*$", conf):
        if conf:
            fw.notes.append("ufw installed but not enabled (/etc/ufw/ufw.conf)")
        return
    policy = re.search(r'(?m)^\s*DEFAULT_INPUT_POLICY\s*=\s*"?(\w+)"?', defaults)
    if policy and policy.group(1).upper() in ("DROP", "REJECT"):
        fw.default_deny = True
        fw.sources.append(f"ufw enabled, DEFAULT_INPUT_POLICY={policy.group(1)}")


def _refused(text: str) -> bool:
    low = text.lower()
    return "operation not permitted" in low or "permission denied" in low


def firewall_facts(host: Any) -> Firewall:
    script = (f'echo "==> nft <=="; {SBIN}/nft -j list ruleset 2>&1 || nft -j list ruleset 2>&1;'
              f'echo "==> iptables <=="; {SBIN}/iptables-save 2>&1 || iptables-save 2>&1;'
              'echo "==> ufw.conf <=="; cat /etc/ufw/ufw.conf 2>/dev/null;'
              'echo "==> ufw.default <=="; cat /etc/default/ufw 2>/dev/null; true')
    parts = split_files(_run(host, script))
    if not parts:
        raise CouldNotCheck("could not read the firewall rule sets on the target")
    fw = Firewall()
    nft = parts.get("nft", "").strip()
    try:
        doc = json.loads(nft) if nft.startswith("{") else None
    except ValueError:
        doc = None
    if doc is not None:
        fw.tools.append("nftables")
        parse_nft(doc, fw)
    elif nft:
        fw.notes.append(f"nft: {nft.splitlines()[0][:120]}")
        if _refused(nft):
            fw.denied.append(f"nft list ruleset: {nft.splitlines()[0][:120]}")
    ipt = parts.get("iptables", "")
    if "*filter" in ipt or ipt.startswith("#"):
        fw.tools.append("iptables")
        parse_iptables(ipt, fw)
    elif ipt.strip():
        fw.notes.append(f"iptables-save: {ipt.strip().splitlines()[0][:120]}")
        if _refused(ipt):
            fw.denied.append(f"iptables-save: {ipt.strip().splitlines()[0][:120]}")
    parse_ufw(parts.get("ufw.conf", ""), parts.get("ufw.default", ""), fw)
    if parts.get("ufw.conf"):
        fw.tools.append("ufw")
    return fw


# ----------------------------------------------------------------------- access logs


def existing_files(host: Any, paths: list[str]) -> list[str]:
    """The paths that exist and can be read; an unreadable one is CouldNotCheck (a marker
    missing from a log the audit cannot open proves nothing)."""
    if not paths:
        return []
    found = parse_access("".join(_run(host, s) for s in access_scripts(paths)))
    closed = [a.reason() for a in found.values() if a.unreadable]
    if closed:
        raise CouldNotCheck("; ".join(closed[:3]))
    return [p for p in paths if p in found and found[p].ok]


def markers_in(host: Any, paths: list[str], markers: list[str]) -> set[str]:
    """Which markers occur in the files (tail of each, so a huge log stays cheap)."""
    if not paths or not markers:
        return set()
    files = " ".join(shlex.quote(p) for p in paths)
    pats = " ".join(f"-e {shlex.quote(m)}" for m in markers)
    out = _run(host, f"for f in {files}; do tail -c 20000000 \"$f\" 2>/dev/null; done "
               f"| grep -F -o {pats}; true")
    return {m for m in markers if m in out}
