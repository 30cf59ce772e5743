"""review_all: the forked workers give exactly the findings of the in-process review, also
when the review is started ahead (start_review_all) and collected later."""

from __future__ import annotations

import shutil

from aiaudit.hostfs import HostFS
from aiaudit.lab.parts.supply_chain import materialize_corpus
from aiaudit.supply_chain.batch import review_all, start_review_all
from aiaudit.supply_chain.discovery import discover
from aiaudit.supply_chain.settings import Settings


def _skills(tmp_path):
    home = materialize_corpus(tmp_path / "corpus")
    roots = [p.parent for p in home.rglob("SKILL.md") if ".hub" not in str(p)]
    skills_dir = home / ".agents" / "skills"
    skills_dir.mkdir(parents=True, exist_ok=True)
    for i in range(220 - len(roots)):  # enough skills for two workers
        src = roots[i % len(roots)]
        shutil.copytree(src, skills_dir / f"{src.name}-copy{i:03d}", symlinks=True)
    skills = discover(HostFS("local"), Settings(home_dirs=(str(home),))).skills
    assert len(skills) >= 200
    return skills


def test_workers_and_serial_review_agree(tmp_path):
    skills = _skills(tmp_path)
    serial = review_all(skills, workers=1)
    forked = review_all(skills, workers=2)
    assert forked == serial
    assert sum(len(a) + len(b) for a, b in serial.values()) > 200  # real findings compared


def test_a_started_review_is_the_review_of_the_skills_it_was_given(tmp_path):
    """The audit starts the review after collection and collects it in the first SUP-03
    case: the workers are forked at the start and hold the skills from then on."""
    skills = _skills(tmp_path)
    given = list(skills)
    pending = start_review_all(skills, workers=2)
    skills.clear()  # what the caller does meanwhile does not reach the workers
    result = pending.result()
    assert result == review_all(given, workers=1)
    assert len(result) == len(given)
    assert pending.result() is result  # collected once
