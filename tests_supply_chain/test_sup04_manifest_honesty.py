"""SUP-04: manifests are honest (no hidden instructions; declared equals used)."""

import pytest

from aiaudit.status import could_not_check
from aiaudit.supply_chain.providers import skill_findings
from aiaudit.supply_chain.review import apply_allowlist, failing
from aiaudit.supply_chain.settings import settings_for


@pytest.mark.control("SUP-04")
@pytest.mark.resources(skill="skills")
def test_skill_manifest_is_honest(skill, audit, evidence):
    findings, accepted = apply_allowlist(skill, skill_findings(audit, skill, "SUP-04"),
                                         settings_for(audit).allowlist)
    bad = failing(findings, "medium")
    evidence.add("manifest", f"{skill.manifest.syntax}; declares env "
                 f"{sorted(skill.manifest.declared_env()) or '-'}, bins "
                 f"{sorted(skill.manifest.declared_bins()) or '-'}")
    evidence.add("findings", "\n".join(f.describe() for f in findings[:12]) or "none")
    if accepted:
        evidence.add("accepted (allowlist)", "\n".join(f.describe() for f in accepted[:6]))
    evidence.read(manifests=int(skill.file("SKILL.md") is not None),
                  files=sum(1 for f in skill.own_files() if f.data is not None))
    evidence.unreadable(skill.denied)
    assert not bad, f"{len(bad)} finding(s): " + "; ".join(f.describe() for f in bad[:3])
    if skill.denied:
        could_not_check("; ".join(skill.denied[:3]))
