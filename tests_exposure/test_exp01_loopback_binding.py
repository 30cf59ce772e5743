"""EXP-01: LLM and agent APIs listen on loopback only.

Cases: each AI service's listening socket on the host (any port), each service's configured
bind (so that a service that is down at audit time still counts) and, for network-only
targets, each AI service that answers on the target's address.
"""

import pytest


@pytest.mark.control("EXP-01")
@pytest.mark.resources(binding="exposure_bindings")
def test_ai_service_listens_on_loopback_only(binding, evidence):
    for key, value in binding.evidence.items():
        evidence.add(key, value)
    evidence.read(**binding.read)
    assert binding.ok, binding.problem
