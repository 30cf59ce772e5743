"""INJ-02: user-facing channels strip or reject system-like instructions."""

import pytest

from aiaudit.injection.markers import system_marker_probes
from aiaudit.status import could_not_check


@pytest.mark.control("INJ-02")
@pytest.mark.resources(case="injection_channels")
def test_system_like_input_is_stripped_or_rejected(case, budget, evidence):
    result = system_marker_probes(case.channel, budget)
    if result.problem:
        could_not_check(result.problem)
    evidence.add("echo priming", repr(result.opening))
    for outcome in result.outcomes:
        evidence.add(outcome.name, f"{outcome.verdict}: {outcome.detail}")
    evidence.read(answers=sum(1 for o in result.outcomes if o.verdict != "no-answer"))
    assert not result.failures, "system-like input reached the model: " + "; ".join(
        f"{o.name}: {o.detail}" for o in result.failures)
    if result.unclear:
        could_not_check("no usable signal for " + "; ".join(
            f"{o.name} ({o.detail})" for o in result.unclear))
