"""SUP-02: installed files match the recorded fingerprint and the version is pinned."""

import pytest

from aiaudit.status import could_not_check
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
    evidence.read(fingerprints=len(result.checks),
                  files=sum(1 for f in skill.files if f.data is not None))
    evidence.unreadable(skill.denied)
    if skill.denied:  # a digest over part of the files says nothing
        could_not_check("; ".join(skill.denied[:3]))
    assert not result.problems, "; ".join(result.problems)
