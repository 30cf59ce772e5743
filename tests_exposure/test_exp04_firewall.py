"""EXP-04: the host firewall drops unexpected inbound traffic by default."""

import pytest

from aiaudit.exposure.providers import host_ai_ports
from aiaudit.status import could_not_check


@pytest.mark.control("EXP-04")
@pytest.mark.resources(fw="firewall")
def test_inbound_default_deny_and_ai_ports_closed(fw, audit, evidence):
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
