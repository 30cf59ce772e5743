"""Agent and skill-runner processes on the target, as /proc shows them (read-only).

Two round trips: one `ps` listing to match command lines against the configured
patterns, one script that prints the sandbox facts of the matches and of the auditing
shell itself (the reference for "the host's" namespaces).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aiaudit.hostfs import HostFS
from aiaudit.status import CouldNotCheck

NAMESPACES = ("pid", "mnt", "net", "user", "ipc", "uts", "cgroup")
# The sandbox launchers themselves run outside the sandbox they create.
LAUNCHERS = {"bwrap", "runsc", "runsc-gofer", "runsc-sandbox", "nsjail", "firejail", "conmon",
             "containerd-shim", "containerd-shim-runc-v2", "ip", "sudo", "nsenter"}


@dataclass
class ProcessFacts:
    pid: int
    comm: str
    cmdline: str
    status: dict[str, str] = field(default_factory=dict)  # NoNewPrivs, Seccomp, CapEff, ...
    ns: dict[str, str] = field(default_factory=dict)
    docker_sock: bool = False
    net_devices: list[str] = field(default_factory=list)
    nflog_groups: set[int] = field(default_factory=set)
    proxy_env: dict[str, str] = field(default_factory=dict)
    denied: list[str] = field(default_factory=list)  # /proc entries the audit could not read

    def denied_reasons(self) -> list[str]:
        return [f"cannot read /proc/{self.pid}/{what} of pid {self.pid} ({self.label}): "
                "permission denied (the audit account needs the process's own user or "
                "CAP_SYS_PTRACE)" for what in self.denied]

    @property
    def label(self) -> str:
        words = self.cmdline.split()
        for word in words:
            base = word.rsplit("/", 1)[-1]
            if base and not base.startswith("-") and not re.match(r"python[\d.]*$|node$|sh$",
                                                                  base):
                return base
        return self.comm or str(self.pid)


def matching_processes(fs: HostFS, patterns: tuple[str, ...]) -> list[tuple[int, str, str]]:
    """(pid, comm, cmdline) of processes whose command line matches a pattern."""
    if not patterns:
        return []
    rc, out, err = fs.run("ps -e -ww -o pid=,comm=,args= 2>/dev/null")
    if rc != 0 or not out.strip():
        raise CouldNotCheck(f"cannot list processes on the target (ps): {err.strip() or rc}")
    compiled = [re.compile(p) for p in patterns]
    found = []
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        pid, comm, args = int(parts[0]), parts[1], parts[2]
        if comm in LAUNCHERS or comm.startswith("containerd-shim") or "ps -e -ww" in args:
            continue
        if any(p.search(args) for p in compiled):
            found.append((pid, comm, args))
    return found


_FACTS_SCRIPT = r"""
for p in {pids} self; do
  d=/proc/$p; [ "$p" = self ] && d=/proc/$$
  echo "== $p"
  grep -E '^(NoNewPrivs|Seccomp|Seccomp_filters|CapEff|Uid):' $d/status 2>/dev/null
  for n in {namespaces}; do printf 'ns %s %s\n' $n "$(readlink $d/ns/$n 2>/dev/null)"; done
  readlink $d/ns/net >/dev/null 2>&1 || echo 'denied ns'
  (: < $d/environ) 2>/dev/null || echo 'denied environ'
  (: < $d/status) 2>/dev/null || echo 'denied status'
  printf 'dockersock %s\n' "$(grep -c 'docker\.sock' $d/mountinfo 2>/dev/null)"
  printf 'netdev %s\n' "$(tail -n +3 $d/net/dev 2>/dev/null | cut -d: -f1 | tr -d ' ' \
    | tr '\n' ' ')"
  printf 'nflog %s\n' "$(awk '{{print $1}}' $d/net/netfilter/nfnetlink_log 2>/dev/null \
    | tr '\n' ' ')"
  printf 'proxy %s\n' "$(tr '\0' '\n' < $d/environ 2>/dev/null \
    | grep -iE '^(https?|all)_proxy=' | tr '\n' ' ')"
done
"""


def process_facts(fs: HostFS, matches: list[tuple[int, str, str]]
                  ) -> tuple[list[ProcessFacts], ProcessFacts]:
    """Facts of the matched processes and of the auditing shell (the host reference)."""
    pids = " ".join(str(pid) for pid, _, _ in matches)
    rc, out, err = fs.run(_FACTS_SCRIPT.format(pids=pids, namespaces=" ".join(NAMESPACES)))
    by_pid = {str(pid): ProcessFacts(pid, comm, args) for pid, comm, args in matches}
    shell = ProcessFacts(0, "audit shell", "")
    current: ProcessFacts | None = None
    for line in out.splitlines():
        if line.startswith("== "):
            key = line[3:].strip()
            current = shell if key == "self" else by_pid.get(key)
            continue
        if current is None:
            continue
        if line.startswith("denied "):
            current.denied.append(line.split()[-1] + ("/*" if line.endswith(" ns") else ""))
        elif ":" in line and not line.startswith(("ns ", "dockersock", "netdev", "nflog",
                                                  "proxy")):
            name, _, value = line.partition(":")
            current.status[name.strip()] = value.strip()
        elif line.startswith("ns "):
            _, name, *value = line.split(" ", 2)
            current.ns[name] = value[0].strip() if value else ""
        elif line.startswith("dockersock "):
            current.docker_sock = line.split()[-1] not in ("0", "dockersock")
        elif line.startswith("netdev "):
            current.net_devices = line.split()[1:]
        elif line.startswith("nflog "):
            current.nflog_groups = {int(g) for g in line.split()[1:] if g.isdigit()}
        elif line.startswith("proxy "):
            current.proxy_env = dict(w.split("=", 1) for w in line.split()[1:] if "=" in w)
    if not shell.ns:
        raise CouldNotCheck(f"cannot read /proc on the target: {err.strip() or rc}")
    return [by_pid[str(pid)] for pid, _, _ in matches], shell
