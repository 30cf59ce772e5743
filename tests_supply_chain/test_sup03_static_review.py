"""SUP-03: every file of every skill passes static security review."""

import pytest

from aiaudit.status import could_not_check
from aiaudit.supply_chain.providers import skill_findings
from aiaudit.supply_chain.review import apply_allowlist, failing
from aiaudit.supply_chain.settings import settings_for


@pytest.mark.control("SUP-03")
@pytest.mark.resources(skill="skills")
def test_skill_code_passes_static_review(skill, audit, evidence):
    settings = settings_for(audit)
    findings, accepted = apply_allowlist(skill, skill_findings(audit, skill, "SUP-03"),
                                         settings.allowlist)
    bad = failing(findings, "high")
    read = [f for f in skill.own_files() if f.kind == "file" and f.data is not None]
    evidence.add("files reviewed", len(read))
    evidence.read(files=len(read), bytes=sum(len(f.data or b"") for f in read))
    evidence.unreadable(skill.denied)
    evidence.add("findings", "\n".join(f.describe() for f in findings[:12]) or "none")
    if accepted:
        evidence.add("accepted (allowlist)", "\n".join(f.describe() for f in accepted[:6]))
    assert not bad, (f"{len(bad)} high/critical finding(s): "
                     + "; ".join(f.describe() for f in bad[:3]))
    if skill.denied:
        could_not_check("; ".join(skill.denied[:3]))
