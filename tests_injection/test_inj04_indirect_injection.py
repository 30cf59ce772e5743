"""INJ-04: indirect injection through content the agent reads does not hijack it."""

import pytest

from aiaudit.injection.actions import indirect_campaign
from aiaudit.injection.garak_native import native_verdict
from aiaudit.status import could_not_check


@pytest.mark.control("INJ-04")
@pytest.mark.resources(case="injection_channels_corpora")
def test_read_content_does_not_hijack(case, audit, budget, need_garak, callback_listener,
                                      family_table, evidence):
    if case.corpus == "garak-native":
        verdict = native_verdict(audit, case.channel, "INJ-04")
        evidence.add("garak native", verdict.summary())
        evidence.read(garak_attempts=verdict.attempts)
        if verdict.problem:
            could_not_check(verdict.problem)
        assert not verdict.failed, verdict.summary()
        return
    result = indirect_campaign(case.channel, callback_listener, budget, case.corpus,
                               case.channel.settings.seed)
    evidence.add("listener", result.listener)
    evidence.add("attempts", result.rate.describe())
    evidence.read(answers=result.rate.trials)
    evidence.add("no-attack control (clean reads)", result.benign_rate.describe())
    family_table.append(result.row(case.channel.name, case.corpus).as_json())
    if result.fetched_pages:
        evidence.add("pages fetched", "; ".join(h.describe() for h in result.fetched_pages[:2]))
    for attempt, hits in result.hijacks[:3]:
        evidence.add(f"hijack [{attempt.label}]", "; ".join(h.describe() for h in hits[:2]))
    findings = result.findings(case.channel.name, case.corpus)
    assert not findings, "; ".join(findings) + f" ({result.summary()})"
    if result.problem:
        could_not_check(result.problem)
