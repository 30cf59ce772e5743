"""STO-05: state dirs and files are private to the service user."""

import pytest

from aiaudit.storage.permissions import permission_facts


@pytest.mark.control("STO-05")
@pytest.mark.resources(state_dir="storage_state_dirs")
def test_state_dir_is_private_to_the_service_user(state_dir, audit, evidence):
    facts = permission_facts(audit, state_dir.path)
    evidence.add("state dir", f"{state_dir.path} ({state_dir.app}, found by {state_dir.found_by})")
    evidence.add("service user", f"{facts.service_user} ({facts.user_source})")
    evidence.add("entries checked", f"{facts.entries}" + (" (capped)" if facts.truncated else ""))
    problems = facts.problems
    for i, line in enumerate(problems[:10]):
        evidence.add(f"problem {i + 1}", line)
    assert not problems, f"{len(problems)} problem(s): " + "; ".join(problems[:3])
