"""review_all: the forked workers give exactly the findings of the in-process review, also
when the review is started ahead (start_review_all) and collected later."""

from __future__ import annotations

import shutil

import pytest

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


def test_one_skill_whose_review_breaks_is_that_skills_error_only(tmp_path, monkeypatch):
    """A file that makes a folder raise (the `$'\\x'` and obfuscator.io checksum cases did)
    is that skill's ERROR naming where; every other skill keeps its findings, in the
    forked workers as in this process."""
    from aiaudit.status import CouldNotCheck
    from aiaudit.supply_chain import batch
    from aiaudit.supply_chain.providers import skill_findings

    skills = _skills(tmp_path)
    victim = skills[7].id
    real = batch.static_review

    def breaks_on_one(skill, max_bytes):
        if skill.id == victim:
            raise ValueError("invalid literal for int() with base 16: ''")
        return real(skill, max_bytes)

    expected = review_all(skills, workers=1)
    monkeypatch.setattr(batch, "static_review", breaks_on_one)
    for workers in (1, 2):
        got = review_all(skills, workers=workers)
        failed = got[victim][0]
        assert isinstance(failed, batch.ReviewFailed)
        assert "internal error in the SUP-03 review (ValueError at " in failed.reason
        assert got[victim][1] == expected[victim][1]  # its SUP-04 review stands
        assert {k: v for k, v in got.items() if k != victim} == \
            {k: v for k, v in expected.items() if k != victim}

    class Ctx:  # skill_findings reads the run's reviews through ctx.cached
        def cached(self, key, compute):
            return got

    with pytest.raises(CouldNotCheck, match="internal error in the SUP-03 review"):
        skill_findings(Ctx(), skills[7], "SUP-03")
    assert skill_findings(Ctx(), skills[8], "SUP-03") == expected[skills[8].id][0]
