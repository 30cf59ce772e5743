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


@pytest.mark.control("EXP-01")
@pytest.mark.resources(intent="bind_intents")
def test_configured_bind_is_loopback(intent, evidence):
    """The configuration, so that a nightly audit catches a service that is down right now."""
    evidence.add("service", intent.service)
    evidence.add("configured in", intent.source)
    evidence.add("configured bind", intent.bind)
    evidence.add("auth", intent.auth)
    evidence.add("setting", intent.detail)
    assert intent.loopback_only, (
        f"{intent.service} is configured to listen on {intent.bind} ({intent.detail}; auth: "
        f"{intent.auth}) in {intent.source}"
    )


@pytest.mark.control("EXP-01")
@pytest.mark.resources(svc="network_bindings")
def test_not_reachable_from_the_network(svc, evidence):
    """Network-only targets: an AI API that answers on the target's address is not bound to
    loopback, unless what answers is the authenticating proxy."""
    evidence.add("reachable at", svc.base_url)
    evidence.add("identified as", svc.describe())
    assert svc.proxy and svc.auth_wall, (
        f"{svc.name} answers on {svc.endpoint} from the auditor's position, so it is not "
        "bound to loopback"
    )
