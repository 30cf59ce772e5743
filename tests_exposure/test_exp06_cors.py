"""EXP-06: AI APIs refuse cross-origin requests from arbitrary web pages."""

import pytest

from aiaudit.exposure import checks
from aiaudit.exposure.providers import auth_state


@pytest.mark.control("EXP-06")
@pytest.mark.resources(svc="ai_endpoints")
def test_no_arbitrary_origin(svc, audit, evidence):
    cors = audit.cached(f"exposure:cors:{svc.case_id}",
                        lambda: checks.cors_check(audit.client, svc))
    state = auth_state(audit, svc)
    evidence.add("endpoint", f"{svc.base_url}{cors.path}")
    evidence.add("Origin sent", checks.probes.CORS_ORIGIN)
    evidence.add("preflight answer", cors.preflight)
    evidence.add("GET answer", cors.simple)
    problems = cors.verdicts(state.reachable_unauthenticated)
    assert not problems, f"{svc.name} at {svc.endpoint}: {'; '.join(problems)}"
