"""SUP-02: installed files match the recorded fingerprint and the version is pinned."""

import pytest

from aiaudit.supply_chain.provenance import integrity
from aiaudit.supply_chain.settings import settings_for


@pytest.mark.control("SUP-02")
@pytest.mark.resources(skill="skills")
def test_skill_matches_its_recorded_fingerprint(skill, audit, evidence):
    result = integrity(skill, settings_for(audit))
    evidence.add("path", skill.path)
    for recipe, recorded, now in result.checks:
        evidence.add(recipe, f"recorded {recorded} / recomputed {now}")
    if result.notes:
        evidence.add("notes", "; ".join(result.notes))
    assert not result.problems, "; ".join(result.problems)
