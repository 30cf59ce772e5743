"""SUP-06: outbound traffic from the agent is restricted and logged."""

import pytest

from aiaudit.status import could_not_check


@pytest.mark.control("SUP-06")
@pytest.mark.resources(context="egress_contexts")
def test_agent_egress_is_restricted_and_logged(context, evidence):
    for key, value in context.facts.items():
        evidence.add(key, value)
    evidence.read(processes=len(context.processes), ruleset_entries=context.rules)
    evidence.unreadable(context.unread)
    assert not context.gaps, "; ".join(context.gaps)
    if context.unread:
        could_not_check("; ".join(context.unread[:3]))
