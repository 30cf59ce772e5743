"""EXP-04: the host firewall drops unexpected inbound traffic by default.

Cases: the host's inbound policy (INPUT chain, nftables input hook, ufw), and each AI service
Docker publishes: Docker forwards that traffic past INPUT and ufw, so the DOCKER-USER chain
decides whether the network reaches it.
"""

import pytest

from aiaudit.exposure.dockercases import DockerFilter
from aiaudit.exposure.providers import host_ai_ports
from aiaudit.status import could_not_check


def _docker_case(fw: DockerFilter, evidence) -> None:
    pub = fw.item.pub
    evidence.add("service", f"{fw.item.service} ({fw.item.identified_by})")
    evidence.add("container", f"{pub.container} ({pub.image})")
    evidence.add("published", pub.binding)
    evidence.add("DOCKER-USER rules read", str(fw.verdict.rules_read))
    evidence.add("deciding rule", fw.verdict.rule)
    evidence.read(docker_publications=1, docker_user_rules=fw.verdict.rules_read)
    if not fw.rules_read:
        could_not_check(f"the Docker host's iptables rules could not be read, so the "
                        f"DOCKER-USER chain in front of {pub.binding} is unknown")
    assert fw.verdict.dropped, (
        f"{fw.item.service} in container {pub.container} ({pub.binding}) is forwarded by "
        f"Docker past the INPUT chain and ufw, and DOCKER-USER does not drop it: "
        f"{fw.verdict.rule}"
    )


@pytest.mark.control("EXP-04")
@pytest.mark.resources(fw="firewall")
def test_inbound_default_deny_and_ai_ports_closed(fw, audit, evidence):
    if isinstance(fw, DockerFilter):
        _docker_case(fw, evidence)
        return
    evidence.add("rule sets read", ", ".join(fw.tools) or "none")
    evidence.add("default deny from", "; ".join(fw.sources) or "nothing")
    evidence.add("ports accepted from the network",
                 ", ".join(str(p) for p in sorted(fw.open_ports)) or "none")
    if fw.accept_all:
        evidence.add("unconditional accepts", "; ".join(fw.accept_all))
    if fw.notes:
        evidence.add("notes", "; ".join(fw.notes))
    evidence.read(rule_sets=len(fw.tools))
    if fw.denied and not fw.default_deny:
        could_not_check("the audit account may not read the firewall: " + "; ".join(fw.denied)
                        + " (reading rule sets needs CAP_NET_ADMIN: audit as root)")
    assert fw.default_deny and not fw.accept_all, (
        "inbound traffic is accepted by default: no nftables/iptables INPUT policy drop and "
        "no enabled ufw with a deny default"
        + (f" ({'; '.join(fw.accept_all)})" if fw.accept_all else "")
    )
    ai_ports = host_ai_ports(audit)
    admitted = {p: ai_ports[p] for p in sorted(fw.open_ports) if p in ai_ports}
    assert not admitted, (
        "the firewall admits AI service ports from the network: "
        + ", ".join(f"{p} ({name})" for p, name in admitted.items())
    )
