"""SUP-06 facts: is outbound traffic from the agent's network namespace restricted and logged?

Restricted: an nftables chain on the output hook with policy drop (or a final
unconditional drop/reject), or an iptables OUTPUT policy of DROP, or a namespace with no
interface but loopback. Logged: a `log` statement on the drop path whose records reach
somewhere: an NFLOG group that a collector has bound, or kernel logging in the initial
namespace (the kernel discards netfilter log lines from other namespaces unless
net.netfilter.nf_log_all_netns=1). An HTTP(S)_PROXY alone restricts nothing.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.hostfs import HostFS
from aiaudit.status import CouldNotCheck
from aiaudit.supply_chain.procs import ProcessFacts


@dataclass
class EgressContext:
    """One network namespace agent processes run in."""

    id: str
    netns: str
    processes: list[ProcessFacts]
    facts: dict[str, Any] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)
    rules: int = 0  # firewall rules and chains read

    @property
    def unread(self) -> list[str]:
        return [r for p in self.processes for r in p.denied_reasons()]


@dataclass
class OutputPolicy:
    restricted: bool = False
    how: str = ""
    logs: list[dict[str, Any]] = field(default_factory=list)  # nft log statements on the path
    accepts: list[str] = field(default_factory=list)
    entries: int = 0  # ruleset items read (nft JSON items, iptables-save lines)


_TERMINAL = ("drop", "reject")


def _expr_text(expr: list[dict[str, Any]]) -> str:
    return json.dumps(expr, separators=(",", ":"))[:160]


def analyse_nft(doc: dict[str, Any]) -> OutputPolicy:
    """Output-hook chains of an `nft -j list ruleset` document."""
    items = doc.get("nftables", []) if isinstance(doc, dict) else []
    chains = {}
    rules: dict[tuple[str, str, str], list[list[dict[str, Any]]]] = {}
    for item in items:
        if "chain" in item and item["chain"].get("hook") == "output":
            c = item["chain"]
            chains[(c.get("family"), c.get("table"), c.get("name"))] = c
        elif "rule" in item:
            r = item["rule"]
            rules.setdefault((r.get("family"), r.get("table"), r.get("chain")), []).append(
                r.get("expr") or [])
    policy = OutputPolicy(entries=len(items))
    for key, chain in chains.items():
        chain_rules = rules.get(key, [])
        final = chain_rules[-1] if chain_rules else []
        unconditional = bool(final) and all(
            next(iter(e)) in ("counter", "log", *_TERMINAL) for e in final)
        drops = chain.get("policy") == "drop" or (
            unconditional and any(next(iter(e)) in _TERMINAL for e in final))
        if not drops:
            continue
        policy.restricted = True
        policy.how = (f"nftables {key[0]} {key[1]} chain {key[2]} (hook output, "
                      f"policy {chain.get('policy', 'accept')})")
        for expr in chain_rules:
            for e in expr:
                if "log" in e:
                    policy.logs.append(e["log"] or {})
            if any("accept" in e for e in expr):
                policy.accepts.append(_expr_text(expr))
    return policy


def analyse_iptables(save: str) -> OutputPolicy:
    policy = OutputPolicy(entries=len(save.splitlines()))
    for line in save.splitlines():
        if line.startswith(":OUTPUT DROP") or line.startswith(":OUTPUT REJECT"):
            policy.restricted, policy.how = True, "iptables OUTPUT policy DROP"
        elif line.startswith("-A OUTPUT") and "-j NFLOG" in line:
            group = line.split("--nflog-group", 1)[1].split()[0] if "--nflog-group" in line else "0"
            policy.logs.append({"group": int(group)})
        elif line.startswith("-A OUTPUT") and "-j LOG" in line:
            policy.logs.append({})
        elif line.startswith("-A OUTPUT") and "-j ACCEPT" in line:
            policy.accepts.append(line[:160])
    return policy


def _in_netns(command: str, proc: ProcessFacts | None) -> str:
    if proc is None:
        return command
    return f"nsenter --net=/proc/{proc.pid}/ns/net -- sh -c {shlex.quote(command)}"


def read_policy(fs: HostFS, proc: ProcessFacts | None) -> tuple[OutputPolicy, str]:
    """The output policy of a namespace (proc None: the auditing shell's own)."""
    rc, out, err = fs.run(_in_netns("nft -j list ruleset", proc))
    if rc == 0 and out.strip():
        try:
            return analyse_nft(json.loads(out)), "nft -j list ruleset"
        except ValueError:
            raise CouldNotCheck("`nft -j list ruleset` printed no JSON") from None
    rc2, out2, err2 = fs.run(_in_netns("iptables-save 2>/dev/null", proc))
    if rc2 == 0 and out2.strip():
        return analyse_iptables(out2), "iptables-save"
    if rc == 0 and rc2 in (0, 127):
        return OutputPolicy(), "nft -j list ruleset (empty ruleset)"
    why = (err or err2).strip().splitlines()
    raise CouldNotCheck("cannot read the firewall ruleset: "
                        + (why[-1] if why else f"exit {rc}")
                        + " (reading it needs CAP_NET_ADMIN: audit as root)")


def judge(ctx: EgressContext, policy: OutputPolicy, source: str, init_netns: str,
          nf_log_all_netns: str) -> None:
    """Fill ctx.facts and ctx.gaps from the namespace's output policy."""
    devices = [d for d in ctx.processes[0].net_devices if d and d != "lo"]
    ctx.rules = policy.entries
    proxies = {k: v for p in ctx.processes for k, v in p.proxy_env.items()}
    groups = set().union(*(p.nflog_groups for p in ctx.processes))
    ctx.facts.update({"ruleset": source, "interfaces besides lo": ", ".join(devices) or "none",
                      "output restricted by": policy.how or "nothing",
                      "allowed": "; ".join(policy.accepts[:4]) or "-",
                      "log statements": json.dumps(policy.logs)[:200] or "-",
                      "proxy env": ", ".join(proxies) or "none"})
    if not devices and ctx.processes[0].net_devices:
        ctx.facts["isolated"] = "the namespace has only loopback: no egress is possible"
        return
    if not policy.restricted:
        ctx.gaps.append("outbound traffic is not restricted (no output chain with policy "
                        "drop, no iptables OUTPUT DROP)"
                        + ("; a proxy is configured but direct connections still work"
                           if proxies else ""))
        return
    if not policy.logs:
        ctx.gaps.append("dropped outbound traffic is not logged (no log statement on the "
                        "output path)")
        return
    collected = []
    for log in policy.logs:
        group = log.get("group")
        if group is not None:
            if int(group) in groups:
                collected.append(f"NFLOG group {group} (collector bound)")
        elif ctx.netns == init_netns or nf_log_all_netns == "1":
            collected.append("kernel log")
    ctx.facts["log collected by"] = ", ".join(collected) or "nothing"
    if not collected:
        ctx.gaps.append("log statements exist but nothing collects them (NFLOG group without "
                        "a bound collector, or kernel logging from a non-initial network "
                        f"namespace with nf_log_all_netns={nf_log_all_netns})")
