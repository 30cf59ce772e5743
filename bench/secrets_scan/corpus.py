"""A labelled conversation-history corpus: Hermes-style SQLite stores and OpenClaw-style JSONL
transcripts with secrets planted at known places and look-alike non-secrets around them.

Labels hold where each planted secret is and the sha256 prefix of the exact bytes written
(JSON-escaped in JSONL), never needed again in clear. Deterministic per seed; generated into
a cache directory outside the repository and reused while its parameters match.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import sqlite3
import string
import time
import uuid
from pathlib import Path

ALNUM = string.ascii_letters + string.digits
WORDS = ("the meeting notes deploy customer invoice summary please draft reply staging "
         "database migration rollback incident report quarterly budget review model prompt "
         "context window latency token usage embedding vector search cluster node restart "
         "backup schedule policy retention privacy ticket support weekend release branch "
         "feature flag dashboard metric alert threshold on-call handover timeline").split()


def _rnd(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _jwt(rng: random.Random) -> str:
    def enc(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'HS256', 'typ': 'JWT'})}.{enc({'sub': _rnd(rng, 10)})}.{_rnd(rng, 43)}"


def secret(rng: random.Random, family: str) -> str:
    """A fresh value in the shape of one credential family (all fake)."""
    makers = {
        "openai": lambda: "sk-proj-" + _rnd(rng, 156, ALNUM + "_-"),
        "anthropic": lambda: "sk-ant-api03-" + _rnd(rng, 93, ALNUM + "_-") + "AA",
        "github-classic": lambda: "ghp_" + _rnd(rng, 36),
        "github-fine-grained": lambda: "github_pat_" + _rnd(rng, 22) + "_" + _rnd(rng, 59),
        "github-app": lambda: "ghs_" + _rnd(rng, 36),
        "aws": lambda: "AKIA" + _rnd(rng, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        "google": lambda: "AIza" + _rnd(rng, 35, ALNUM + "_-"),
        "slack": lambda: f"xoxb-{_rnd(rng, 12, string.digits)}-{_rnd(rng, 13, string.digits)}-"
                         + _rnd(rng, 24),
        "stripe": lambda: "sk_live_" + _rnd(rng, 32),
        "huggingface": lambda: "hf_" + _rnd(rng, 34, string.ascii_letters),
        "jwt": lambda: _jwt(rng),
        "private-key": lambda: "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(
            _rnd(rng, 70, ALNUM + "+/") for _ in range(6)) + "\n-----END OPENSSH PRIVATE KEY-----",
        "generic": lambda: f'db_password = "{_rnd(rng, 28)}"',
    }
    return makers[family]()


FAMILIES = ("openai", "anthropic", "github-classic", "github-fine-grained", "github-app", "aws",
            "google", "slack", "stripe", "huggingface", "jwt", "private-key", "generic")


def lookalike(rng: random.Random) -> str:
    """Strings that resemble credentials and are not: every alarm on one is a false alarm."""
    choice = rng.randrange(12)
    return [
        lambda: "AKIAIOSFODNN7EXAMPLE",
        lambda: "sk-your-key-here",
        lambda: "sk-proj-" + "X" * 48,
        lambda: f"task-proj-{_rnd(rng, 40)}",
        lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        lambda: hashlib.sha256(_rnd(rng, 20).encode()).hexdigest(),
        lambda: f"commit {hashlib.sha1(_rnd(rng, 20).encode()).hexdigest()}",
        lambda: "api_key: ${OPENAI_API_KEY}",
        lambda: "token=/run/secrets/hf_token",
        lambda: "data:image/png;base64," + base64.b64encode(rng.randbytes(900)).decode(),
        lambda: "password: correct horse battery staple",
        lambda: "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    ][choice]()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class _Messages:
    """Chat messages (under one SQLite page) with planted secrets and look-alikes."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sentences = [" ".join(self.rng.choices(WORDS, k=self.rng.randrange(6, 18))) + "."
                          for _ in range(4000)]

    def next(self) -> tuple[str, str | None, str | None]:
        """(text, the planted credential value or None, family)"""
        rng = self.rng
        text = " ".join(rng.choices(self.sentences, k=rng.randrange(3, 14)))
        planted = family = None
        roll = rng.random()
        if roll < 1 / 40:
            family = FAMILIES[rng.randrange(len(FAMILIES))]
            embedded = secret(rng, family)
            text = f"{text} Here is what I use: {embedded} can you check it?"
            # the generic family embeds `name = "value"`: the value is the secret
            planted = embedded.split('"')[1] if family == "generic" else embedded
        elif roll < 3 / 40:
            text = f"{text} For reference {lookalike(rng)} is in the docs."
        return text, planted, family


def _sqlite(path: Path, name: str, target: int, msgs: _Messages, labels: list[dict]) -> None:
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT, started_at REAL)")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT,"
                 " role TEXT, content TEXT, timestamp REAL, token_count INTEGER)")
    written, batch, now, sid = 0, [], time.time(), ""
    while written < target:
        if len(batch) % 20 == 0:
            sid = uuid.UUID(int=msgs.rng.getrandbits(128)).hex
            conn.execute("INSERT INTO sessions VALUES (?, 'alice', ?)", (sid, now))
        text, planted, family = msgs.next()
        batch.append((sid, "user", text, now, len(text) // 4))
        written += len(text) + 40
        if planted:
            labels.append({"file": name, "family": family, "digest": digest(planted)})
        if len(batch) >= 5000:
            conn.executemany("INSERT INTO messages (session_id, role, content, timestamp,"
                             " token_count) VALUES (?, ?, ?, ?, ?)", batch)
            batch = []
    if batch:
        conn.executemany("INSERT INTO messages (session_id, role, content, timestamp,"
                         " token_count) VALUES (?, ?, ?, ?, ?)", batch)
    conn.commit()
    conn.close()


def _jsonl(path: Path, name: str, target: int, msgs: _Messages, labels: list[dict]) -> None:
    written, line_no = 0, 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            text, planted, family = msgs.next()
            line = json.dumps({"type": "message", "id": _rnd(msgs.rng, 8),
                               "message": {"role": "user", "content": text},
                               "usage": {"prompt_tokens": len(text) // 4,
                                         "completion_tokens": 40}}) + "\n"
            out.write(line)
            line_no += 1
            written += len(line)
            if planted:
                labels.append({"file": name, "family": family, "line": line_no,
                               "digest": digest(json.dumps(planted)[1:-1])})


def generate(root: Path, total_mb: int, seed: int = 20261125, files: int = 8) -> dict:
    """Build (or reuse) the corpus; returns the labels document."""
    stamp = {"total_mb": total_mb, "seed": seed, "files": files, "version": 3}
    labels_path = root / "labels.json"
    if labels_path.exists():
        doc = json.loads(labels_path.read_text())
        if doc.get("stamp") == stamp and all((root / f).exists() for f in doc["files"]):
            return doc
    root.mkdir(parents=True, exist_ok=True)
    per_file = total_mb * 1024 * 1024 // files
    labels: list[dict] = []
    names = []
    for i in range(files):
        msgs = _Messages(seed + i)
        if i % 2 == 0:
            name = f"hermes-{i}/state.db"
            (root / name).parent.mkdir(exist_ok=True)
            _sqlite(root / name, name, per_file, msgs, labels)
        else:
            name = f"openclaw-{i}/sessions.jsonl"
            (root / name).parent.mkdir(exist_ok=True)
            _jsonl(root / name, name, per_file, msgs, labels)
        names.append(name)
    doc = {"stamp": stamp, "files": names, "secrets": labels}
    labels_path.write_text(json.dumps(doc))
    return doc
