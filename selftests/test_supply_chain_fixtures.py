"""The labelled skill corpus: discovery finds every fixture in its real layout, each
malicious one is flagged by the control that names its technique, and no benign one fails
SUP-03 or SUP-04 (exact per-fixture outcome)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiaudit.hostfs import HostFS
from aiaudit.lab.parts.supply_chain import corpus_labels, materialize_corpus
from aiaudit.supply_chain.discovery import discover
from aiaudit.supply_chain.honesty import manifest_review
from aiaudit.supply_chain.review import failing, static_review
from aiaudit.supply_chain.settings import Settings

LABELS = corpus_labels()
FAIL_AT = {"SUP-03": "high", "SUP-04": "medium"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = materialize_corpus(tmp_path_factory.mktemp("corpus"))
    inventory = discover(HostFS("local"), Settings(home_dirs=(str(home),)))
    skills = {s.id: s for s in inventory.skills}
    reviews = {sid: {"SUP-03": static_review(s), "SUP-04": manifest_review(s)}
               for sid, s in skills.items()}
    return {"skills": skills, "reviews": reviews}


def test_discovery_finds_exactly_the_labelled_fixtures(corpus: dict) -> None:
    assert sorted(corpus["skills"]) == sorted(f["skill"] for f in LABELS)


def test_corpus_covers_fifteen_techniques_in_four_languages() -> None:
    malicious = [f for f in LABELS if f["label"] == "malicious"]
    assert len({f["technique"] for f in malicious}) >= 15
    assert {"python", "js", "shell", "prose"} <= {f["language"] for f in malicious}


@pytest.mark.parametrize("fixture", LABELS, ids=[f["skill"] for f in LABELS])
def test_exact_outcome(corpus: dict, fixture: dict) -> None:
    reviews = corpus["reviews"][fixture["skill"]]
    got = {control: "FAIL" if failing(findings, FAIL_AT[control]) else "PASS"
           for control, findings in reviews.items()}
    want = {control: fixture[control] for control in ("SUP-03", "SUP-04")}
    shown = {c: [f.describe() for f in failing(reviews[c], FAIL_AT[c])] for c in reviews}
    assert got == want, shown
    if fixture["label"] != "benign":
        control = fixture["control"]
        flagged = {f.rule for f in failing(reviews[control], FAIL_AT[control])}
        assert set(fixture["rules"]) <= flagged, shown[control]


def test_findings_carry_file_line_rule_severity_and_redacted_excerpt(corpus: dict) -> None:
    findings = corpus["reviews"]["hermes:skills/research/paper-digest"]["SUP-03"]
    secret = next(f for f in findings if f.rule == "hardcoded-secret")
    assert secret.file == "digest.js" and secret.line == 2 and secret.severity == "high"
    assert "Zq7TfXw2" not in secret.excerpt and "…[" in secret.excerpt


def test_tag_characters_are_decoded_for_the_reader(corpus: dict) -> None:
    findings = corpus["reviews"]["hermes:skills/productivity/emoji-helper"]["SUP-04"]
    hidden = next(f for f in findings if f.rule == "invisible-unicode")
    assert "read the user's .env file" in hidden.note


def test_payload_after_100000_newlines_is_found_on_its_line(corpus: dict) -> None:
    findings = corpus["reviews"]["hermes:skills/data/csv-cleaner"]["SUP-03"]
    payload = next(f for f in findings if f.rule == "decode-exec")
    assert payload.line > 100_000


def test_base64_payload_is_decoded_and_shown(corpus: dict) -> None:
    findings = corpus["reviews"]["openclaw:workspace/skills/polymarket-trader-pro"]["SUP-03"]
    decoded = [f for f in findings if f.context == "decoded"]
    assert decoded and "203.0.113.47" in decoded[0].note


def test_large_files_are_read_whole(corpus: dict) -> None:
    skill = corpus["skills"]["hermes:skills/data/country-facts"]
    data = skill.file("data/countries.csv")
    assert data is not None and data.size > 2_000_000 and len(data.data or b"") == data.size


def test_a_broken_manifest_is_a_finding_not_a_crash(corpus: dict) -> None:
    skill = corpus["skills"]["openclaw:workspace/skills/broken-manifest"]
    assert skill.manifest.errors and skill.manifest.syntax == "none"


def test_corpus_is_plain_text() -> None:
    root = Path(__file__).parent / "fixtures" / "skills"
    for path in root.rglob("*"):
        if path.is_file():
            path.read_text(encoding="utf-8")  # raises on binary content
        assert not path.is_symlink(), path
