"""Conversation stores for selftests/test_storage_apps.py, rebuilt from rows real apps
wrote (selftests/fixtures/storage/apps/*.sql, recorded by record_app_stores.py; Open WebUI's
webui.sql recorded by record_open_webui_fixtures.py).

Langflow states: `vulnerable` is the recorded store as Langflow leaves it (config dir at
the umask, 0755/0644, with the planted chat and a key saved as a Generic variable), its
messages back-dated 200 days through their own `message.timestamp` and a literal key in the
`.env` Langflow's docs pass with `--env-file`; `hardened` follows Langflow's docs: only the
clean session (the planted one deleted, as DELETE /api/v1/monitor/messages/session/<id>
does), keys only as Credential variables, config dir 0700, store 0600.

Variants of a known app's real store (Open WebUI's recorded webui.db): compressed and
archived standalone backups, a SQLCipher copy, a secret only in the -wal, epoch-seconds vs
milliseconds chat times, an empty store and a truncated one.
"""

from __future__ import annotations

import gzip
import lzma
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LANGFLOW_SQL = FIXTURES / "storage" / "apps" / "langflow.sql"
WEBUI_SQL = FIXTURES / "open_webui" / "vulnerable" / "webui.sql"
DAYS_OLD = 200
ENV_KEY = "sk-proj-" + "Wm3Zc8Tn1Bq6Hv0Ks5Lx2Rd9Gf4Pj7Ya" + "Ue3No6Ib1Vt8Ck5Mz"


def _load(db: Path, sql: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    conn.executescript(sql.read_text(encoding="utf-8"))
    return conn


def _to_now(conn: sqlite3.Connection, table: str, column: str, fmt: str) -> None:
    """Move the recorded times forward by the time since recording (the newest is now), as
    the Open WebUI states do: a hardened store recorded today must not age past policy."""
    (newest,) = conn.execute(f'SELECT max(julianday("{column}")) FROM "{table}"').fetchone()
    if newest is not None:
        conn.execute(f'UPDATE "{table}" SET "{column}" = strftime(\'{fmt}\', '
                     f'julianday("{column}") + (julianday(\'now\') - {newest}))')


def langflow_state(root: Path, name: str) -> Path:
    """A Langflow config dir (LANGFLOW_CONFIG_DIR with LANGFLOW_SAVE_DB_IN_CONFIG_DIR=true)."""
    cfg = root / "langflow" / name
    cfg.mkdir(parents=True)
    conn = _load(cfg / "langflow.db", LANGFLOW_SQL)
    _to_now(conn, "message", "timestamp", "%Y-%m-%d %H:%M:%f")
    if name in ("hardened", "empty"):
        conn.execute("DELETE FROM message WHERE session_id != 'aiaudit-clean'")
        conn.execute("DELETE FROM variable WHERE type != 'Credential' AND value != ''")
    if name == "empty":  # every session deleted: 0 messages
        conn.execute("DELETE FROM message")
    if name == "vulnerable":
        conn.execute(f"UPDATE message SET timestamp = datetime(timestamp, '-{DAYS_OLD} days')")
    conn.commit()
    conn.execute("VACUUM")  # a fresh store: what a deleted row left is not the point here
    conn.close()
    # lfx/services/settings/auth.py: secrets.token_urlsafe(32), written 0600
    (cfg / "secret_key").write_text(secrets.token_urlsafe(32))
    (cfg / "secret_key").chmod(0o600)
    if name == "vulnerable":
        (cfg / ".env").write_text(f"LANGFLOW_AUTO_LOGIN=true\nOPENAI_API_KEY={ENV_KEY}\n")
        cfg.chmod(0o755)
        (cfg / "langflow.db").chmod(0o644)
    else:
        cfg.chmod(0o700)
        (cfg / "langflow.db").chmod(0o600)
    return cfg


FLOWISE_SQL = FIXTURES / "storage" / "apps" / "flowise.sql"
# dist/utils/index.js: encryption.key (generateEncryptKey, randomBytes(24) base64) and the
# auth secrets (generateAuthSecret, randomBytes(32) base64) Flowise writes at first start
FLOWISE_KEYS = {"encryption.key": 24, "express_session_secret.key": 32,
                "jwt_auth_token_secret.key": 32, "jwt_refresh_token_secret.key": 32,
                "token_hash_secret.key": 32}


def flowise_state(root: Path, name: str) -> Path:
    """A Flowise ~/.flowise. vulnerable: as `flowise start` leaves it (0755 dir, database,
    key files at 0644), messages 200 days old; hardened per Flowise's docs: the keys come
    from the environment or AWS Secrets Manager (FLOWISE_SECRETKEY_OVERWRITE,
    SECRETKEY_STORAGE_TYPE=aws, JWT_*_SECRET: no key file), the planted session deleted
    (DELETE /api/v1/chatmessage/<flow>?sessionId=), the key kept as a Credential only,
    dir 0700 and store 0600."""
    import base64

    home = root / "flowise" / name / ".flowise"
    home.mkdir(parents=True)
    conn = _load(home / "database.sqlite", FLOWISE_SQL)
    _to_now(conn, "chat_message", "createdDate", "%Y-%m-%d %H:%M:%f")
    if name == "hardened":
        conn.execute("DELETE FROM chat_message WHERE sessionId != 'aiaudit-clean'")
        conn.execute("DELETE FROM variable")
    else:
        conn.execute(f"UPDATE chat_message SET createdDate = "
                     f"strftime('%Y-%m-%d %H:%M:%f', createdDate, '-{DAYS_OLD} days')")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    if name == "vulnerable":
        for key, size in FLOWISE_KEYS.items():
            (home / key).write_text(base64.b64encode(os.urandom(size)).decode())
        home.chmod(0o755)
    else:
        home.chmod(0o700)
        (home / "database.sqlite").chmod(0o600)
    return home


MLFLOW_SQL = FIXTURES / "storage" / "apps" / "mlflow.sql"


def mlflow_state(root: Path, name: str) -> Path:
    """The dir of an MLflow tracking store (mlflow.db, its default sqlite:///mlflow.db).
    vulnerable: as MLflow writes it (0755 dir, 0644 store), both traces 200 days old;
    hardened: the planted trace deleted (MlflowClient.delete_traces), dir 0700, store 0600."""
    d = root / "mlflow" / name
    d.mkdir(parents=True)
    conn = _load(d / "mlflow.db", MLFLOW_SQL)
    ms = int(time.time() * 1000) - conn.execute("SELECT max(timestamp_ms) FROM trace_info"
                                                ).fetchone()[0]
    if name == "vulnerable":
        ms -= DAYS_OLD * 86400 * 1000
    conn.execute(f"UPDATE trace_info SET timestamp_ms = timestamp_ms + {ms}")
    conn.execute(f"UPDATE spans SET start_time_unix_nano = start_time_unix_nano + {ms}000000,"
                 f" end_time_unix_nano = end_time_unix_nano + {ms}000000")
    if name == "hardened":
        planted = [r[0] for r in conn.execute(
            "SELECT DISTINCT trace_id FROM spans WHERE name = 'session-planted'")]
        for table, col in (("spans", "trace_id"), ("trace_info", "request_id"),
                           ("trace_tags", "request_id"),
                           ("trace_request_metadata", "request_id")):
            conn.executemany(f"DELETE FROM {table} WHERE {col} = ?", [(t,) for t in planted])
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    d.chmod(0o755 if name == "vulnerable" else 0o700)
    (d / "mlflow.db").chmod(0o644 if name == "vulnerable" else 0o600)
    return d


def webui_db(path: Path, empty: bool = False) -> Path:
    """Open WebUI's recorded webui.db (its chats 0 days old unless moved)."""
    conn = _load(path, WEBUI_SQL)
    if empty:
        for table in ("chat", "chat_message"):
            conn.execute(f"DELETE FROM {table}")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    return path


def _age_chats(db: Path, days: int, unit: float) -> None:
    """Move the chats `days` back, their times in seconds (unit 1) or milliseconds (1000)."""
    conn = sqlite3.connect(db)
    for table in ("chat", "chat_message"):
        conn.execute(f"UPDATE {table} SET created_at = (created_at - {days * 86400}) * "
                     f"{unit}, updated_at = (updated_at - {days * 86400}) * {unit}")
    conn.commit()
    conn.close()


def variants(root: Path) -> dict[str, Path]:
    """{variant: dir} of Open WebUI stores (DATA_DIRs) and a backup dir."""
    out: dict[str, Path] = {}

    def data_dir(name: str) -> Path:
        d = root / name
        d.mkdir(parents=True)
        d.chmod(0o700)
        out[name] = d
        return d

    root.mkdir(parents=True, exist_ok=True)
    base = webui_db(root / "base.db")
    for name, unit in (("seconds", 1), ("millis", 1000)):
        d = data_dir(name)
        shutil.copy(base, d / "webui.db")
        _age_chats(d / "webui.db", DAYS_OLD, unit)
    webui_db(data_dir("empty") / "webui.db", empty=True)
    d = data_dir("truncated")
    data = base.read_bytes()
    (d / "webui.db").write_bytes(data[: len(data) // 3])
    # the secret only in the -wal: a chat written after the last checkpoint
    d = data_dir("walonly")
    webui_db(d / "webui.db", empty=True)
    conn = sqlite3.connect(d / "webui.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    src = sqlite3.connect(base)
    cols = [r[1] for r in src.execute("PRAGMA table_info(chat)")]
    rows = src.execute("SELECT * FROM chat").fetchall()
    src.close()
    conn.executemany(f"INSERT INTO chat VALUES ({', '.join('?' * len(cols))})", rows)
    conn.commit()
    shutil.copy(d / "webui.db-wal", root / "walonly.wal")  # before close checkpoints it
    shutil.copy(d / "webui.db", root / "walonly.db")
    conn.close()
    for f in d.iterdir():
        f.unlink()
    shutil.copy(root / "walonly.db", d / "webui.db")
    shutil.copy(root / "walonly.wal", d / "webui.db-wal")
    # a truncated store that holds no secret in the bytes left (a hardened Langflow store)
    lf = langflow_state(root / "lf", "hardened") / "langflow.db"  # root/lf/langflow/hardened
    cut = data_dir("truncated-clean") / "langflow.db"
    cut.write_bytes(lf.read_bytes()[: lf.stat().st_size // 4])
    # another app's store under Flowise's store name (n8n's is database.sqlite too): here
    # Langflow's planted store, 200 days old
    old = langflow_state(root / "lf", "vulnerable") / "langflow.db"
    shutil.copy(old, data_dir("foreign-name") / "database.sqlite")
    # standalone backups of the store, each packed another way
    backups = root / "backups"
    backups.mkdir(mode=0o700)
    out["backups"] = backups
    (backups / "webui.db.gz").write_bytes(gzip.compress(data))
    (backups / "webui.db.xz").write_bytes(lzma.compress(data))
    if shutil.which("zstd"):
        subprocess.run(["zstd", "-q", "-o", str(backups / "webui.db.zst"), str(base)],
                       check=True)
    with zipfile.ZipFile(backups / "webui-db.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(base, "data/webui.db")
    with tarfile.open(backups / "webui-data.tar", "w") as tf:
        tf.add(base, "data/webui.db")
    # a SQLCipher copy (sqlcipher_export), opened with its key from [[storage.keys]]
    key = secrets.token_hex(32)
    (root / "cipher.key").write_text(key + "\n")
    for name in ("cipher-keyed", "cipher-nokey"):
        d = data_dir(name)
        _sqlcipher_copy(base, d / "webui.db", key)
    os.chmod(root / "cipher.key", 0o600)
    return out


def _sqlcipher_copy(plain: Path, out: Path, key: str) -> None:
    from sqlcipher3 import dbapi2 as sqlcipher

    conn = sqlcipher.connect(str(plain))
    conn.execute(f"ATTACH DATABASE '{out}' AS enc KEY \"x'{key}'\"")
    conn.execute("SELECT sqlcipher_export('enc')")
    conn.execute("DETACH DATABASE enc")
    conn.close()


APPS = FIXTURES / "storage" / "apps"
# The n8n user folder's `.env` (n8n/bin/n8n loads it with dotenv from its working dir):
# the hardened one as n8n's docs set it up (pruning on, 30 days; the key from a secrets
# file; loopback only; the settings file's modes enforced), the variants one knob each.
N8N_ENV = {
    "hardened": "EXECUTIONS_DATA_PRUNE=true\nEXECUTIONS_DATA_MAX_AGE=720\n"
                "N8N_ENCRYPTION_KEY_FILE=/run/secrets/n8n_encryption_key\n"
                "N8N_LISTEN_ADDRESS=127.0.0.1\nN8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=true\n",
    "prune-off": "EXECUTIONS_DATA_PRUNE=false\n",
    "unenforced": "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false\n",
}


def n8n_state(root: Path, name: str) -> Path:
    """An n8n user folder (N8N_USER_FOLDER) holding the .n8n n8n 2.41.1 wrote
    (selftests/record_n8n_fixtures.py): database.sqlite from the recorded rows, its `config`
    and n8nEventLog.log as written. vulnerable: defaults, the planted chat, executions
    back-dated 200 days through execution_entity's own times, modes as n8n left them at
    umask 022 (folders 0755, store and log 0644, config 0600: 2.41.1 enforces that one);
    hardened: a second instance run per n8n's docs (N8N_ENCRYPTION_KEY from the
    environment, EXECUTIONS_DATA_MAX_AGE=720, loopback, umask 077) that saw the clean chat
    only; deleted: the vulnerable instance after the planted session's executions were
    deleted through its API (the event log keeps them); chathub: that instance after one
    more planted message through n8n's Chat Hub, its conversation back-dated 200 days;
    prune-off and unenforced: the vulnerable rows at today's times with one setting in the
    user folder's .env."""
    recorded = {"hardened": "hardened", "deleted": "deleted", "chathub": "chathub"}.get(
        name, "vulnerable")
    folder = root / "n8n" / name
    if name == "elsewhere":  # DB_SQLITE_DATABASE=/srv/n8n-db/database.sqlite: the store alone
        return _n8n_store_elsewhere(folder)
    home = folder / ".n8n"
    home.mkdir(parents=True)
    conn = _load(home / "database.sqlite", APPS / f"n8n-{recorded}.sql")
    for column in ("createdAt", "startedAt", "stoppedAt"):
        _to_now(conn, "execution_entity", column, "%Y-%m-%d %H:%M:%f")
    if name == "chathub":  # its Chat Hub conversation back-dated by its own times
        for table, cols in (("chat_hub_messages", ("createdAt", "updatedAt")),
                            ("chat_hub_sessions", ("createdAt", "updatedAt", "lastMessageAt"))):
            for c in cols:  # from today, not from the recording (it aged a day a day)
                _to_now(conn, table, c, "%Y-%m-%d %H:%M:%f")
            conn.execute(f"UPDATE {table} SET " + ", ".join(
                f"{c} = strftime('%Y-%m-%d %H:%M:%f', {c}, '-{DAYS_OLD} days')" for c in cols))
    if name == "vulnerable":
        conn.execute("UPDATE execution_entity SET " + ", ".join(
            f"{c} = strftime('%Y-%m-%d %H:%M:%f', {c}, '-{DAYS_OLD} days')"
            for c in ("createdAt", "startedAt", "stoppedAt")))
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    shutil.copyfile(APPS / f"n8n-{recorded}.config", home / "config")
    shutil.copyfile(APPS / f"n8n-{recorded}.eventlog", home / "n8nEventLog.log")
    if name in N8N_ENV:
        (folder / ".env").write_text(N8N_ENV[name])
    private = name == "hardened"
    for path in (folder, home):
        path.chmod(0o700 if private else 0o755)
    for path in (home / "database.sqlite", home / "n8nEventLog.log", folder / ".env"):
        if path.exists():
            path.chmod(0o600 if private else 0o644)
    (home / "config").chmod(0o644 if name == "unenforced" else 0o600)
    return folder


def _n8n_store_elsewhere(folder: Path) -> Path:
    """The vulnerable recording's store alone in a dir named neither `.n8n` nor `.flowise`,
    as an absolute DB_SQLITE_DATABASE puts it (@n8n/db db-connection-options.js:
    path.resolve(n8nFolder, database)), at today's times, 0700/0600."""
    folder.mkdir(parents=True)
    conn = _load(folder / "database.sqlite", APPS / "n8n-vulnerable.sql")
    for column in ("createdAt", "startedAt", "stoppedAt"):
        _to_now(conn, "execution_entity", column, "%Y-%m-%d %H:%M:%f")
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    folder.chmod(0o700)
    (folder / "database.sqlite").chmod(0o600)
    return folder
