"""The secret engine (STO-03/04): every rule family found, look-alikes ignored, findings
redacted, chunk boundaries invisible, and a secret left in a real SQLite WAL found."""

from __future__ import annotations

import base64
import io
import json
import random
import sqlite3
import string

import pytest

from aiaudit.storage.configsecrets import literal_assignments
from aiaudit.storage.secrets.engine import distinct, scan_bytes, scan_stream, scan_text

RNG = random.Random(7)
ALNUM = string.ascii_letters + string.digits


def rnd(n: int, alphabet: str = ALNUM) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def jwt() -> str:
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc({'sub': rnd(8), 'exp': 1})}.{rnd(43)}"


SECRETS = {
    "openai-api-key": "sk-proj-" + rnd(156, ALNUM + "_-"),
    "openai-api-key-legacy": "sk-" + rnd(20) + "T3BlbkFJ" + rnd(20),
    "anthropic-api-key": "sk-ant-api03-" + rnd(93, ALNUM + "_-") + "AA",
    "github-pat-classic": "ghp_" + rnd(36),
    "github-fine-grained-pat": "github_pat_" + rnd(22) + "_" + rnd(59),
    "github-app-token": "ghs_" + rnd(36),
    "github-oauth-token": "gho_" + rnd(36),
    "aws-access-key-id": "AKIA" + rnd(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    "google-api-key": "AIza" + rnd(35, ALNUM + "_-"),
    "slack-token": f"xoxb-{rnd(12, string.digits)}-{rnd(13, string.digits)}-{rnd(24)}",
    "stripe-secret-key": "sk_live_" + rnd(24),
    "huggingface-token": "hf_" + rnd(34, string.ascii_letters),
    "jwt": jwt(),
    "private-key": "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(
        rnd(64, ALNUM + "+/") for _ in range(8)) + "\n-----END RSA PRIVATE KEY-----",
}
LOOKALIKES = [
    "AKIAIOSFODNN7EXAMPLE",  # AWS's documented example id
    "sk-your-key-here", "sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "task-proj-" + rnd(40), "ghp_short", "hf_download_config",
    "token = 3f2b8c1e-4d5a-4b6c-8d7e-9f0a1b2c3d4e", '"completion_tokens": 1234',
    "sha256: " + rnd(64, "0123456789abcdef"), "commit " + rnd(40, "0123456789abcdef"),
    "eyJhbGciOiJIUzI1NiJ9 is only a header", "password: correct horse battery staple",
    "api_key: ${OPENAI_API_KEY}", "api_key=/run/secrets/openai",
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    "data:image/png;base64," + base64.b64encode(bytes(RNG.randrange(256)
                                                     for _ in range(600))).decode(),
]


@pytest.mark.parametrize("rule", sorted(SECRETS))
def test_each_rule_family_is_found_in_chat_text(rule):
    value = SECRETS[rule]
    text = f'{{"role":"user","content":"my key is {json.dumps(value)[1:-1]} please help"}}'
    found = scan_text(text)
    assert [f.rule for f in found] == [rule]


def test_generic_rule_needs_a_secret_name_and_randomness():
    assert [f.rule for f in scan_text(f'db_password = "{rnd(24)}"')] == ["generic-high-entropy"]
    in_json = json.dumps({"content": f'db_password = "{rnd(24)}"'})  # quotes escaped: \"
    assert [f.rule for f in scan_text(in_json)] == ["generic-high-entropy"]
    assert scan_text('db_password = "aaaaaaaaaaaaaaaaaaaaaaaa"') == []
    assert scan_text(f'release_name = "{rnd(24)}"') == []


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_are_not_secrets(text):
    assert scan_text(text) == []


def test_findings_never_hold_the_value():
    value = SECRETS["openai-api-key"]
    (finding,) = scan_text(f"key {value} end")
    assert value not in repr(finding) and value[8:30] not in finding.line()
    assert finding.masked.startswith("sk-p…[164]#") and finding.length == 164


@pytest.mark.parametrize("chunk", [97, 4096, 65536, 4 * 1024 * 1024])
def test_chunk_boundaries_do_not_hide_or_duplicate(chunk):
    filler = ("lorem ipsum dolor " * 400).encode()
    parts, offsets = [], []
    for i, value in enumerate(SECRETS.values()):
        parts.append(filler[: 1000 + 97 * i])
        offsets.append(sum(map(len, parts)) + 1)
        parts.append(b" " + value.encode() + b" ")
    data = b"".join(parts) + filler
    found = list(scan_stream(io.BytesIO(data), "blob", chunk_size=chunk))
    assert [f.offset for f in found] == offsets


def test_secret_left_in_a_real_wal_is_found(tmp_path):
    db = tmp_path / "state.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, content TEXT)")
    conn.commit()
    conn.execute("INSERT INTO messages (content) VALUES (?)",
                 (f"here is my token {SECRETS['github-pat-classic']} thanks",))
    conn.commit()
    wal = (tmp_path / "state.db-wal").read_bytes()  # read while the writer keeps it alive
    main = db.read_bytes()
    conn.close()
    assert [f.rule for f in scan_bytes(wal, "state.db-wal")] == ["github-pat-classic"]
    assert scan_bytes(main, "state.db") == []  # not checkpointed: only the WAL holds it


def test_distinct_counts_each_secret_once():
    value = SECRETS["stripe-secret-key"]
    found = scan_text(f"{value} and again {value}")
    assert len(found) == 2 and len(distinct(found)) == 1


def test_env_literals_fail_and_references_pass():
    text = ("OPENAI_API_KEY=plainvalue1234567\nANTHROPIC_API_KEY_FILE=/run/secrets/anthropic\n"
            "HF_TOKEN=${HF_TOKEN}\nmax_tokens: 64\nDB_PASSWORD=op://vault/db/password\n")
    findings, refs = literal_assignments(text, ".env")
    assert [f.masked.split("=")[0] for f in findings] == ["OPENAI_API_KEY"]
    assert "plainvalue1234567" not in repr(findings)
    assert refs == [".env: HF_TOKEN", ".env: DB_PASSWORD"]


def test_one_fingerprint_per_secret_whatever_layer_saw_it():
    """A raw WAL/page sighting that ran into the next record's key-like bytes, or was cut
    where an overflow page begins, is the value read back through SQL (one finding); raw
    sightings with no value read back are left as they are."""
    from dataclasses import replace

    from aiaudit.storage.secrets.engine import unify

    key = "sk-proj-" + rnd(48)
    run_on = scan_bytes(f"is {key}A\xda\xc4".encode("latin-1"), "state.db-wal")
    cut = scan_bytes(f"is {key[:-5]}\x00\x00\x12".encode("latin-1"), "state.db")
    exact = [replace(f, exact=True) for f in scan_bytes(key.encode(), "state.db#messages")]
    assert run_on[0].length == len(key) + 1 and cut[0].length == len(key) - 5
    assert len(distinct(run_on + cut)) == 2  # nothing read back: no basis to fold
    merged = unify(run_on + cut + exact)
    assert {f.digest for f in merged} == {exact[0].digest}
    assert [f.location for f in merged] == ["state.db-wal", "state.db", "state.db#messages"]
    assert len(distinct(run_on + cut + exact)) == 1
    other = scan_bytes(("sk-proj-" + rnd(48)).encode(), "x")
    assert len(distinct(run_on + exact + other)) == 2
