"""aiaudit.products.open_webui on webui.db files written by the real Open WebUI 0.12.4 server
(selftests/fixtures/open_webui/*/webui.sql, recorded by record_open_webui_fixtures.py)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from aiaudit.exposure.hostside import unit_intents
from aiaudit.products import open_webui

FIXTURES = Path(__file__).parent / "fixtures" / "open_webui"


@pytest.fixture(params=["vulnerable", "hardened"])
def recorded(request):
    conn = sqlite3.connect(":memory:")
    conn.executescript((FIXTURES / request.param / "webui.sql").read_text())
    meta = json.loads((FIXTURES / request.param / "state.json").read_text())
    with contextlib.closing(conn):
        yield request.param, conn, meta


def test_recorded_by_the_version_the_defaults_come_from(recorded):
    _, conn, meta = recorded
    assert meta["open_webui"] == open_webui.product_data()["version"]
    assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1


def test_conversation_columns_exist_in_the_real_schema(recorded):
    _, conn, _ = recorded
    for table, cols in open_webui.conversation_time_columns().items():
        have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
        assert set(cols) <= have, (table, cols, have)
    table, col = open_webui.product_data()["history"]["archived"].split(".")
    assert col in {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}


def test_config_table_is_read_as_open_webui_reads_it(recorded):
    name, conn, meta = recorded
    rows = open_webui.config_rows(conn)
    if name == "vulnerable":
        # persistent config (default): start-up seeded every key, the update stored the key
        assert len(rows) > 100
        cfg = open_webui.OpenWebUIConfig(env={"ENABLE_API_KEYS": "true"}, rows=rows,
                                         db="webui.db")
        key = cfg.get("OPENAI_API_KEYS")
        assert key.source == "webui.db config[openai.api_keys]"
        assert key.value == [meta["planted"]["config openai.api_keys"]]
        assert cfg.get("ENABLE_API_KEYS").value is True
        restricted = cfg.get("ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS")
        assert restricted.value is False and "config[" in restricted.source
    else:
        # ENABLE_PERSISTENT_CONFIG=false: seed_defaults wrote nothing, env and defaults rule
        assert rows == {}
        cfg = open_webui.OpenWebUIConfig(
            env={"ENABLE_PERSISTENT_CONFIG": "false", "ENABLE_API_KEY_ENDPOINT_RESTRICTIONS":
                 "true"}, rows=rows, db="webui.db", env_source="open-webui.service")
        legacy = cfg.get("ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS")
        assert legacy.value == "true" and "ENABLE_API_KEY_ENDPOINT_RESTRICTIONS" in legacy.source
        assert cfg.get("WEBUI_AUTH").is_default and cfg.get("WEBUI_AUTH").value is True


def test_table_rows_lose_to_the_env_when_persistent_config_is_off():
    cfg = open_webui.OpenWebUIConfig(env={"ENABLE_PERSISTENT_CONFIG": "False",
                                          "ENABLE_SIGNUP": "false"},
                                     rows={"ui.enable_signup": True}, db="webui.db")
    assert cfg.get("ENABLE_SIGNUP").value == "false"
    cfg = open_webui.OpenWebUIConfig(env={"ENABLE_SIGNUP": "false"},
                                     rows={"ui.enable_signup": True}, db="webui.db")
    assert cfg.get("ENABLE_SIGNUP").value is True  # the table wins (models/config.py)


def test_pre_0_9_single_document_config_is_flattened():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE config (id INTEGER PRIMARY KEY, data JSON, version INT)")
    conn.execute("INSERT INTO config (data, version) VALUES (?, 0)",
                 (json.dumps({"openai": {"api_keys": ["sk-x"]}, "ui": {"enable_signup": False}}),))
    assert open_webui.config_rows(conn) == {"openai.api_keys": ["sk-x"],
                                            "ui.enable_signup": False}


@pytest.mark.parametrize(("execstart", "bind", "loopback"), [
    ("/opt/venv/bin/open-webui serve", "0.0.0.0", False),
    ("/opt/venv/bin/open-webui serve --host 127.0.0.1 --port 8080", "127.0.0.1", True),
    ("open-webui serve --host=::1", "::1", True),
])
def test_serve_command_lines_give_the_configured_bind(execstart, bind, loopback):
    unit = f"[Service]\nEnvironment=DATA_DIR=/srv/data\nExecStart={execstart}\n"
    [intent] = unit_intents("/etc/systemd/system/open-webui.service", unit)
    assert intent.service == "Open WebUI" and intent.bind == bind
    assert intent.loopback_only is loopback
    assert "WEBUI_AUTH on" in intent.auth


def test_auth_off_in_the_unit_is_named():
    unit = "[Service]\nEnvironment=WEBUI_AUTH=False\nExecStart=open-webui serve\n"
    [intent] = unit_intents("/etc/systemd/system/open-webui.service", unit)
    assert "WEBUI_AUTH=False" in intent.auth


def test_not_a_serve_command():
    assert open_webui.serve_intent("/usr/bin/python3 -m open_webui.tools", {}) is None
    assert open_webui.serve_intent("open-webui --version", {}) is None


def test_no_retention_setting():
    facts = open_webui.retention()
    assert not facts.enabled and facts.days is None and "no retention setting" in facts.detail


def test_a_webui_db_backup_is_not_chromas():
    """STO-07: a backup named like the app's other store belongs to that store."""
    from aiaudit.storage.backups import Backup, _names_other_store
    from aiaudit.storage.locate import FileInfo, Store

    def backup(name: str) -> Backup:
        return Backup(FileInfo(f"/backup/{name}", 1, 0.0, 0o600, 0, "root"), "2", "/backup")

    def store(rel: str) -> Store:
        return Store("open-webui", "sqlite", f"/srv/data/{rel}", "/srv/data", ())

    chroma, webui = store("vector_db/chroma.sqlite3"), store("webui.db")
    assert _names_other_store(backup("webui.db"), chroma)
    assert _names_other_store(backup("webui.db.2026-12-01.gz"), chroma)
    assert not _names_other_store(backup("webui.db"), webui)
    assert not _names_other_store(backup("webui.db.tar.gz"), chroma)  # may hold it: opened
    agent = Store("openclaw", "sqlite", "/s/agents/main/agent/openclaw-agent.sqlite", "/s", ())
    assert not _names_other_store(backup("openclaw-backup-2026-12-01.tar.gz"), agent)
    assert _names_other_store(backup("openclaw.sqlite.bak"), agent)


def test_plugin_tables_are_read_from_the_real_schema(recorded):
    """Tools, Functions and Skills (open_webui/models/{tools,functions,skills}.py) as the
    server saved them through /api/v1/{tools,functions}/create: each row with its code,
    the docstring frontmatter Open WebUI parsed into meta.manifest and its production
    history entry."""
    name, conn, _ = recorded
    tables = open_webui.read_plugins(conn)
    assert tables.missing == []
    want = {"vulnerable": {"tool": 1, "function": 1, "skill": 1},
            "hardened": {"tool": 1, "function": 0, "skill": 0}}[name]
    assert tables.counts == want
    for plugin in (p for p in tables.plugins if p.kind != "skill"):
        assert plugin.content.startswith('"""\ntitle: ')
        assert plugin.manifest["title"] == plugin.name
    for plugin in tables.plugins:
        assert plugin.version_id and plugin.production == plugin.content
        assert plugin.history == 1 and plugin.user_id
    tool = next(p for p in tables.plugins if p.kind == "tool")
    if name == "vulnerable":
        assert tool.requirements() == ["requests"]
        assert tool.manifest["funding_url"].startswith("https://github.com/sponsors/")
        func = next(p for p in tables.plugins if p.kind == "function")
        assert func.is_active is False and func.is_global is False
        skill = next(p for p in tables.plugins if p.kind == "skill")  # data.files, as saved
        assert [path for path, _ in skill.files] == ["SKILL.md", "scripts/setup.sh"]
        assert skill.content.startswith("---\nname: deploy-helper") and skill.is_active
    else:
        assert tool.requirements() == []


def test_user_api_keys_are_kept_in_clear(recorded):
    """models/users.py ApiKey.key holds the key as issued (utils/auth.py create_api_key):
    the vulnerable admin's key is in webui.db verbatim; the hardened state issued none."""
    name, conn, meta = recorded
    columns = open_webui.plaintext_credential_columns()
    assert columns == {"api_key": ("key",)}
    keys = [r[0] for r in conn.execute('SELECT "key" FROM api_key')]
    assert keys == ([meta["planted"]["api key"]] if name == "vulnerable" else [])


@pytest.mark.parametrize("path,pip", [
    ("/home/a/venv/lib/python3.11/site-packages/open_webui/data", True),
    ("/home/a/.local/lib/python3.12/site-packages/open_webui/data", True),
    ("/app/backend/data", False), ("/srv/open-webui/data", False),
    ("/home/a/venv/lib/python3.11/site-packages/other/data", False)])
def test_a_pip_installs_data_dir_is_the_packages_own(path, pip):
    """open_webui/env.py: `serve` without DATA_DIR keeps it in OPEN_WEBUI_DIR / 'data'."""
    assert open_webui.is_pip_data_dir(path) is pip


def test_the_key_file_is_where_serve_ran():
    """open_webui/__init__.py KEY_FILE = Path.cwd() / '.webui_secret_key': beside DATA_DIR
    (Docker: /app/backend), beside or in the venv of a pip install."""
    data = "/home/a/venv/lib/python3.11/site-packages/open_webui/data"
    paths = open_webui.secret_key_paths(data)
    assert "/home/a/.webui_secret_key" in paths and "/home/a/venv/.webui_secret_key" in paths
    assert open_webui.secret_key_paths("/app/backend/data") == [
        "/app/backend/data/.webui_secret_key", "/app/backend/.webui_secret_key"]


@pytest.mark.parametrize("cmdline,venv", [
    ("/home/a/venv/bin/python3 /home/a/venv/bin/open-webui serve --port 8080", "/home/a/venv"),
    ("/opt/owui/bin/open-webui serve", "/opt/owui"),
    ("open-webui serve", None), ("uvicorn open_webui.main:app", None)])
def test_the_venv_a_serve_process_runs_from(cmdline, venv):
    assert open_webui.venv_of(cmdline) == venv


def test_a_home_or_venv_listing_gives_the_pip_data_dir():
    from aiaudit.scope import OPEN_WEBUI, classify

    rel = "venv/lib/python3.11/site-packages/open_webui/data"
    assert classify("/home/a", {rel}) == [(OPEN_WEBUI, f"/home/a/{rel}")]
    assert classify("/srv/owui/data", {"uploads", "cache", "vector_db"}) == [
        (OPEN_WEBUI, "/srv/owui/data")]  # DATABASE_URL put webui.db elsewhere
    assert classify("/srv/other", {"uploads", "cache"}) == [("", "/srv/other")]
