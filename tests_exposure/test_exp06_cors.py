"""EXP-06: AI APIs refuse cross-origin requests from arbitrary web pages."""

import pytest

from aiaudit.exposure import checks, providers
from aiaudit.exposure.providers import auth_state
from aiaudit.status import could_not_check


@pytest.mark.control("EXP-06")
@pytest.mark.resources(svc="ai_endpoints")
def test_no_arbitrary_origin(svc, audit, evidence):
    cors = providers.cors(audit, svc)
    state = auth_state(audit, svc)
    evidence.add("endpoint", f"{svc.base_url}{cors.path}")
    evidence.add("Origin sent", checks.probes.CORS_ORIGIN)
    evidence.add("preflight answer", cors.preflight)
    evidence.add("GET answer", cors.simple)
    evidence.read(answers=sum(1 for a in (cors.preflight, cors.simple)
                              if a.get("status", "").isdigit() and a["status"] != "0"))
    if cors.problem:
        could_not_check(f"{svc.name} at {svc.endpoint}: {cors.problem}")
    problems = cors.verdicts(state.reachable_unauthenticated)
    assert not problems, f"{svc.name} at {svc.endpoint}: {'; '.join(problems)}"
