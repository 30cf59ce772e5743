"""MCP servers from the clients' configs: how each is launched, pinning and literal secrets.

Tool descriptions are read statically from the server's bundle manifest (MCPB/DXT
`manifest.json` with a `tools` list) when its entry point is a local file: the suite never
starts a server to ask it.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from aiaudit.redact import mask, secret_values
from aiaudit.supply_chain.discovery import ConfigFile

_SECRET_KEY = re.compile(r"(?i)(token|secret|passw|api[_-]?key|auth|credential|private[_-]?key|"
                         r"access[_-]?key|cookie|session)")
_REFERENCE = re.compile(r"^\s*(?:(?:Bearer|Basic|Token|token)\s+)?(\$\{?[\w:.-]+\}?|"
                        r"\{env:[\w.-]+\}|\$\(\w+\)|<[^>]+>|env:[\w.-]+)\s*$")
_EXACT_NPM = re.compile(r"^(@[^/\s]+/)?[^@\s/]+@v?\d+\.\d+\.\d+(?:-[\w.]+)?$")
_LAUNCHERS = {"npx", "bunx", "pnpx", "uvx", "pipx", "docker", "podman", "deno"}


@dataclass
class McpServer:
    """One configured MCP server."""

    client: str
    config_path: str
    name: str
    command: str = ""
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    transport: str = "stdio"
    tools: dict[str, str] = field(default_factory=dict)  # name -> description
    tools_source: str = ""
    enabled: bool | None = None  # the client's own on/off switch, when it has one

    @property
    def id(self) -> str:
        return f"mcp:{self.client}/{self.name}"

    def definition(self) -> dict[str, Any]:
        """What the baseline remembers of the launch: never the values of env or headers."""
        return {"command": self.command, "args": self.args, "url": self.url,
                "transport": self.transport, "env_keys": sorted(self.env),
                "header_keys": sorted(self.headers)}


@dataclass
class McpConfigProblem:
    """A client config that could not be read or parsed."""

    client: str
    config_path: str
    error: str

    @property
    def id(self) -> str:
        return f"mcp:{self.client}/{posixpath.basename(self.config_path)}"


def _servers_table(cfg: ConfigFile) -> list[tuple[str, dict[str, Any]]]:
    doc = cfg.doc
    if not isinstance(doc, dict):
        return []
    tables: list[Any] = []
    if cfg.client == "openclaw":
        mcp = doc.get("mcp")
        tables.append(mcp.get("servers") if isinstance(mcp, dict) else None)
    elif cfg.client == "hermes":
        tables.append(doc.get("mcp_servers"))
    elif cfg.client == "codex":
        tables.append(doc.get("mcp_servers"))
    elif cfg.client == "vscode":
        tables.append(doc.get("servers"))
        mcp = doc.get("mcp")
        tables.append(mcp.get("servers") if isinstance(mcp, dict) else None)
    else:
        tables.append(doc.get("mcpServers"))
        tables.append(doc.get("servers"))
        projects = doc.get("projects")
        for project in (projects.values() if isinstance(projects, dict) else ()):
            if isinstance(project, dict):
                tables.append(project.get("mcpServers"))
    out = []
    for table in tables:
        if isinstance(table, dict):
            out += [(str(k), v) for k, v in table.items() if isinstance(v, dict)]
    return out


def _str_map(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def servers_from(configs: list[ConfigFile]) -> list[McpServer | McpConfigProblem]:
    """Every MCP server of every client config found (problems for unreadable configs)."""
    out: list[McpServer | McpConfigProblem] = []
    for cfg in configs:
        if cfg.client in ("openclaw-exec-approvals",):
            continue
        if cfg.error:
            out.append(McpConfigProblem(cfg.client, cfg.path, cfg.error))
            continue
        for name, raw in _servers_table(cfg):
            args = raw.get("args")
            url = raw.get("url") or raw.get("serverUrl") or raw.get("httpUrl") or ""
            server = McpServer(
                client=cfg.client, config_path=cfg.path, name=name,
                command=str(raw.get("command") or ""),
                args=[str(a) for a in args] if isinstance(args, list) else [],
                env=_str_map(raw.get("env")), url=str(url),
                headers=_str_map(raw.get("headers") or raw.get("http_headers")),
                transport=str(raw.get("type") or raw.get("transport") or
                              ("http" if url else "stdio")),
                enabled=raw["enabled"] if isinstance(raw.get("enabled"), bool) else None)
            out.append(server)
    return out


def _package_spec(args: list[str]) -> str | None:
    """The package a launcher runs: `--package X`/`--from X`, else the first non-option."""
    for i, arg in enumerate(args):
        if arg in ("-p", "--package", "--from", "--spec") and i + 1 < len(args):
            return args[i + 1]
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--with", "-c", "--call", "--registry", "--python"):
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


# `docker run`/`podman run` options that take a value (the next argument unless written
# `--opt=value`); every other option is a flag. From `docker run --help` (Docker 27).
_DOCKER_VALUE_OPTS = {
    "-a", "--attach", "--add-host", "--annotation", "--blkio-weight", "--blkio-weight-device",
    "--cap-add", "--cap-drop", "--cgroup-parent", "--cgroupns", "--cidfile", "-c",
    "--cpu-shares", "--cpu-period", "--cpu-quota", "--cpu-rt-period", "--cpu-rt-runtime",
    "--cpus", "--cpuset-cpus", "--cpuset-mems", "--detach-keys", "--device",
    "--device-cgroup-rule", "--device-read-bps", "--device-read-iops", "--device-write-bps",
    "--device-write-iops", "--dns", "--dns-option", "--dns-search", "--domainname", "-e",
    "--env", "--entrypoint", "--env-file", "--expose", "--gpus", "--group-add",
    "--health-cmd", "--health-interval", "--health-retries", "--health-start-interval",
    "--health-start-period", "--health-timeout", "-h", "--hostname", "--ip", "--ip6", "--ipc",
    "--isolation", "--kernel-memory", "-l", "--label", "--label-file", "--link",
    "--link-local-ip", "--log-driver", "--log-opt", "--mac-address", "-m", "--memory",
    "--memory-reservation", "--memory-swap", "--memory-swappiness", "--mount", "--name",
    "--network", "--net", "--network-alias", "--net-alias", "--oom-score-adj", "--pid",
    "--pids-limit", "--platform", "-p", "--publish", "--pull", "--restart", "--runtime",
    "--security-opt", "--shm-size", "--stop-signal", "--stop-timeout", "--storage-opt",
    "--sysctl", "--tmpfs", "-u", "--user", "--ulimit", "--userns", "--uts", "-v", "--volume",
    "--volume-driver", "--volumes-from", "-w", "--workdir", "--chroot", "--env-host",
    "--pod", "--secret", "--arch", "--os", "--variant", "--image-volume",
}


def container_image(args: list[str]) -> str | None:
    """The image of `docker run ARGS` as docker parses them: `-e NAME`, `--env K=V`,
    `-v a:b` and `-p 80:80` consume their value, `--opt=value` and `-eNAME` do not take the
    next argument, combined short flags (`-it`) are flags, `--` ends the options."""
    if "run" not in args:
        return None
    rest = args[args.index("run") + 1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            return rest[i + 1] if i + 1 < len(rest) else None
        if not arg.startswith("-") or arg == "-":
            return arg
        if arg.startswith("--"):
            i += 2 if "=" not in arg and arg in _DOCKER_VALUE_OPTS else 1
            continue
        # short options: -it, -e NAME, -eNAME, -p8080:80; a value option ends the group
        letters = arg[1:]
        for j, letter in enumerate(letters):
            if f"-{letter}" in _DOCKER_VALUE_OPTS:
                i += 1 if j + 1 < len(letters) else 2
                break
        else:
            i += 1
    return None


def pinning_problems(server: McpServer) -> list[str]:
    """Why the launch is not reproducible (a rug pull can swap the code underneath)."""
    if server.url:
        return []
    base = re.sub(r"(?i)\.(?:cmd|exe|bat|ps1)$", "", posixpath.basename(
        server.command.replace("\\", "/")))  # npx.cmd, C:\\...\\uvx.exe
    args = list(server.args)
    if base == "env":  # /usr/bin/env [-i] [NAME=value ...] program args
        rest = list(args)
        while rest and (rest[0].startswith("-") or "=" in rest[0]):
            rest.pop(0)
        if not rest:
            return []
        return pinning_problems(McpServer(server.client, server.config_path, server.name,
                                          rest[0], rest[1:]))
    if base == "uv" and args[:1] == ["run"] and "--with" in args:  # uv run --with PKG
        loose = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--with"
                 and not _PY_PINNED.match(args[i + 1])]
        return [f"`uv run --with {w}` is not pinned (use {w}==X.Y.Z)" for w in loose]
    inner = shell_c_string(base, args)
    if inner is not None:
        return _shell_pinning(inner)
    if base in ("pnpm", "yarn", "bun") and args[:1] in (["dlx"], ["x"]):
        base, args = f"{base} {args[0]}", args[1:]
    elif base == "npm" and args[:1] in (["exec"], ["x"]):  # `npm exec --yes pkg` is npx
        base, args = "npm exec", args[1:]
    elif base == "deno" and args[:1] in (["run"], ["x"]):
        return _deno_pinning(args[1:])
    elif base == "uv" and args[:2] == ["tool", "run"]:
        base, args = "uvx", args[2:]
    elif base == "pipx" and args[:1] == ["run"]:
        args = args[1:]
    if base not in _LAUNCHERS and " " not in base:
        return []
    if base in ("docker", "podman"):
        image = container_image(args)
        if image and "@sha256:" not in image and (":" not in image.split("/")[-1]
                                                  or image.endswith(":latest")):
            return [f"container image {image} has no version tag or digest"]
        return []
    spec = _package_spec(args)
    if spec is None:
        return [f"`{base}` without a package"]
    if base in ("uvx", "pipx"):
        if "==" in spec or re.search(r"@\d+\.\d+", spec) or _GIT_PINNED.search(spec):
            return []
        return [f"`{base} {spec}` is not pinned (use {spec}==X.Y.Z)"]
    if spec.endswith("@latest") or spec.endswith("@next") or not _EXACT_NPM.match(spec):
        yes = " -y" if any(a in ("-y", "--yes") for a in args) else ""
        return [f"`{base}{yes} {spec}` is not pinned to an exact version"]
    return []


_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "fish", "cmd", "cmd.exe", "powershell", "pwsh",
           "powershell.exe", "pwsh.exe"}
_SHELL_C = re.compile(r"^(?:-[a-z]*c[a-z]*|/c|/k|-command|-c)$", re.I)


def shell_c_string(base: str, args: list[str]) -> str | None:
    """The command line a shell launch runs (`sh -c "pip install x && x"`, `bash -lc ...`,
    `cmd /c ...`, `pwsh -Command ...`): the rest of the arguments, joined as the shell does."""
    if base not in _SHELLS:
        return None
    for i, arg in enumerate(args):
        if _SHELL_C.match(arg):
            return " ".join(args[i + 1:]) if base.startswith("cmd") else \
                (args[i + 1] if i + 1 < len(args) else "")
        if not arg.startswith("-"):
            return None  # `bash script.sh`: a script file, not a command line
    return None


_SEGMENTS = re.compile(r"&&|\|\||;|\||\n|&(?!&)")
# Installers and the forms that pin what they install (issue 11: SUP-07/SUP-02 read the
# command line a shell launch runs, not just its first word).
_PIP = re.compile(r"^(?:python[\d.]*\s+-m\s+)?(?:uv\s+)?pip[\d.]*\s+install\b|^uv\s+tool\s+"
                  r"install\b|^pipx\s+install\b|^uv\s+add\b|^poetry\s+add\b")
_NPM_GLOBAL = re.compile(r"^(?:npm\s+(?:i|install|add)|pnpm\s+(?:add|i|install)|yarn\s+global\s+"
                         r"add|bun\s+(?:add|install|i))\b")
_GO_CARGO = re.compile(r"^(?:go\s+install|cargo\s+install|gem\s+install|deno\s+install)\b")
_PY_PINNED = re.compile(r"^[\w.\[\],-]+===?[\w.+!-]+$|^git\+\S+@(?:[0-9a-f]{7,40}|v?\d+\.\d+\.\d+)"
                        r"(?:#\S*)?$|^[./]\S*|\S+\.whl$|^\S+\.tar\.gz$")
_GO_PINNED = re.compile(r"^\S+@v\d+\.\d+\.\d+\S*$|^\S+@[0-9a-f]{12,40}$")


def _shell_pinning(command: str) -> list[str]:
    """Pinning problems of each command of a shell command line: an installer of an
    unversioned package, a launcher (npx, uvx, ...) of one, a download piped to a shell."""
    import shlex

    problems: list[str] = []
    for segment in _SEGMENTS.split(command):
        segment = re.sub(r"^\s*(?:sudo\s+|exec\s+|env\s+(?:\w+=\S*\s+)*|\w+=\S*\s+)*", "",
                         segment).strip()
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        if not words:
            continue
        joined = " ".join(words)
        if re.match(r"(?:curl|wget)\b", joined) and re.search(r"\|\s*(?:ba|z|da)?sh\b", command):
            problems.append(f"`{excerpt_of(command)}` pipes a download into a shell")
            continue
        specs = [w for w in words[1:] if not w.startswith("-")]
        if _PIP.match(joined):
            flags_with_value = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url",
                                "--extra-index-url", "--target", "-t", "--python"}
            specs, skip = [], False
            for w in words[1:]:
                if skip:
                    skip = False
                elif w in flags_with_value:
                    skip = True
                elif not w.startswith("-") and w not in ("pip", "install", "tool", "add",
                                                           "-m") and not w.startswith("python"):
                    specs.append(w)
            loose = [w for w in specs if not _PY_PINNED.match(w)]
            if loose:
                problems.append(f"`{joined}` installs {', '.join(loose)} without a pinned "
                                "version (use NAME==X.Y.Z)")
        elif _NPM_GLOBAL.match(joined):
            loose = [w for w in specs if w not in ("i", "install", "add", "global")
                     and not _EXACT_NPM.match(w) and not w.startswith((".", "/"))]
            if loose:
                problems.append(f"`{joined}` installs {', '.join(loose)} without an exact "
                                "version")
        elif _GO_CARGO.match(joined):
            pinned = "--version" in words or "--vers" in words or "-v" in words
            loose = [w for w in specs[1:] if not (_GO_PINNED.match(w) or re.search(
                r"@\d+\.\d+\.\d+$", w) or pinned)]
            if loose:
                problems.append(f"`{joined}` installs {', '.join(loose)} without a pinned "
                                "version")
        else:
            problems += pinning_problems(McpServer("", "", "", words[0], words[1:]))
    return problems


def excerpt_of(command: str, limit: int = 80) -> str:
    return command if len(command) <= limit else command[:limit - 1] + "\u2026"


_DENO_PINNED = re.compile(r"^(?:(?:jsr|npm):(@[^/\s]+/)?[^@\s/]+@v?\d+\.\d+\.\d+(?:-[\w.]+)?"
                          r"(?:/\S*)?|"
                          r"https://\S+@v?\d+\.\d+\.\d+\S*|[./]\S*)$")


# A git source pinned to a commit or a release tag (`git+https://host/o/r@3f2a1b4c`).
_GIT_PINNED = re.compile(r"^git\+\S+@(?:[0-9a-f]{7,40}|v?\d+\.\d+\.\d+)(?:#\S*)?$")
# `--api-key VALUE`, `--token=VALUE`: a credential passed as a command-line option.
_SECRET_OPTION = re.compile(r"(?i)^--?(?P<name>[\w-]*(?:api[-_]?key|token|secret|passw(?:or)?d|"
                            r"auth|credential)[\w-]*)(?:=(?P<value>.*))?$")
# options that name where a secret is or how to authenticate, not the secret itself
_NOT_A_SECRET_OPTION = re.compile(r"(?i)[-_](?:mode|type|method|url|uri|file|path|dir|name|"
                                  r"provider|scheme|env|var|header|endpoint|host)$")


def _deno_pinning(args: list[str]) -> list[str]:
    """`deno run [flags] SPEC`: a jsr:/npm: specifier with an exact version, a versioned
    URL or a local file is pinned; `jsr:@x/y` or `npm:pkg@^1` is not."""
    spec = next((a for a in args if not a.startswith("-")), None)
    if spec is None:
        return ["`deno run` without a module"]
    return [] if _DENO_PINNED.match(spec) else [f"`deno run {spec}` is not pinned to an exact "
                                                "version"]


def literal_secrets(server: McpServer) -> list[str]:
    """Literal credentials in env, headers or args (masked: safe to show)."""
    found = []
    for where, table in (("env", server.env), ("headers", server.headers)):
        for key, value in table.items():
            if _REFERENCE.match(value) or not value.strip():
                continue
            shaped = bool(secret_values(value))
            if shaped or (_SECRET_KEY.search(key) and len(value.strip()) >= 8):
                found.append(f"{where}.{key} = {mask(value)}")
    for i, arg in enumerate(server.args):
        hits = secret_values(arg)
        if hits:
            found.append(f"args[{i}] holds {mask(hits[0])}")
            continue
        option = _SECRET_OPTION.match(arg)
        if option and _NOT_A_SECRET_OPTION.search(option.group("name")):
            option = None
        value = (option.group("value") if option.group("value") is not None else
                 server.args[i + 1] if i + 1 < len(server.args) else "") if option else ""
        shaped_next = option is not None and option.group("value") is None and \
            bool(secret_values(value))  # reported on its own, as args[i + 1]
        if value and len(value) >= 8 and not value.startswith(("-", "/", "~", "./")) and \
                not _REFERENCE.match(value) and not re.fullmatch(r"[A-Z][A-Z0-9_]+", value) \
                and not shaped_next:
            found.append(f"args[{i}] passes {arg.split('=')[0]} = {mask(value)}")
    if server.url:
        query = server.url.split("?", 1)[1] if "?" in server.url else ""
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if _SECRET_KEY.search(key) and len(value) >= 8:
                found.append(f"url query {key} = {mask(value)}")
    return found


def bundle_manifest_path(server: McpServer) -> str | None:
    """Where a local server's bundle manifest would be (next to its entry file's package)."""
    for arg in [server.command, *server.args]:
        if arg.startswith("/") and posixpath.splitext(arg)[1] in (".js", ".mjs", ".cjs", ".py"):
            folder = posixpath.dirname(arg)
            if posixpath.basename(folder) in ("server", "dist", "build", "src"):
                folder = posixpath.dirname(folder)
            return posixpath.join(folder, "manifest.json")
    return None


def tools_from_manifest(text: str) -> dict[str, str]:
    """What a bundle manifest tells the model, keyed as a listing keys it: each tool's
    description, its parameters' descriptions when the tool carries an `inputSchema` (as
    `tools/list` returns it), each prompt's description, argument descriptions and text,
    each resource's description."""
    from aiaudit.supply_chain.mcp_listing import descriptions

    doc = json.loads(text)
    if not isinstance(doc, dict):
        return {}
    tools = [t for t in doc.get("tools") or [] if isinstance(t, dict)]
    resources = [r for r in doc.get("resources") or [] if isinstance(r, dict)]
    out = descriptions({"tools": tools, "resources": resources})
    prompts = doc.get("prompts")
    for prompt in prompts if isinstance(prompts, list) else []:
        if not isinstance(prompt, dict) or not isinstance(prompt.get("name"), str):
            continue
        args = [a for a in prompt.get("arguments") or [] if isinstance(a, dict)]
        out |= descriptions({"prompts": [{**prompt, "arguments": args}]})
        if isinstance(prompt.get("text"), str) and prompt["text"].strip():
            out[f"prompt:{prompt['name']}.text"] = prompt["text"]
    return out


def description_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
