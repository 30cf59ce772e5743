"""STO-06: user B cannot list or read a conversation user A had (canary planted as A), and
no account reads another's chats in a store by the app's own rules and settings."""

import pytest

from aiaudit.status import manual, not_applicable
from aiaudit.storage.chat_access import store_access
from aiaudit.storage.isolation import UserPair, check_isolation
from aiaudit.storage.relay import effective_base


@pytest.mark.control("STO-06")
@pytest.mark.resources(pair="storage_user_pairs")
def test_user_b_cannot_read_user_a_conversation(pair, audit, evidence):
    if not isinstance(pair, UserPair):
        _judge_store(pair, audit, evidence)
        return
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


def _judge_store(store, audit, evidence) -> None:
    facts = store_access(audit, store)
    a = facts.access
    evidence.add("store", store.path)
    evidence.add("accounts", ", ".join(f"{a.name(u)} ({r})" for u, r in a.roles.items())
                 or "none")
    evidence.add("chats by owner", ", ".join(f"{a.name(o)}: {n}" for o, n in a.chats.items())
                 or "none")
    evidence.add("settings", f"{a.admin_chat_access.describe()}; {a.admin_export.describe()}")
    evidence.add("environment", facts.env_source or "no [deployment] unit runs this store: "
                 "Open WebUI's defaults apply")
    evidence.add("read grants on chats", "; ".join(" ".join(g) for g in a.grants) or "none")
    evidence.read(accounts=len(a.roles), chats=sum(a.chats.values()), grants=len(a.grants))
    leaks = [f"{' '.join(g[:2])} is readable by anyone without an account (an `anyone` "
             "grant)" for g in a.open_grants()]
    for admin, owners in a.admin_reads().items():
        n = sum(a.chats[o] for o in owners)
        leaks.append(f"admin {a.name(admin)} reads the {n} chat(s) of "
                     f"{', '.join(a.name(o) for o in owners)} ("
                     + "; ".join(s.describe() for s in a.admin_settings()) + ")")
    assert not leaks, "; ".join(leaks)
    if len(a.readers) < 2 and not a.grants:
        not_applicable(f"{store.path} read: {len(a.readers)} account that can sign in "
                       f"({len(a.roles)} in all), no grant: no other user to read its chats")
