"""EXP-03: endpoints reachable from the network sit behind a proxy that enforces auth and TLS."""

import pytest

from aiaudit.exposure import checks
from aiaudit.exposure.providers import auth_state, proxy_check
from aiaudit.status import could_not_check


@pytest.mark.control("EXP-03")
@pytest.mark.resources(svc="ai_endpoints")
def test_behind_authenticating_tls_proxy(svc, audit, evidence):
    check = proxy_check(audit, svc)
    state = auth_state(audit, svc)
    evidence.add("endpoint", svc.base_url)
    evidence.add("identified as", svc.describe())
    evidence.add("without credentials", "; ".join(check.unauth))
    evidence.add("proxy", check.proxy or "none seen (no proxy Server header)")
    if check.with_credential:
        evidence.add("with credential", check.with_credential)
    if state.tried:
        evidence.add("bypass attempts without credentials", "; ".join(state.tried))
    if state.bypasses:
        evidence.add("bypassed with", "; ".join(state.bypasses))
    if check.tls:
        evidence.add("TLS certificate", checks.describe_tls(check.tls))
    evidence.read(answers=len(check.unauth) + bool(check.with_credential))
    if check.problem:
        could_not_check(f"{svc.name} at {svc.endpoint}: {check.problem}")
    own_auth = {"protected": f"its own auth: {state.refused_by}",
                "unknown": f"its own auth unknown: {state.why_unknown()}"}
    assert check.proxied, (
        f"{svc.name} at {svc.endpoint} is reached directly, not through a reverse proxy "
        f"({own_auth.get(state.state, 'no auth')})"
    )
    assert check.proxy_refused, (
        f"the proxy in front of {svc.endpoint} did not refuse an unauthenticated request "
        f"itself: {check.unauth[0]}"
    )
    assert not state.bypasses, (
        f"the proxy in front of {svc.endpoint} can be bypassed without credentials: "
        f"{state.bypasses[0]}"
    )
    # Plain HTTP fails whatever a credential would show: judged before it is needed.
    assert svc.scheme == "https", f"{svc.endpoint} serves plain HTTP to the network (no TLS)"
    if check.credential_works is None:
        could_not_check("no proxy credential in the audit config ([exposure] proxy_auth_env or "
                        "proxy_auth_file): cannot confirm the API answers through the proxy")
    assert check.credential_works, (
        f"with the configured credential the API behind {svc.endpoint} did not answer: "
        f"{check.with_credential}"
    )
