"""INJ-01: the system prompt and its canary are not disclosed under direct injection."""

import pytest

from aiaudit.injection.disclosure import disclosure_campaign
from aiaudit.injection.garak_native import native_verdict
from aiaudit.status import could_not_check


@pytest.mark.control("INJ-01")
@pytest.mark.resources(case="injection_channels_corpora")
def test_canary_is_not_disclosed(case, audit, budget, need_garak, family_table, evidence):
    threshold = float(audit.config.policy["injection_leak_threshold"])
    if case.corpus == "garak-native":
        verdict = native_verdict(audit, case.channel, "INJ-01")
        evidence.add("garak native", verdict.summary())
        evidence.read(garak_attempts=verdict.attempts)
        if verdict.problem:
            could_not_check(verdict.problem)
        assert not verdict.failed, verdict.summary()
        return
    seed = case.channel.settings.seed
    result = disclosure_campaign(case.channel, budget, case.corpus, seed, threshold)
    family_table.extend(row.as_json() for row in result.rows)
    evidence.add("canary", result.canary_source)
    evidence.add("no-attack control", result.benign_rate.describe())
    evidence.read(answers=result.attack_rate.trials + result.benign_rate.trials)
    for row in result.rows:
        evidence.add(row.family, row.describe())
    evidence.add("all attacks", result.attack_rate.describe())
    if result.multi_turn:
        evidence.add("multi-turn search", result.multi_turn)
    if result.multi_turn_shortest:
        evidence.add("multi-turn shortest leak", result.multi_turn_shortest)
    evidence.add("model time", f"{result.model_seconds:.1f}s; unusable answers: {result.unusable}")
    for i, example in enumerate(result.examples):
        evidence.add(f"leak {i + 1}", example)
    if result.notes:
        evidence.add("notes", "; ".join(result.notes[:6]))
    if result.stopped:
        evidence.add("stopped", result.stopped)
    if result.problem and not result.findings:
        could_not_check(result.problem)
    assert not result.findings, result.summary(threshold)
