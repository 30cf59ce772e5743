"""EXP-02: no AI API answers an unauthenticated request (reads, bypasses, full: completion)."""

import pytest

from aiaudit.exposure.providers import auth_state
from aiaudit.status import could_not_check, manual


@pytest.mark.control("EXP-02")
@pytest.mark.resources(svc="ai_endpoints")
def test_no_unauthenticated_read(svc, audit, evidence):
    state = auth_state(audit, svc)
    evidence.add("endpoint", svc.base_url)
    evidence.add("identified as", svc.describe())
    evidence.add("reads without credentials", "; ".join(state.reads))
    if state.refused_by:
        evidence.add("refused by", state.refused_by)
    if state.tried:
        evidence.add("bypass attempts", "; ".join(state.tried))
    if state.leaks:
        evidence.add("listed in a refusal", "; ".join(state.leaks))
    if state.completion:
        evidence.add("completion (max_tokens=1)", state.completion)
    if state.generation_line and not state.completion:
        evidence.add("generation route without credentials (nothing generated)",
                     state.generation_line)
    evidence.read(answers=state.answered)
    assert not state.unconfirmed, (
        f"unauthenticated HTTP service, identity unconfirmed: {svc.endpoint} answers without "
        f"credentials: {state.open_line}"
    )
    assert state.state != "open", (
        f"{svc.name} at {svc.endpoint} answers without credentials: {state.open_line}"
    )
    assert state.state != "bypass", (
        f"{svc.name} at {svc.endpoint} refuses a plain read but answers a bypass: "
        f"{state.bypasses[0]}"
    )
    assert not state.leaks, (
        f"{svc.name} at {svc.endpoint} refuses without credentials, but its refusal hands "
        f"out its model list: {state.leaks[0]}"
    )
    assert not state.completion or " -> 2" not in state.completion, (
        f"{svc.name} at {svc.endpoint} ran a completion without credentials: {state.completion}"
    )
    assert state.generation != "open", (
        f"{svc.name} at {svc.endpoint} refuses its reads, but its generation route takes a "
        f"POST without credentials: {state.generation_line}"
    )
    if state.generation == "reached":
        how = ("its one-token POST answered without a refusal" if state.completion else
               "a POST without a body reached the app without a refusal, but what answered "
               "may judge the body before it asks for a key: run --profile full (one "
               "max_tokens=1 completion) or check by hand")
        manual(f"{svc.name} at {svc.endpoint} refuses its reads, but its generation route "
               f"is not shown to: {state.generation_line}; {how}")
    if state.generation == "unread":
        could_not_check(f"{svc.name} at {svc.endpoint} refuses its reads, but its "
                        f"generation route could not be read: {state.generation_line}")
    if state.state == "unknown" and not state.transport:
        names = svc.tls_names()
        by_name = (f"; its TLS certificate is for {', '.join(names[:3])}: a server that "
                   "picks its site by name (SNI, Host) may show its API only there, so audit "
                   "that name too" if names else "")
        manual(f"{svc.name} at {svc.endpoint} answers but hands out no data without "
               f"credentials ({state.why_unknown()}): check by hand whether it needs a "
               f"login{by_name}")
    if state.state == "unknown":
        could_not_check(f"{svc.name} at {svc.endpoint}: {state.why_unknown()}")
