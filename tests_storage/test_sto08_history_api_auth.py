"""STO-08: history APIs and vector stores do not answer without authentication."""

import pytest

from aiaudit.status import could_not_check, not_applicable
from aiaudit.storage.history_api import probe_history_api
from aiaudit.storage.relay import effective_base


@pytest.mark.control("STO-08")
@pytest.mark.resources(api="storage_history_apis")
def test_history_api_refuses_unauthenticated_reads(api, audit, evidence):
    base, reached = effective_base(audit, api.base_url) if api.loopback_only else (None, "direct")
    facts = probe_history_api(audit.client, api, base)
    evidence.add("service", f"{api.service} ({api.kind}) at {api.base_url}"
                 + (" (listens on loopback only)" if api.loopback_only else ""))
    evidence.add("reached", reached)
    for answer in facts.answers:
        evidence.add(f"GET {answer.path}", answer.detail)
    evidence.read(answers=len(facts.answers) - len(facts.of("unreachable")))
    leaked = facts.of("history")
    assert not leaked, (f"{api.service} hands out history without credentials: "
                        + "; ".join(f"GET {a.path}: {a.detail}" for a in leaked))
    if facts.of("refused"):
        return
    if facts.of("unreachable"):
        could_not_check(f"{api.service}: no history path could be asked: "
                        + "; ".join(f"{a.path}: {a.detail}" for a in facts.of("unreachable")))
    not_applicable(f"{api.service} has none of the known history paths "
                   f"({', '.join(a.path for a in facts.answers)} answered 404 or non-JSON)")
