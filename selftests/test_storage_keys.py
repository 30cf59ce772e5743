"""Keys per store ([[storage.keys]]): two real SQLCipher stores (sqlcipher3), one keyed by a
passphrase, one by a raw 256-bit key, each opened with its own key; a wrong key is ERROR
naming the store and the config entry; the entries are validated at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from aiaudit.config import AuditConfig, SettingsError
from aiaudit.context import AuditContext
from aiaudit.storage.encryption import assess
from aiaudit.storage.historyscan import scan_source, store_source
from aiaudit.storage.locate import locate
from aiaudit.storage.settings import parse_settings
from aiaudit.target import parse_target

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "correct horse battery staple 2026"
RAW_KEY = "5e" * 16 + "a1" * 16
# invented, in GitHub's classic PAT format
PLANTED = {"passphrase": "ghp_" + "Q7rTm2Kx9LpV4sWz8NcY3bHj6FdG1aEuR5oI",
           "raw": "ghp_" + "Zx4Cv7Bn2Mq9Wr5Ty8Ui3Op6As1Df0GhJkLm"}


def _store(home: Path, key_pragma: str, secret: str) -> Path:
    """A Hermes-shaped state.db written through SQLCipher."""
    home.mkdir(parents=True, mode=0o700)
    db = home / "state.db"
    conn = sqlcipher.connect(str(db))
    conn.execute(key_pragma)
    conn.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, started_at REAL)")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT, "
                 "content TEXT, timestamp REAL)")
    now = time.time()
    conn.execute("INSERT INTO sessions VALUES ('s1', ?)", (now - 5 * 86400,))
    conn.execute("INSERT INTO messages (session_id, content, timestamp) VALUES ('s1', ?, ?)",
                 (f"my token is {secret}", now - 5 * 86400))
    conn.commit()
    conn.close()
    os.chmod(db, 0o600)
    return db


@pytest.fixture
def stores(tmp_path):
    a = _store(tmp_path / "alice" / ".hermes", f"PRAGMA key = '{PASSPHRASE}'",
               PLANTED["passphrase"])
    b = _store(tmp_path / "bob" / ".hermes", f"PRAGMA key = \"x'{RAW_KEY}'\"", PLANTED["raw"])
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    (keys / "alice.key").write_text(PASSPHRASE + "\n")
    (keys / "bob.key").write_text(RAW_KEY + "\n")
    (keys / "wrong.key").write_text("ab" * 32 + "\n")
    return {"passphrase": a, "raw": b, "keys": keys}


def _ctx(stores: dict, keys: list[dict], **storage) -> AuditContext:
    dirs = [str(stores["passphrase"].parent), str(stores["raw"].parent)]
    cfg = AuditConfig(state_dirs=dirs, areas={"storage": {"search_homes": False,
                                                          "keys": keys, **storage}})
    return AuditContext(parse_target("local"), cfg)


def _mine(ctx: AuditContext, stores: dict) -> dict:
    """The two stores made here (processes of other deployments on the host may name
    theirs through env overrides)."""
    root = str(stores["keys"].parent)
    return {s.path: s for s in locate(ctx)[0] if s.kind == "sqlite" and s.path.startswith(root)}


def test_each_store_opens_with_its_own_key(stores, monkeypatch):
    monkeypatch.setenv("AIAUDIT_TEST_BOB_KEY", RAW_KEY)
    ctx = _ctx(stores, [
        {"path": str(stores["passphrase"]), "key_file": str(stores["keys"] / "alice.key")},
        {"path": str(stores["raw"].parent) + "/*.db", "key_env": "AIAUDIT_TEST_BOB_KEY"},
    ], key_file=str(stores["keys"] / "wrong.key"))  # the default must not be used for them
    found = _mine(ctx, stores)
    assert set(found) == {str(stores["passphrase"]), str(stores["raw"])}
    for form in ("passphrase", "raw"):
        store = found[str(stores[form])]
        facts = assess(ctx, store)
        assert facts.needs_proof and facts.proof is not None and facts.proof.opened, form
        assert facts.proof.integrity == "ok"
        assert "[[storage.keys]]" in facts.key_source
        result = scan_source(ctx, store_source(store))
        assert result.cells > 0 and not result.cell_note, result.cell_note
        assert {f.rule for f in result.findings} == {"github-pat-classic"}, form


def test_wrong_key_names_the_store_and_the_entry(stores):
    ctx = _ctx(stores, [
        {"path": str(stores["raw"]), "key_file": str(stores["keys"] / "wrong.key")},
        {"path": "*", "key_file": str(stores["keys"] / "alice.key")},
    ])
    found = _mine(ctx, stores)
    good = assess(ctx, found[str(stores["passphrase"])])
    assert good.proof is not None and good.proof.opened
    bad = assess(ctx, found[str(stores["raw"])])
    assert bad.proof is not None and not bad.proof.opened
    assert f"path = '{stores['raw']}'" in bad.key_source
    result = scan_source(ctx, store_source(found[str(stores["raw"])]))
    assert str(stores["raw"]) in result.cell_note and "[[storage.keys]]" in result.cell_note


@pytest.mark.parametrize("entry, words", [
    ({"key_file": "/k"}, "keys[0].path"),
    ({"path": "/x/*.db"}, "exactly one of key_file or key_env"),
    ({"path": "/x/*.db", "key_file": "/k", "key_env": "K"}, "exactly one"),
    ({"path": "/x/*.db", "key": "/k"}, "keys[0].key: unknown key"),
    ({"path": "relative/*.db", "key_file": "/k"}, "absolute path"),
    ("not a table", "expected a [[storage.keys]] table"),
])
def test_bad_entries_are_config_errors(entry, words):
    with pytest.raises(SettingsError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_settings({"keys": [entry]})


def _audit(tmp_path: Path, stores: dict, key_lines: str) -> dict:
    cfg = tmp_path / "audit.toml"
    cfg.write_text(f'[paths]\nstate_dirs = ["{stores["passphrase"].parent}", '
                   f'"{stores["raw"].parent}"]\n[storage]\nsearch_homes = false\n{key_lines}')
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--profile=quick",
         "--target=local", f"--audit-config={cfg}", f"--report-dir={reports}",
         "tests_storage/test_sto01_encryption_at_rest.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    latest = reports / "latest.json"
    assert latest.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(latest.read_text())


def test_sto01_audit_per_store_keys_pass_and_a_wrong_one_is_error(tmp_path, stores):
    keys = stores["keys"]
    doc = _audit(tmp_path, stores,
                 f'[[storage.keys]]\npath = "{stores["passphrase"]}"\n'
                 f'key_file = "{keys / "alice.key"}"\n'
                 f'[[storage.keys]]\npath = "{stores["raw"].parent}/*"\n'
                 f'key_file = "{keys / "wrong.key"}"\n')
    [control] = [c for c in doc["controls"] if c["id"] == "STO-01"]
    cases = {c["case"]: c for c in control["cases"]}
    [good] = [c for name, c in cases.items() if "alice" in name]
    [bad] = [c for name, c in cases.items() if "bob" in name]
    assert good["status"] == "PASS", good
    assert bad["status"] == "ERROR", bad
    assert str(stores["raw"]) in bad["reason"] and "does not open" in bad["reason"]
    assert "[[storage.keys]]" in bad["reason"]
