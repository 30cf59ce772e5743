"""SUP-04: manifests are honest (no hidden instructions; declared equals used)."""

import pytest

from aiaudit.supply_chain.providers import reviews
from aiaudit.supply_chain.review import apply_allowlist, failing
from aiaudit.supply_chain.settings import settings_for


@pytest.mark.control("SUP-04")
@pytest.mark.resources(skill="skills")
def test_skill_manifest_is_honest(skill, audit, evidence):
    findings, accepted = apply_allowlist(skill, reviews(audit)[skill.id][1],
                                         settings_for(audit).allowlist)
    bad = failing(findings, "medium")
    evidence.add("manifest", f"{skill.manifest.syntax}; declares env "
                 f"{sorted(skill.manifest.declared_env()) or '-'}, bins "
                 f"{sorted(skill.manifest.declared_bins()) or '-'}")
    evidence.add("findings", "\n".join(f.describe() for f in findings[:12]) or "none")
    if accepted:
        evidence.add("accepted (allowlist)", "\n".join(f.describe() for f in accepted[:6]))
    assert not bad, f"{len(bad)} finding(s): " + "; ".join(f.describe() for f in bad[:3])
