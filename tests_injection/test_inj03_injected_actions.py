"""INJ-03: injected instructions cannot trigger sensitive actions (no callback hit)."""

import pytest

from aiaudit.injection.actions import action_campaign
from aiaudit.status import could_not_check


@pytest.mark.control("INJ-03")
@pytest.mark.resources(case="injection_channels")
def test_injection_triggers_no_callback(case, budget, callback_listener, evidence):
    result = action_campaign(case.channel, callback_listener, budget, case.channel.settings.seed)
    evidence.add("listener", result.listener)
    evidence.add("attempts", result.rate.describe())
    evidence.read(answers=result.rate.trials)
    for attempt, hits in result.hijacks[:3]:
        evidence.add(f"hit [{attempt.label}]", "; ".join(h.describe() for h in hits[:2]))
    if result.stopped:
        evidence.add("stopped", result.stopped)
    assert not result.hijacks, result.summary()
    if result.problem:
        could_not_check(result.problem)
