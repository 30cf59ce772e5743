"""EXP-05: unexpected API calls are logged and alerted (a marked request must show up)."""

import pytest

from aiaudit.context import NoHostAccess
from aiaudit.exposure.providers import marker_results
from aiaudit.status import could_not_check, manual


@pytest.mark.control("EXP-05")
@pytest.mark.resources(svc="ai_endpoints")
def test_marked_request_reaches_the_log(svc, audit, evidence):
    logs = [*audit.config.access_logs, *audit.config.exposure.alert_sinks]
    evidence.add("configured logs / sinks", "; ".join(logs) or "none")
    try:
        result = marker_results(audit)[svc.case_id]
    except NoHostAccess:  # not even the endpoints could be listed
        manual(f"no host access: look for a request to {svc.base_url} carrying "
               "`aiaudit-marker` in your access log or alerting")
    evidence.add("marked request", result.request)
    evidence.add("waited", f"{result.waited}s")
    if result.problem and not result.found:
        could_not_check(f"{svc.name} at {svc.endpoint}: {result.problem}")
    if not result.host_access:
        manual(f"no host access to read a log here: look in your access log or alerting for "
               f"the marked request {result.request.split(' -> ')[0]} sent to {svc.base_url} "
               f"at {result.sent_at}")
    assert logs, ("no access log or alert sink is configured ([paths] access_logs, [exposure] "
                  "alert_sinks): unexpected API calls go unnoticed")
    assert result.logs, f"none of the configured logs exists on the target: {', '.join(logs)}"
    evidence.read(log_files=len(result.logs), markers_found=int(bool(result.found)))
    assert result.found, (
        f"the marked request to {svc.endpoint} did not appear in {', '.join(result.logs)} "
        f"within {result.waited}s"
    )
