"""LibreChat (MongoDB) and LobeChat (PostgreSQL) history, judged from what the host shows:
command lines as LibreChat's stock compose and Debian's packages start them."""

from __future__ import annotations

from aiaudit.storage.dbservers import mongo_settings, postgres_settings

LIBRECHAT_COMPOSE = "mongod --noauth"  # LibreChat docker-compose.yml `command:`
MONGOD_CONF = """\
storage:
  dbPath: /var/lib/mongodb
security:
  authorization: enabled
  enableEncryption: true
"""


def test_librechat_stock_mongod_runs_without_auth_or_encryption():
    s = mongo_settings(LIBRECHAT_COMPOSE)
    assert s["auth"] == "off" and s["encryption_at_rest"] == "false"
    assert s["data_dir"] == "/data/db"  # the image's default dbPath


def test_mongod_config_file_settings_are_read():
    s = mongo_settings("/usr/bin/mongod --config /etc/mongod.conf", MONGOD_CONF)
    assert s == {"engine": "mongodb", "auth": "on", "encryption_at_rest": "true",
                 "data_dir": "/var/lib/mongodb"}


def test_command_line_wins_over_defaults():
    s = mongo_settings("mongod --auth --dbpath=/srv/mongo --enableEncryption")
    assert (s["auth"], s["encryption_at_rest"], s["data_dir"]) == ("on", "true", "/srv/mongo")


def test_postgres_data_dir_and_no_tde():
    s = postgres_settings("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main "
                          "-c config_file=/etc/postgresql/15/main/postgresql.conf")
    assert s["data_dir"] == "/var/lib/postgresql/15/main"
    assert "not available" in s["encryption_at_rest"]
