"""SUP-01: every skill has a provenance record naming an allowlisted registry."""

import pytest

from aiaudit.status import could_not_check
from aiaudit.supply_chain.provenance import provenance
from aiaudit.supply_chain.settings import settings_for


@pytest.mark.control("SUP-01")
@pytest.mark.resources(skill="skills")
def test_skill_comes_from_an_allowlisted_registry(skill, audit, evidence):
    prov = provenance(skill, settings_for(audit))
    evidence.add("path", skill.path)
    evidence.add("source", prov.source)
    evidence.add("registry", prov.registry or "-")
    evidence.add("owner", prov.owner or "-")
    evidence.add("records", ", ".join(prov.record_paths) or "none")
    if prov.notes:
        evidence.add("notes", "; ".join(prov.notes))
    evidence.read(records=len(prov.record_paths),
                  files=sum(1 for f in skill.files if f.data is not None))
    evidence.unreadable(skill.denied)
    if skill.denied:  # an unreadable origin.json would look like a manual drop-in
        could_not_check("; ".join(skill.denied[:3]))
    assert not prov.problems, "; ".join(prov.problems)
