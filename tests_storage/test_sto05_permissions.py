"""STO-05: state dirs and files are private to the service user."""

import pytest

from aiaudit.hostfs import HostFS
from aiaudit.status import could_not_check, manual
from aiaudit.storage.backups import exposed_backups
from aiaudit.storage.configsecrets import config_files
from aiaudit.storage.permissions import permission_facts


@pytest.mark.control("STO-05")
@pytest.mark.resources(state_dir="storage_state_dirs")
def test_state_dir_is_private_to_the_service_user(state_dir, audit, evidence):
    evidence.add("state dir", f"{state_dir.path} ({state_dir.app}, found by {state_dir.found_by})")
    if state_dir.database:
        manual(f"{state_dir.path} is a database on a server, not files: who may connect and "
               "read it is the server's (pg_hba.conf, roles with CONNECT and SELECT on its "
               "tables); its data dir's modes are the server's (STO-01 names it)")
    if state_dir.empty and not config_files(HostFS.for_context(audit), "", state_dir.path):
        could_not_check(state_dir.empty_reason())
    facts = permission_facts(audit, state_dir.path, state_dir.app)
    evidence.add("service user", f"{facts.service_user} ({facts.user_source})")
    evidence.add("entries checked", f"{facts.entries}" + (" (capped)" if facts.truncated else ""))
    evidence.read(entries=facts.entries)
    if facts.package_dir:
        evidence.add("judged", f"{state_dir.app}'s store files in its pip package dir and who "
                     "can reach them (the package's code and dirs are public by design)")
    if facts.outside:
        evidence.add(f"{state_dir.app} files outside the state dir",
                     ", ".join(f"{e.path} {e.mode:04o}" for e in facts.outside[:5]))
    evidence.unreadable(facts.denied[:5])
    if facts.shielded:
        evidence.add("loose modes below a private dir (unreachable to others)",
                     f"{len(facts.shielded)}: " + ", ".join(
                         f"{e.path.rsplit('/', 1)[-1]} {e.mode:04o}" for e in facts.shielded[:6]))
    if facts.own_links:
        evidence.add(f"links {state_dir.app} makes itself", f"{len(facts.own_links)}, e.g. "
                     f"{facts.own_links[0][0].path} -> {facts.own_links[0][1]}")
    problems = facts.problems + exposed_backups(audit, state_dir.path)
    for i, line in enumerate(problems[:10]):
        evidence.add(f"problem {i + 1}", line)
    assert not problems, f"{len(problems)} problem(s): " + "; ".join(problems[:3])
    if facts.denied:
        could_not_check(f"{len(facts.denied)} dir(s) below {state_dir.path} could not be "
                        "listed: " + "; ".join(facts.denied[:3]))
