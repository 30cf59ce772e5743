"""SUP-05: skills execute in a sandbox (configuration and running processes)."""

import pytest

from aiaudit.status import could_not_check


@pytest.mark.control("SUP-05")
@pytest.mark.resources(runtime="skill_runtimes")
def test_skills_execute_in_a_sandbox(runtime, evidence):
    for key, value in runtime.facts.items():
        evidence.add(key, value)
    evidence.read(**runtime.read)
    evidence.unreadable(runtime.unread)
    assert not runtime.gaps, "; ".join(runtime.gaps)
    if runtime.unread:
        could_not_check("; ".join(runtime.unread[:3]))
