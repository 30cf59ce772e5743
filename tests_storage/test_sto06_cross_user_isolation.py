"""STO-06: user B cannot list or read a conversation user A had (canary planted as A)."""

import pytest

from aiaudit.status import manual
from aiaudit.storage.isolation import check_isolation
from aiaudit.storage.relay import effective_base


@pytest.mark.control("STO-06")
@pytest.mark.resources(pair="storage_user_pairs")
def test_user_b_cannot_read_user_a_conversation(pair, audit, evidence):
    if audit.profile == "quick":
        manual("the quick profile plants no message (it would make the model generate): "
               "rerun with --profile standard, or have user B try to open a conversation of A")
    base, reached = effective_base(audit, pair.endpoint.url)
    evidence.add("users", f"A = {pair.owner.name}, B = {pair.other.name} "
                 f"(endpoint {pair.endpoint.name})")
    evidence.add("reached", reached)
    facts = check_isolation(audit, pair, base, reached)
    evidence.add("planted", f"{facts.planted} (marker {facts.marker})")
    evidence.add("history API", f"{facts.flavour}: A's conversation {facts.session_id}")
    evidence.add("B lists conversations", f"HTTP {facts.other_list_status}, A's conversation "
                 f"{'listed' if facts.listed_to_other else 'not listed'}")
    evidence.add("B reads A's conversation", f"HTTP {facts.other_read_status}")
    evidence.read(requests_answered=sum(1 for status in (facts.other_list_status,
                                                          facts.other_read_status)
                                        if status is not None))
    assert not facts.leaks, "; ".join(facts.leaks)
