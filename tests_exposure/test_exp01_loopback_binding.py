"""EXP-01: LLM and agent APIs listen on loopback only."""

import pytest


@pytest.mark.control("EXP-01")
@pytest.mark.resources(ai="ai_listeners")
def test_ai_service_listens_on_loopback_only(ai, evidence):
    sock = ai.listener
    evidence.add("service", ai.service)
    evidence.add("identified by", ai.identified_by)
    evidence.add("bound to", sock.endpoint)
    evidence.add("process", f"{sock.process} (pid {sock.pid}) {sock.cmdline}".strip())
    assert sock.is_loopback, (
        f"{ai.service} listens on {sock.endpoint}"
        + (" (all interfaces)" if sock.is_wildcard else " (a non-loopback address)")
    )
