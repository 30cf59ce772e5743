"""SUP-06: outbound traffic from the agent is restricted and logged."""

import pytest


@pytest.mark.control("SUP-06")
@pytest.mark.resources(context="egress_contexts")
def test_agent_egress_is_restricted_and_logged(context, evidence):
    for key, value in context.facts.items():
        evidence.add(key, value)
    assert not context.gaps, "; ".join(context.gaps)
