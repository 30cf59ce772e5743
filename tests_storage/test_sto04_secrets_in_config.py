"""STO-04: secrets come from a secrets manager or mounted files, not .env or config files."""

import pytest

from aiaudit.status import could_not_check, not_applicable
from aiaudit.storage.configsecrets import config_facts
from aiaudit.storage.secrets.engine import distinct


@pytest.mark.control("STO-04")
@pytest.mark.resources(state_dir="storage_state_dirs")
def test_no_literal_secrets_in_deployment_config(state_dir, audit, evidence):
    facts = config_facts(audit, state_dir.app, state_dir.path)
    evidence.add("config files read", ", ".join(facts.files) or "none found")
    evidence.add("database tables read", ", ".join(facts.tables[:12]) or "none")
    evidence.read(files=len(facts.files), tables=len(facts.tables), keys=facts.keys)
    evidence.unreadable(facts.unread[:5])
    if facts.own_key_files:
        evidence.add("the app's own key file (its mode: STO-05)", ", ".join(facts.own_key_files))
    if facts.references:
        evidence.add("secret references (fine)", "; ".join(facts.references[:8]))
    # one finding per secret: the same key in .env and in a backup's copy of it is one key
    secrets = distinct(facts.findings)
    places = {f.digest: list(dict.fromkeys(_place(g.location) for g in facts.findings
                                           if g.digest == f.digest)) for f in secrets}
    for i, f in enumerate(secrets[:10]):
        also = places[f.digest][1:]
        evidence.add(f"literal secret {i + 1}",
                     f.line() + (f" (also in {', '.join(also[:4])})" if also else ""))
    assert not secrets, (
        f"{len(secrets)} literal secret(s): "
        + "; ".join(f"{f.rule} in {', '.join(places[f.digest][:3])} ({f.masked})"
                    for f in secrets[:4])
    )
    if facts.unread:
        could_not_check("; ".join(facts.unread[:3]))
    if state_dir.empty and not facts.files:
        could_not_check(state_dir.empty_reason())
    if not facts.files and not facts.tables:
        not_applicable(f"{state_dir.path} was listed and holds no config file "
                       f"({', '.join(facts.looked_for)}) and no config table")


def _place(location: str) -> str:
    """A short name that still tells the live file from its copy in a backup archive."""
    path, _, member = location.partition("!")
    if member:
        return f"{path.rsplit('/', 1)[-1]}!…/{'/'.join(member.split('/')[-2:])}"
    return "/".join(path.split("/")[-2:])
