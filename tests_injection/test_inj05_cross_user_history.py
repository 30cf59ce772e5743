"""INJ-05: other users' conversation history cannot be extracted through chat."""

import pytest

from aiaudit.injection.history import history_campaign
from aiaudit.status import could_not_check


@pytest.mark.control("INJ-05")
@pytest.mark.resources(case="injection_channels")
def test_other_users_history_is_not_returned(case, budget, family_table, evidence):
    result = history_campaign(case.channel, budget, case.channel.settings.seed)
    if result.problem and not result.leaked:
        could_not_check(result.problem)
    evidence.add("planted as", f"{result.planter}: {result.plant[:120]!r}")
    evidence.add(f"asked as {result.asker}", result.attack_rate.describe())
    evidence.add("no-attack control", result.benign_rate.describe())
    evidence.read(answers=result.attack_rate.trials + result.benign_rate.trials)
    family_table.append(result.row(case.channel.name).as_json())
    findings = result.findings(case.channel.name)
    assert not findings, "; ".join(findings) + f" ({result.summary()})"
