"""STO-04 inside databases: provider keys in config tables of real SQLite/SQLCipher stores."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import string
from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from aiaudit.config import AuditConfig, Credential, DeploymentConfig
from aiaudit.context import AuditContext
from aiaudit.status import CouldNotCheck
from aiaudit.storage.configsecrets import config_facts
from aiaudit.storage.configtables import secret_named
from aiaudit.storage.settings import StorageSettings
from aiaudit.target import parse_target

KEY = "5e" * 32
ALPHABET = string.ascii_letters + string.digits
BCRYPT = "$2b$12$" + "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"[:53]


def token(prefix: str, n: int = 48) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(n))


def ctx_for(state_dir: Path, **storage) -> AuditContext:
    # scoped: other processes' env overrides on a shared host are not this test's stores
    cfg = AuditConfig(deployment=DeploymentConfig(homes=(str(state_dir),)),
                      areas={"storage": {"search_homes": False, **storage}})
    return AuditContext(parse_target("local"), cfg)


def webui_db(path: Path, config: dict, user_key: str | None, key: str | None = None) -> None:
    """The Open WebUI tables that hold keys: `config` (JSON), `user.api_key`, `auth`."""
    conn = sqlcipher.connect(str(path)) if key else sqlite3.connect(path)
    if key:
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
    conn.execute("CREATE TABLE config (id INTEGER PRIMARY KEY, data JSON, version INTEGER)")
    conn.execute("CREATE TABLE user (id TEXT PRIMARY KEY, name TEXT, api_key TEXT)")
    conn.execute("CREATE TABLE auth (id TEXT PRIMARY KEY, email TEXT, password TEXT)")
    conn.execute("CREATE TABLE chat (id TEXT PRIMARY KEY, user_id TEXT, chat JSON,"
                 " input_tokens INTEGER, token_count TEXT)")
    conn.execute("INSERT INTO config VALUES (1, ?, 0)", (json.dumps(config),))
    conn.execute("INSERT INTO user VALUES ('u1', 'alice', ?)", (user_key,))
    conn.execute("INSERT INTO auth VALUES ('u1', 'alice@example.org', ?)", (BCRYPT,))
    conn.execute("INSERT INTO chat VALUES ('c1', 'u1', '{\"title\": \"hi\"}', 12, "
                 "'twelve tokens here')")
    conn.commit()
    conn.close()


def webui_home(tmp_path: Path, config: dict, user_key: str | None,
               key: str | None = None) -> Path:
    home = tmp_path / "open-webui"
    home.mkdir(mode=0o700)
    webui_db(home / "webui.db", config, user_key, key)
    os.chmod(home / "webui.db", 0o600)
    return home


def test_secret_names_are_told_from_counts_and_ids():
    named = ["api_key", "apiKey", "OPENAI_API_KEY", "openai.api_keys[0]", "client_secret",
             "refresh_token", "password", "secret_key"]
    not_named = ["input_tokens", "token_count", "api_key_id", "tokens", "keys", "keyPrefix",
                 "password_hint", "token_url", "api_key_file"]
    assert [n for n in named if not secret_named(n)] == []
    assert [n for n in not_named if secret_named(n)] == []


def test_open_webui_config_table_and_user_key_fail(tmp_path):
    provider, personal = token("sk-proj-", 64), token("sk-", 40)
    home = webui_home(tmp_path, {"openai": {"api_base_urls": ["https://api.openai.com/v1"],
                                            "api_keys": [provider]},
                                 "ui": {"default_locale": "en-US"}}, personal)
    facts = config_facts(ctx_for(home), "open-webui", str(home))
    where = sorted(f.location.rsplit("#", 1)[-1] for f in facts.findings)
    assert where == ["config.data[row 1]", "user.api_key[row 1]"]
    assert "webui.db#config" in facts.tables and "webui.db#user.api_key" in facts.tables
    assert "webui.db#auth.password" in facts.tables  # read, and the bcrypt hash is not a secret
    assert "webui.db#chat.token_count" not in facts.tables
    text = repr(facts)
    assert provider not in text and personal not in text  # findings are redacted
    assert facts.unread == []


def test_references_and_hashes_in_config_tables_pass(tmp_path):
    home = webui_home(tmp_path, {"openai": {"api_keys": ["${OPENAI_API_KEY}"]},
                                 "auth": {"jwt_secret": "/run/secrets/webui_jwt"}}, None)
    facts = config_facts(ctx_for(home), "open-webui", str(home))
    assert facts.findings == []
    assert any("api_keys" in r for r in facts.references)


def test_encrypted_config_store_needs_the_key(tmp_path):
    provider = token("sk-proj-", 64)
    home = webui_home(tmp_path, {"openai": {"api_keys": [provider]}}, None, key=KEY)
    facts = config_facts(ctx_for(home), "open-webui", str(home))
    assert facts.findings == [] and len(facts.unread) == 1
    assert "encrypted" in facts.unread[0] and "key_file" in facts.unread[0]

    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    facts = config_facts(ctx_for(home, key_file=str(key_file)), "open-webui", str(home))
    assert facts.unread == []
    assert [f.location.rsplit("#", 1)[-1] for f in facts.findings] == ["config.data[row 1]"]


def test_openclaw_secret_store_in_state_db(tmp_path):
    home = tmp_path / ".openclaw"
    (home / "state").mkdir(parents=True)
    (home / "openclaw.json").write_text('{"gateway": {"auth": {"token": "${GW_TOKEN}"}}}')
    conn = sqlite3.connect(home / "state" / "openclaw.sqlite")
    conn.execute("CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT, updated_at INTEGER)")
    conn.execute("INSERT INTO secrets VALUES ('anthropic', ?, 0)", (token("sk-ant-api03-", 93),))
    conn.commit()
    conn.close()
    facts = config_facts(ctx_for(home), "openclaw", str(home))
    assert [f.location.rsplit("#", 1)[-1] for f in facts.findings] == ["secrets.value[row 1]"]
    assert any("gateway.auth.token" in r or "token" in r for r in facts.references)


def test_unreadable_key_file_is_could_not_check_and_credential_value_is_none(tmp_path):
    missing = str(tmp_path / "absent")
    with pytest.raises(CouldNotCheck, match="key_file"):
        StorageSettings(key_file=missing).key_for("/srv/state.db")
    assert Credential(file=missing).value() is None
    os.environ["AIAUDIT_TEST_KEY"] = KEY
    try:
        assert StorageSettings(key_env="AIAUDIT_TEST_KEY").key_for("/srv/state.db") == KEY
    finally:
        del os.environ["AIAUDIT_TEST_KEY"]


@pytest.mark.parametrize("state", ["vulnerable", "hardened"])
def test_open_webui_user_api_keys_are_literal_credentials(state):
    """Open WebUI 0.12.4 keeps each user's API key in clear in `api_key.key`
    (models/users.py); no provider rule knows its `sk-` + 32 hex shape, so the product's
    own knowledge flags it. On the real server's dumps: the vulnerable admin's key is a
    finding, the hardened state (API keys off, none issued) reads the column, 0 rows."""
    import contextlib

    from aiaudit.products import open_webui
    from aiaudit.storage.configtables import plaintext_credentials, table_facts

    fixtures = Path(__file__).parent / "fixtures" / "open_webui" / state
    planted = json.loads((fixtures / "state.json").read_text())["planted"]
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.executescript((fixtures / "webui.sql").read_text())
        facts = table_facts(conn, "webui.db")
        plaintext_credentials(conn, "webui.db", open_webui.plaintext_credential_columns(),
                              facts)
    mine = [f for f in facts.findings if f.rule == "plaintext-credential-in-store"]
    if state == "vulnerable":
        assert [f.location for f in mine] == ["webui.db#api_key.key[row 1]"]
        assert planted["api key"][8:] not in mine[0].masked
        assert "webui.db#api_key.key" not in {f.location.split("[")[0] for f in facts.findings
                                              if f is not mine[0]}
    else:
        assert mine == [] and "api key" not in planted
    rows = 1 if state == "vulnerable" else 0
    assert f"api_key.key ({rows} row(s); the column keeps credentials in clear)" in facts.tables
