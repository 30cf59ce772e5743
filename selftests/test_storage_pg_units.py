"""The PostgreSQL store reader's pieces that need no server: the URL forms the apps read
(open_webui/env.py DATABASE_URL and its DB_VARS parts), the password kept off the DSN,
and the `[[storage.databases]]` entry's checks (a bad entry is one usage line)."""

from __future__ import annotations

import pytest

from aiaudit.config import SettingsError
from aiaudit.products import pg_apps
from aiaudit.storage.pgread import PgDatabase, is_pg_url, split_password
from aiaudit.storage.settings import parse_settings

# made up for the test: never a real credential
PW = "made-up-pw-" + "x7Q"


@pytest.mark.parametrize("url, dsn", [
    (f"postgresql://webui:{PW}@db.internal:5432/webui",
     "postgresql://webui@db.internal:5432/webui"),
    (f"postgres://webui:{PW}@127.0.0.1/webui", "postgresql://webui@127.0.0.1/webui"),
    (f"postgresql+psycopg2://webui:{PW}@/webui?host=/run/postgresql",
     "postgresql://webui@/webui?host=/run/postgresql"),
    ("postgresql://webui@/webui?host=/run/postgresql",
     "postgresql://webui@/webui?host=/run/postgresql"),
    (f"postgresql://webui:{PW.replace('-', '%2D')}@h/webui", "postgresql://webui@h/webui"),
])
def test_password_is_split_off_every_url_form(url: str, dsn: str):
    clean, password = split_password(url)
    assert clean == dsn
    assert password in (None, PW)
    assert PW not in clean
    assert is_pg_url(url) and not is_pg_url("sqlite:////srv/webui.db")


def test_database_is_named_without_its_password():
    db = PgDatabase("open-webui", "postgresql://webui@/webui?host=/run/postgresql", "test",
                    app_password=PW)
    assert db.name == "webui@/run/postgresql"
    assert PW not in db.name + db.case_id + repr(db)


def test_open_webui_url_from_its_environment():
    s = pg_apps.schema("open-webui")
    assert s is not None and s.version == "0.12.4"
    assert pg_apps.url_from_env(s, {"DATABASE_URL": "postgresql://u@h/d"})[0] == \
        "postgresql://u@h/d"
    parts = {"DATABASE_TYPE": "postgresql", "DATABASE_USER": "u", "DATABASE_PASSWORD": PW,
             "DATABASE_HOST": "h", "DATABASE_PORT": "5432", "DATABASE_NAME": "d",
             "DATABASE_URL": "sqlite:////srv/webui.db"}
    # env.py: all six parts set -> the URL is built from them, DATABASE_URL is not used
    assert pg_apps.url_from_env(s, parts)[0] == f"postgresql://u:{PW}@h:5432/d"
    del parts["DATABASE_PORT"]
    assert pg_apps.url_from_env(s, parts)[0] == "sqlite:////srv/webui.db"
    assert {t.name for t in s.history} == {"chat", "chat_message", "shared_chat"}


def test_databases_entry_is_checked():
    ok = parse_settings({"databases": [{"app": "open-webui", "password_env": "PG_PW",
                                        "dsn": "postgresql://ro@/webui?host=/run/pg"}]})
    assert ok.databases[0].credential.describe() == "env $PG_PW"
    for bad, says in (
            ({"app": "open-webui", "dsn": f"postgresql://ro:{PW}@h/webui"}, "literal secrets"),
            ({"app": "open-webui", "dsn": f"host=h dbname=webui password={PW}"},
             "literal secrets"),
            ({"app": "librechat", "dsn": "postgresql://ro@h/x"}, "one of open-webui"),
            ({"app": "open-webui"}, "required"),
            ({"app": "open-webui", "dsn": "postgresql://ro@h/x", "password_env": "A",
              "password_file": "/b"}, "at most one"),
            ({"app": "open-webui", "dsn": "postgresql://ro@h/x", "user": "x"}, "unknown key")):
        with pytest.raises(SettingsError) as err:
            parse_settings({"databases": [bad]})
        assert says in str(err.value)
        assert PW not in str(err.value)


def test_n8n_database_from_its_environment():
    """@n8n/config 2.39.0 database.config.js: DB_TYPE=postgresdb and the DB_POSTGRESDB_*
    parts, each defaulted (localhost:5432, database n8n, user postgres, schema public)."""
    s = pg_apps.schema("n8n")
    assert s is not None and not s.known  # its tables are not read yet: MANUAL
    assert pg_apps.url_from_env(s, {"DB_POSTGRESDB_HOST": "db"}) is None  # DB_TYPE sqlite
    url, where = pg_apps.url_from_env(s, {"DB_TYPE": "postgresdb"})
    assert (url, where) == ("postgresql://postgres@localhost:5432/n8n", "DB_TYPE=postgresdb")
    url, _ = pg_apps.url_from_env(s, {
        "DB_TYPE": "postgresdb", "DB_POSTGRESDB_HOST": "10.0.0.5", "DB_POSTGRESDB_PORT": "6432",
        "DB_POSTGRESDB_DATABASE": "flows", "DB_POSTGRESDB_USER": "n8n",
        "DB_POSTGRESDB_PASSWORD": PW, "DB_POSTGRESDB_SCHEMA": "n8n_data"})
    dsn, password = split_password(url)
    assert password == PW
    assert dsn == "postgresql://n8n@10.0.0.5:6432/flows?options=-csearch_path%3Dn8n_data"
    assert s.runs("/usr/bin/node /usr/local/bin/n8n start") and s.runs("n8n")
    assert not s.runs("/usr/local/bin/open-webui serve")


def test_password_in_the_query_string_leaves_the_dsn_too():
    clean, password = split_password(f"postgresql://ro@h/webui?sslmode=require&password={PW}")
    assert (clean, password) == ("postgresql://ro@h/webui?sslmode=require", PW)


def test_no_psql_on_the_target_is_manual(tmp_path, monkeypatch):
    """A target without psql (no postgresql-client): MANUAL naming it, never PASS."""
    import os

    from aiaudit.hostfs import HostFS
    from aiaudit.storage.pgread import PgUnavailable, query

    (tmp_path / "sh").symlink_to("/bin/sh")  # a PATH holding a shell and no psql
    monkeypatch.setitem(os.environ, "PATH", str(tmp_path))
    db = PgDatabase("open-webui", "postgresql://webui@/webui?host=/run/postgresql", "test",
                    app_password=PW)
    with pytest.raises(PgUnavailable) as err:
        query(HostFS("local"), db, "SELECT 1 AS x")
    assert "psql is not installed" in err.value.reason and PW not in err.value.reason
