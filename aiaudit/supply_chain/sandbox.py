"""SUP-05 facts: do skills run confined? From the agents' configs and from /proc.

Configuration says what should happen (OpenClaw sandbox mode, network, binds, read-only
root, elevated tools; Hermes terminal backend); the running processes say what does
(own pid and mount namespaces, a seccomp filter, NoNewPrivs, no effective capabilities,
no docker.sock). Each source is one case, so a weak spot is named where it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiaudit.products import openclaw
from aiaudit.supply_chain.discovery import ConfigFile
from aiaudit.supply_chain.procs import ProcessFacts

SENSITIVE_BIND_SOURCES = ("/", "/etc", "/root", "/home", "/var/run", "/run", "/proc", "/sys",
                          "/var/lib/docker", "/dev")


@dataclass
class Runtime:
    """One place skills execute, and what stands between them and the host."""

    id: str
    kind: str  # "openclaw-config" | "hermes-config" | "process"
    facts: dict[str, Any] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)  # why SUP-05 fails
    unread: list[str] = field(default_factory=list)  # what could not be read (path, right)
    read: dict[str, int] = field(default_factory=dict)  # counts of what was read


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _sensitive_bind(bind: str) -> bool:
    source = bind.split(":", 1)[0].rstrip("/") or "/"
    if "docker.sock" in bind or source.endswith("/.ssh") or source.endswith("/.aws"):
        return True
    return source in SENSITIVE_BIND_SOURCES


def openclaw_runtime(cfg: ConfigFile, approvals: ConfigFile | None) -> Runtime:
    """The sandbox OpenClaw applies (agents.defaults.sandbox, then each agent's override),
    with OpenClaw's defaults for unset keys (mode off, docker network none, readOnlyRoot
    true: src/agents/sandbox/config.ts, via aiaudit/products/openclaw.py)."""
    rt = Runtime(f"openclaw:{cfg.path}", "openclaw-config")
    rt.read = {"config_files": 1 + (approvals is not None and approvals.doc is not None)}
    parsed = openclaw.Config(cfg.path, cfg.doc if isinstance(cfg.doc, dict) else {})
    for box in openclaw.sandboxes(parsed):
        who = "" if box.agent == "defaults" else f"agents.entries.{box.agent}: "
        prefix = "" if box.agent == "defaults" else f"{box.agent}."
        rt.facts.update({f"{prefix}sandbox.mode": box.mode,
                         f"{prefix}sandbox.backend": box.backend,
                         f"{prefix}docker.network": box.network,
                         f"{prefix}docker.readOnlyRoot": box.read_only_root,
                         f"{prefix}docker.binds": list(box.binds),
                         f"{prefix}workspaceAccess": box.workspace_access})
        if box.unset:
            rt.facts[f"{prefix}OpenClaw defaults applied"] = ", ".join(box.unset)
        if not box.governs:  # every listed agent sets its own sandbox
            rt.facts["agents.defaults.sandbox"] = (
                "governs no agent: every agent of agents.entries sets its own sandbox "
                f"({', '.join(openclaw.agent_ids(parsed))}; listAgentIds)")
            continue
        if box.mode != "all":
            rt.gaps.append(f"{who}sandbox.mode is {box.mode!r}"
                           + (" (OpenClaw's default)" if "mode" in box.unset else "")
                           + ": skills run on the host"
                           + (" in the main session" if box.mode == "non-main" else ""))
        if box.network == "host":
            rt.gaps.append(f"{who}sandbox.docker.network is 'host'")
        for bind in box.binds:
            if _sensitive_bind(bind):
                rt.gaps.append(f"{who}sandbox bind mount {bind!r} exposes the host")
        if box.mode == "all" and not box.read_only_root:
            rt.gaps.append(f"{who}sandbox.docker.readOnlyRoot is false")
    for agent, (host, unset) in openclaw.exec_hosts(parsed).items():
        who = "" if agent == "defaults" else f"agents.entries.{agent}."
        rt.facts[f"{who}tools.exec.host"] = host + (" (OpenClaw's default)" if unset else "")
        if openclaw.host_exec(host):
            rt.gaps.append(f"{who}tools.exec.host is {host!r}: exec runs on the {host} host "
                           "outside the sandbox for every session (resolveExecTarget)")
    for elev in openclaw.elevated(parsed):  # resolveElevatedPermissions, per agent
        rt.facts[f"{elev.agent}.tools.elevated"] = elev.why
        if elev.available:
            rt.gaps.append(f"agent {elev.agent}: elevated mode {elev.why}: their exec leaves "
                           "the sandbox for the host (src/auto-reply/reply/reply-elevated.ts "
                           "resolveElevatedPermissions)")
    if approvals is not None and approvals.error:
        rt.unread.append(f"exec approvals: {approvals.error}")
    if approvals is not None and isinstance(approvals.doc, dict):
        rt.facts["exec-approvals"] = approvals.path  # the row or the legacy file
        auto = approvals.doc.get("autoAllowSkills")
        auto = auto if auto is not None else _get(approvals.doc, "defaults", "autoAllowSkills")
        rt.facts["exec-approvals.autoAllowSkills"] = auto
        if auto is True:
            rt.gaps.append("exec-approvals autoAllowSkills: skill commands run unapproved")
    return rt


def hermes_runtime(cfg: ConfigFile, managed: Any = None, env_text: str | None = None,
                   env_error: str = "", unit_env: dict[str, Any] | None = None) -> Runtime:
    """terminal.backend as Hermes resolves it (unset: its default `local`, on the host; the
    managed scope's value when /etc/hermes/config.yaml pins it; the home's .env
    TERMINAL_* where config.yaml leaves them, products.hermes.terminal_backends).
    `env_text`: the home's .env (None: absent); `env_error`: why it could not be read;
    `unit_env`: the TERMINAL_ENV the deployment's units give the entry point they start
    (products.hermes.unit_terminal_envs)."""
    from aiaudit.products import hermes

    rt = Runtime(f"hermes:{cfg.path}", "hermes-config")
    rt.read = {"config_files": 1}
    home = cfg.path.rsplit("/", 1)[0]
    if cfg.absent:
        rt.read = {"dirs": 1}
        rt.facts["config.yaml"] = (f"absent from the listed home {home}: Hermes runs on its "
                                   "DEFAULT_CONFIG (hermes_cli/config.py)")
    env = hermes.parse_env(env_text) if env_text is not None else {}
    conf = hermes.overlay(hermes.HermesConfig(
        home, cfg.doc if isinstance(cfg.doc, dict) else {}, env,
        files=(cfg.path,) + ((hermes.file_in(home, "env_file"),) if env_text is not None
                             else ())), managed)
    if env_text is not None:
        rt.read = {**rt.read, "env_files": 1}
    if conf.managed is not None:
        rt.read = {**rt.read, "managed_files": len(conf.managed.files)}
    backend = hermes.terminal_backend(conf, unit_env)
    serve = dict(hermes.terminal_backends(conf, unit_env))["serve"]
    for entry, setting in (unit_env or {}).items():
        rt.facts[f"{entry} unit TERMINAL_ENV"] = setting.describe()
    if serve.value != backend.value:
        rt.facts["terminal.backend of hermes serve / desktop / ACP"] = (
            f"{serve.describe()}: tools/terminal_tool.py _ensure_terminal_env_bridged "
            "keeps a TERMINAL_ENV already in the environment")
    if env_error and conf.get("terminal.backend").is_default:
        rt.unread.append(f"{env_error}; its TERMINAL_ENV decides terminal.backend where "
                         "config.yaml sets none")
    rt.facts["terminal.backend"] = backend.describe()
    confined = hermes.confined_backends()
    if str(backend.value) not in confined:
        rt.gaps.append(f"terminal.backend is {backend.value!r}"
                       + (" (unset: Hermes' default)" if backend.is_default else "")
                       + f": commands run on the host (use one of {', '.join(confined)})")
    if str(backend.value) == "docker":
        volumes, where = hermes.docker_list(conf, "docker_volumes")
        rt.facts["terminal.docker_volumes"] = volumes
        for volume in volumes:
            if _sensitive_bind(volume):
                rt.gaps.append(f"terminal.docker_volumes mounts {volume!r} ({where})")
        args, where = hermes.docker_list(conf, "docker_extra_args")
        rt.facts["terminal.docker_extra_args"] = args
        for flag in _host_flags(args):
            rt.gaps.append(f"terminal.docker_extra_args passes {flag!r} to docker run "
                           f"({where}): the container shares the host")
    return rt


# `docker run` flags that hand the container the host: all devices and capabilities, the
# host's namespaces, no confinement profile, a host dir mounted
_HOST_FLAG = re.compile(r"^--(privileged|(pid|net|network|ipc|uts|userns|cgroupns)=host|"
                        r"cap-add=(all|sys_admin)|security-opt=(seccomp|apparmor)[=:]unconfined)$",
                        re.I)


def _host_flags(args: list[str]) -> list[str]:
    out = []
    split = ("--pid", "--net", "--network", "--ipc", "--uts", "--userns", "--cgroupns",
             "--cap-add", "--security-opt")  # `--flag value` as `--flag=value`
    joined = [f"{a}={args[i + 1]}" if a in split and i + 1 < len(args) else a
              for i, a in enumerate(args)]
    for i, flag in enumerate(joined):
        if _HOST_FLAG.match(flag):
            out.append(flag)
        elif args[i] in ("-v", "--volume", "--mount") and i + 1 < len(args) \
                and _sensitive_bind(args[i + 1].replace("source=", "").split(",")[0]):
            out.append(f"{args[i]} {args[i + 1]}")
        elif args[i].startswith(("--volume=", "-v=")) and \
                _sensitive_bind(args[i].split("=", 1)[1]):
            out.append(args[i])
    return out


def process_runtime(proc: ProcessFacts, host: ProcessFacts) -> Runtime:
    rt = Runtime(f"process:{proc.label}", "process")
    shared = [n for n in ("pid", "mnt", "net", "user", "ipc", "uts")
              if proc.ns.get(n) and proc.ns.get(n) == host.ns.get(n)]
    rt.facts.update({"pid": proc.pid, "cmdline": proc.cmdline[:200],
                     "NoNewPrivs": proc.status.get("NoNewPrivs", "?"),
                     "Seccomp": proc.status.get("Seccomp", "?"),
                     "CapEff": proc.status.get("CapEff", "?"),
                     "namespaces shared with the host": ", ".join(shared) or "none",
                     "docker.sock mounted": proc.docker_sock})
    rt.unread = proc.denied_reasons()
    rt.read = {"processes": 1, "proc_entries": len(proc.status) + len(proc.ns)}
    if not proc.status:
        rt.unread.append(f"no /proc/{proc.pid}/status fields could be read")
        return rt
    for ns in ("pid", "mnt"):
        if ns in shared:
            rt.gaps.append(f"shares the host's {ns} namespace")
    if proc.status.get("Seccomp", "0") == "0":
        rt.gaps.append("no seccomp filter")
    if proc.status.get("NoNewPrivs") != "1":
        rt.gaps.append("NoNewPrivs is not set (setuid binaries can raise privileges)")
    cap = proc.status.get("CapEff", "")
    if cap.strip("0"):
        rt.gaps.append(f"effective capabilities {cap}")
    if proc.docker_sock:
        rt.gaps.append("docker.sock is mounted (full control of the host)")
    return rt
