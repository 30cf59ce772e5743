"""One source of secret shapes (aiaudit/data/secrets.toml): what the storage engine reports
is masked by redaction and flagged by the skill rules, on real-format samples (invented
values in each issuer's format, never real credentials); vendors' documented examples are
no secret to any of the three; raw-byte matches stop at the secret's real end."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sqlite3
import string

import pytest

from aiaudit import secretshapes
from aiaudit.redact import redact, secret_values
from aiaudit.storage.secrets.engine import scan_stream, scan_text
from aiaudit.storage.secrets.rules import RULES
from aiaudit.supply_chain.frontmatter import parse_skill_md
from aiaudit.supply_chain.model import Skill, SkillFile, SkillRoot
from aiaudit.supply_chain.review import static_review

RNG = random.Random(20261203)
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
BASE32 = string.ascii_uppercase + "234567"


def rnd(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def _jwt() -> str:
    def enc(doc: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'RS256', 'typ': 'JWT'})}.{enc({'sub': rnd(10), 'iat': 1764700000})}" \
           f".{rnd(86, URLSAFE)}"


_PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(
    rnd(70, ALNUM + "+/") for _ in range(6)) + "\n-----END OPENSSH PRIVATE KEY-----"

# shape -> (text as it would sit in a chat, config or skill, the secret value in it)
SAMPLES: dict[str, tuple[str, str]] = {
    name: (text.format(v=value), value) for name, (text, value) in {
        "anthropic-api-key": ("{v}", "sk-ant-api03-" + rnd(93, URLSAFE) + "AA"),
        "openai-api-key": ("{v}", "sk-proj-" + rnd(74, URLSAFE) + "T3BlbkFJ" + rnd(74, URLSAFE)),
        "openai-api-key-legacy": ("{v}", "sk-" + rnd(20) + "T3BlbkFJ" + rnd(20)),
        "github-pat-classic": ("{v}", "ghp_" + rnd(36)),
        "github-fine-grained-pat": ("{v}", "github_pat_" + rnd(22) + "_" + rnd(59)),
        "github-app-token": ("{v}", "ghs_" + rnd(36)),
        "github-oauth-token": ("{v}", "gho_" + rnd(36)),
        "aws-access-key-id": ("{v}", "AKIA" + rnd(16, BASE32)),
        "aws-secret-access-key": ("aws_secret_access_key = {v}", rnd(40, ALNUM + "/+")),
        "google-api-key": ("{v}", "AIza" + rnd(35, URLSAFE)),
        "google-oauth-client-secret": ("{v}", "GOCSPX-" + rnd(28, URLSAFE)),
        "google-oauth-access-token": ("{v}", "ya29." + rnd(120, URLSAFE)),
        "slack-token": ("{v}", f"xoxb-{rnd(12, string.digits)}-{rnd(13, string.digits)}-"
                               f"{rnd(24)}"),
        "slack-app-token": ("{v}", f"xapp-1-A{rnd(10, BASE32)}-{rnd(13, string.digits)}-"
                                   f"{rnd(64, '0123456789abcdef')}"),
        "slack-webhook": ("https://{v}", f"hooks.slack.com/services/T{rnd(8, BASE32)}/"
                                         f"B{rnd(10, BASE32)}/{rnd(24)}"),
        "stripe-secret-key": ("{v}", "sk_live_51" + rnd(97)),
        "stripe-webhook-secret": ("{v}", "whsec_" + rnd(32)),
        "huggingface-token": ("{v}", "hf_" + rnd(34, string.ascii_letters)),
        "gitlab-token": ("{v}", "glpat-" + rnd(20, URLSAFE)),
        "npm-token": ("{v}", "npm_" + rnd(36)),
        "pypi-token": ("{v}", "pypi-AgEIcHlwaS5vcmc" + rnd(120, URLSAFE)),
        "groq-api-key": ("{v}", "gsk_" + rnd(52)),
        "openrouter-api-key": ("{v}", "sk-or-v1-" + rnd(64, "0123456789abcdef")),
        "sendgrid-api-key": ("{v}", "SG." + rnd(22, URLSAFE) + "." + rnd(43, URLSAFE)),
        "jwt": ("{v}", _jwt()),
        "private-key": ("{v}", _PEM),
        "url-credentials": ("postgres://chat:{v}@db.internal:5432/history", rnd(24)),
        "bearer-token": ("Authorization: Bearer {v}", rnd(48, ALNUM + "._-")),
        "generic-high-entropy": ('db_password = "{v}"', rnd(28)),
    }.items()
}
# Issued at a fixed length: in raw bytes the next column's text follows with no separator,
# and the match must end where the secret ends.
FIXED_LENGTH = ("anthropic-api-key", "openai-api-key", "openai-api-key-legacy",
                "github-pat-classic", "github-fine-grained-pat", "github-app-token",
                "github-oauth-token", "aws-access-key-id", "google-api-key",
                "google-oauth-client-secret", "slack-token", "slack-webhook",
                "huggingface-token", "npm-token", "groq-api-key", "openrouter-api-key",
                "sendgrid-api-key")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def _skill(path: str, text: str) -> Skill:
    files = [SkillFile("SKILL.md", "file", 5, 0o644, b"---\nname: s\ndescription: d\n---\n"),
             SkillFile(path, "file", len(text), 0o644, text.encode())]
    return Skill("openclaw:skills/s", SkillRoot("openclaw", "/ws/skills", "skills", "/ws"), "s",
                 files, parse_skill_md("---\nname: s\ndescription: d\n---\n"))


def _skill_secrets(text: str) -> list:
    return [f for f in static_review(_skill("helper.py", text)) if f.rule == "hardcoded-secret"]


def test_every_shape_has_a_sample_and_every_engine_rule_is_a_shape():
    names = [s.name for s in secretshapes.shapes()]
    assert sorted(SAMPLES) == sorted(names)
    assert [r.name for r in RULES] == names


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_storage_finds_it_whole_and_redaction_masks_it(name):
    text, value = SAMPLES[name]
    chat = f'{{"role":"user","content":"here it is: {json.dumps(text)[1:-1]} thanks"}}'
    found = scan_text(chat if name != "private-key" else f"here it is:\n{text}\nthanks")
    assert [(f.rule, f.length, f.digest) for f in found] == [(name, len(value), _digest(value))]
    for shown in (redact(chat), redact(text)):
        assert value not in shown
    assert value in secret_values(text)


@pytest.mark.parametrize("name", sorted(s.name for s in secretshapes.shapes() if s.skill))
def test_skill_rules_flag_every_standalone_shape(name):
    text, value = SAMPLES[name]
    found = _skill_secrets(f'client.connect("{text}")\n' if name != "private-key" else text)
    assert found, f"{name} not flagged by the skill rules"
    assert all(value not in f.excerpt for f in found)


def test_aws_key_ids_agree_across_the_three():
    key = "ASIA" + rnd(16, BASE32)
    assert [f.rule for f in scan_text(f"id={key}")] == ["aws-access-key-id"]
    assert key not in redact(f"id {key}") and _skill_secrets(f'connect("{key}")\n')
    # redaction is wider (any 16 upper-case letters and digits), never narrower
    assert "AKIA0189" not in redact("AKIA0189ABCDEFGHJKLM")


EXAMPLE_CONTEXT = {
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "aws_secret_access_key = {}",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY": "AWS_SECRET_ACCESS_KEY={}",
}


@pytest.mark.parametrize("example", sorted(secretshapes.catalog().examples))
def test_documented_examples_are_not_secrets(example):
    text = EXAMPLE_CONTEXT.get(example, "key: {}").format(example)
    assert scan_text(text) == []
    assert redact(text) == text
    assert _skill_secrets(f'connect("{example}")\n') == []
    assert secretshapes.documented_example(example)


def test_the_example_pair_in_an_aws_credentials_file_is_not_a_finding():
    text = ("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    assert scan_text(text) == []
    real = text.replace("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", rnd(40))
    assert [f.rule for f in scan_text(real)] == ["aws-secret-access-key"]


def test_raw_sqlite_bytes_stop_at_the_secrets_real_end(tmp_path):
    """A value at the end of one column is followed on the page by the next column's text:
    the raw pass must report the secret itself (same digest as the value read through SQL),
    neither the secret plus the neighbour's letters nor nothing."""
    db = tmp_path / "state.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT, role TEXT)")
    for name in FIXED_LENGTH:
        text, _ = SAMPLES[name]
        conn.execute("INSERT INTO messages (content, role) VALUES (?, ?)",
                     (f"my key is {text}", "assistantReply"))
    conn.commit()
    conn.close()
    with open(db, "rb") as stream:
        found = list(scan_stream(stream, str(db)))
    got = {(f.rule, f.digest) for f in found}
    for name in FIXED_LENGTH:
        assert (name, _digest(SAMPLES[name][1])) in got, name
    assert len(found) == len(FIXED_LENGTH)
