"""EXP-07: management endpoints are not reachable without authentication.

Judged from identity plus auth state; the management endpoints themselves are never called.
"""

import pytest

from aiaudit.exposure.providers import auth_state
from aiaudit.status import could_not_check, manual, not_applicable


@pytest.mark.control("EXP-07")
@pytest.mark.resources(svc="ai_endpoints")
def test_management_not_reachable_unauthenticated(svc, audit, evidence):
    state = auth_state(audit, svc)
    service = svc.service
    evidence.add("identified as", svc.describe())
    evidence.add("auth state", state.state + (f" ({state.refused_by})" if state.refused_by
                                               else ""))
    if service and service.management:
        evidence.add("management endpoints (never called)", "; ".join(service.management))
    if state.generation_line:
        evidence.add("generation route without credentials", state.generation_line)
    evidence.read(answers=state.answered)
    if state.state == "unknown" and not state.transport:
        manual(f"{svc.endpoint} hands out no data without credentials "
               f"({state.why_unknown()}): check by hand whether its management API needs a login")
    if state.state == "unknown":
        could_not_check(f"auth state of {svc.endpoint} unknown: {state.why_unknown()}")
    if not state.reachable_unauthenticated and state.generation == "unread" and (
            service is None or service.management):
        could_not_check(f"{svc.endpoint} refuses its reads, but its generation route could "
                        f"not be read ({state.generation_line}): whether its management API "
                        "asks for credentials is not shown")
    if not state.reachable_unauthenticated and state.generation in ("reached", "open") and (
            service is None or service.management):
        manual(f"{svc.endpoint} refuses its reads, but not its generation route "
               f"({state.generation_line}): auth that covers some routes only may leave "
               "the management API open too; check by hand")
    if not state.reachable_unauthenticated:
        return  # everything asks for credentials first, management included
    if svc.identity_unread:
        could_not_check(f"{svc.name} at {svc.endpoint} answers without credentials, but its "
                        f"{svc.identity_unread}: whether it has a management API is not known")
    if service is None:
        manual(f"{svc.name} at {svc.endpoint} answers without credentials but is not "
               "identified: whether it has a management API, and whether that is open too, "
               "needs a look by hand")
    if not service.management:
        not_applicable(f"{svc.name} has no management API in the service catalog")
    raise AssertionError(
        f"{service.name} at {svc.endpoint} answers without credentials, so its management "
        f"API is open too: {', '.join(service.management[:3])}"
    )
