"""Store states unlike the ones the storage controls were built on, made from files real
apps wrote (selftests/test_storage_held_out.py audits them):

* flowise-api-deleted: Flowise 3.1.4's database.sqlite as Flowise left it after the
  planted chat session was deleted through its own API (DELETE /api/v1/chatmessage/<flow>
  ?sessionId=...&hardDelete=true; recorded by `record_app_stores.py flowise-deleted`, kept
  as the file, gzipped: a dump would lose the freed pages). Flowise's SQLite is
  node-sqlite3's bundled 3.44.2, built without SQLITE_SECURE_DELETE
  (node_modules/sqlite3/deps/common-sqlite.gypi), and Flowise never VACUUMs: the deleted
  rows stay in the freed pages;
* mlflow-api-deleted: MLflow 3.17.2's mlflow.db after the planted trace was deleted
  through MlflowClient.delete_traces (`record_app_stores.py mlflow-deleted`, the file kept):
  foreign keys on and Debian's SQLite with secure_delete, so nothing of it is left;
* llm-symlinked / flowise-symlinked: the app's dir below the user's home is a symlink to a
  data dir elsewhere (both apps open it through the link: llm's user_dir(), Flowise's
  path.join(homedir(), '.flowise'));
* langflow-pip: Langflow's default store place for a pip install: `langflow run` without
  LANGFLOW_SAVE_DB_IN_CONFIG_DIR writes langflow.db into the langflow package's own dir
  (lfx/services/settings/groups/database.py; seen on a real run of langflow 1.13.0), the
  config dir ~/.cache/langflow holds only secret_key. Here the recorded planted rows in a
  venv's site-packages/langflow/ (the venv as pyvenv.cfg and that dir only);
  langflow-pip-private the hardened rows there, langflow.db chmod 0600 by the operator;
* langflow-venv: langflow-pip again, the audit naming only the venv (~/venv): the key
  Langflow generated for that store is in ~/.cache/langflow/secret_key
  (lfx/services/settings/auth.py get_secret_key: <config_dir>/secret_key, config_dir
  ~/.cache/langflow by default), outside every dir the audit names;
* langflow-unit / n8n-unit: deployments the audit knows by their systemd unit only; the
  unit's Environment= names the config dir (LANGFLOW_CONFIG_DIR, N8N_USER_FOLDER), its
  ExecStart the venv Langflow runs from;
* langflow-dburl / langflow-envfile: Langflow's store moved by LANGFLOW_DATABASE_URL
  (lfx/services/settings/groups/database.py set_database_url: the env variable wins over
  every default place) to a file of another name in another dir; set in the unit's
  Environment= (langflow-dburl: the recorded planted rows in data/chats.sqlite, 0644 in a
  0755 dir) or in the `.env` its ExecStart passes with `--env-file` (langflow/__main__.py
  run: load_dotenv(env_file, override=True) before the settings load; langflow-envfile: the
  hardened rows in store/flows.db, 0600 in a 0700 dir). The config dir holds secret_key;
  the venv's langflow package dir holds no store;
* langflow-foreign: Langflow's planted config dir owned by another account, its files
  0600 (the dir 0755), audited without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH;
* langflow-closed: the same with the dir 0700 too.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import time
from pathlib import Path

from selftests import app_states

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FLOWISE_DELETED = FIXTURES / "storage" / "apps" / "flowise-deleted.sqlite.gz"
MLFLOW_DELETED = FIXTURES / "storage" / "apps" / "mlflow-deleted.db.gz"
LLM = FIXTURES / "llm" / "vulnerable"
# the key typed into the deleted session (record_app_stores.PLANTED)
PLANTED = "sk-proj-" + "Q7vX2mN9pL4kR8sT1wY6zB3cF5hJ0dG" + "aE2iO9uK7nM4qW1xZ"


def flowise_api_deleted(root: Path) -> Path:
    """~/.flowise with the recorded store, the kept session moved to now (its rows are
    rewritten in place; the freed pages are not touched), modes as Flowise's hardened
    state (dir 0700, store 0600, keys from the environment: no key file)."""
    home = root / "flowise-api-deleted" / ".flowise"
    home.mkdir(parents=True)
    db = home / "database.sqlite"
    db.write_bytes(gzip.decompress(FLOWISE_DELETED.read_bytes()))
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA secure_delete = OFF")  # no page of the store zeroed here
    app_states._to_now(conn, "chat_message", "createdDate", "%Y-%m-%d %H:%M:%f")
    conn.commit()
    conn.close()
    home.chmod(0o700)
    db.chmod(0o600)
    return home


def mlflow_api_deleted(root: Path) -> Path:
    """The recorded mlflow.db, the kept trace moved to now, dir 0700 and store 0600."""
    d = root / "mlflow-api-deleted"
    d.mkdir(parents=True)
    db = d / "mlflow.db"
    db.write_bytes(gzip.decompress(MLFLOW_DELETED.read_bytes()))
    conn = sqlite3.connect(db)
    ms = int(time.time() * 1000) - conn.execute("SELECT max(timestamp_ms) FROM trace_info"
                                                ).fetchone()[0]
    conn.execute(f"UPDATE trace_info SET timestamp_ms = timestamp_ms + {ms}")
    conn.execute(f"UPDATE spans SET start_time_unix_nano = start_time_unix_nano + {ms}000000,"
                 f" end_time_unix_nano = end_time_unix_nano + {ms}000000")
    conn.commit()
    conn.close()
    d.chmod(0o700)
    db.chmod(0o600)
    return d


def llm_symlinked(root: Path) -> Path:
    """A user home whose ~/.config/io.datasette.llm links to a data dir beside it holding
    llm's recorded vulnerable state (logs.db 0644 in a 0755 dir, keys.json 0600)."""
    base = root / "llm-symlinked"
    data = base / "data"
    data.mkdir(parents=True)
    data.chmod(0o755)
    (data / "logs.db").write_bytes(gzip.decompress((LLM / "logs.db.gz").read_bytes()))
    (data / "logs.db").chmod(0o644)
    shutil.copyfile(LLM / "keys.json", data / "keys.json")
    (data / "keys.json").chmod(0o600)
    home = base / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "io.datasette.llm").symlink_to("../../data")
    return home


def flowise_symlinked(root: Path) -> Path:
    """A user home whose ~/.flowise links to Flowise's hardened state elsewhere."""
    base = root / "flowise-symlinked"
    real = app_states.flowise_state(base / "srv", "hardened")  # .../srv/flowise/hardened/.flowise
    home = base / "home"
    home.mkdir(parents=True)
    (home / ".flowise").symlink_to(real)
    return home


def langflow_pip(root: Path, label: str = "langflow-pip", rows: str = "vulnerable") -> Path:
    """A user home with ~/venv (Langflow pip-installed) and ~/.cache/langflow/secret_key;
    `rows` the recorded state's rows (the planted or the hardened store), langflow.db at
    the 0644 Langflow leaves (the hardened rows: 0600, as an operator chmods it)."""
    home = root / label / "home"
    cfg = app_states.langflow_state(root / label, rows)
    pkg = home / "venv" / "lib" / "python3.11" / "site-packages" / "langflow"
    pkg.mkdir(parents=True)
    (home / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    (pkg / "__init__.py").write_text("")
    shutil.move(cfg / "langflow.db", pkg / "langflow.db")
    (home / ".cache" / "langflow").mkdir(parents=True)
    shutil.move(cfg / "secret_key", home / ".cache" / "langflow" / "secret_key")
    shutil.rmtree(root / label / "langflow")  # its .env is not this state's
    for d in (pkg, *pkg.parents):
        if d == home:
            break
        d.chmod(0o755)
    (pkg / "langflow.db").chmod(0o644 if rows == "vulnerable" else 0o600)
    return home


def _langflow_moved(root: Path, label: str, rows: str, rel: str) -> tuple[Path, Path, Path]:
    """(venv, config dir, store) of a Langflow whose store lives at base/label/rel."""
    base = root / label
    cfg = app_states.langflow_state(base, rows)  # base/langflow/<rows>
    store = base / rel
    store.parent.mkdir(parents=True)
    shutil.move(cfg / "langflow.db", store)
    (cfg / ".env").unlink(missing_ok=True)  # the recorded state's .env is not this one's
    config = base / "config"
    cfg.rename(config)
    shutil.rmtree(base / "langflow")
    venv = base / "venv"
    pkg = venv / "lib" / "python3.11" / "site-packages" / "langflow"
    pkg.mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.7\n")
    (pkg / "__init__.py").write_text("")
    config.chmod(0o700)
    private = rows == "hardened"
    store.parent.chmod(0o700 if private else 0o755)
    store.chmod(0o600 if private else 0o644)
    return venv, config, store


# a made-up key of the OpenAI shape, as an operator writes one into the env file
ENVFILE_KEY = "sk-proj-" + "Env5F1leKq8Wz3Xc6Vb9Nm2Lk4Jh7Gf0Ds" + "Ap1Oi9Uy3Tr6Eq"


def _envfile_key(root: Path, unit_dir: Path) -> None:
    """langflow-envfile-key: as langflow-envfile, with a provider key in the env file the
    unit passes with --env-file (Langflow exports it into its environment)."""
    venv, cfg, store = _langflow_moved(root, "langflow-envfile-key", "hardened",
                                       "store/flows.db")
    env_file = root / "langflow-envfile-key" / "langflow.env"
    env_file.write_text(f"LANGFLOW_CONFIG_DIR={cfg}\nLANGFLOW_DATABASE_URL=sqlite:///{store}\n"
                        f"OPENAI_API_KEY={ENVFILE_KEY}\n")
    env_file.chmod(0o600)
    (unit_dir / "langflow-envfile-key.service").write_text(
        "[Unit]\nDescription=Langflow\n\n[Service]\nUser=root\n"
        f"ExecStart={venv}/bin/langflow run --env-file={env_file}\n"
        "\n[Install]\nWantedBy=multi-user.target\n")


def units(root: Path) -> Path:
    """The unit dir of langflow-unit, n8n-unit, langflow-dburl and langflow-envfile (bound
    over /etc/systemd/system)."""
    unit_dir = root / "systemd"
    unit_dir.mkdir()
    venv, cfg, store = _langflow_moved(root, "langflow-dburl", "vulnerable", "data/chats.sqlite")
    (unit_dir / "langflow-dburl.service").write_text(
        "[Unit]\nDescription=Langflow\n\n[Service]\nUser=root\n"
        f'Environment="LANGFLOW_CONFIG_DIR={cfg}" "LANGFLOW_DATABASE_URL=sqlite:///{store}"\n'
        f"ExecStart={venv}/bin/langflow run --host 127.0.0.1\n"
        "\n[Install]\nWantedBy=multi-user.target\n")
    venv, cfg, store = _langflow_moved(root, "langflow-envfile", "hardened", "store/flows.db")
    env_file = root / "langflow-envfile" / "langflow.env"
    env_file.write_text(f"LANGFLOW_CONFIG_DIR={cfg}\nLANGFLOW_DATABASE_URL=sqlite:///{store}\n"
                        "LANGFLOW_AUTO_LOGIN=false\n")
    env_file.chmod(0o600)
    _envfile_key(root, unit_dir)
    (unit_dir / "langflow-envfile.service").write_text(
        "[Unit]\nDescription=Langflow\n\n[Service]\nUser=root\n"
        f"ExecStart={venv}/bin/langflow run --host 127.0.0.1 --env-file {env_file}\n"
        "\n[Install]\nWantedBy=multi-user.target\n")
    home = langflow_pip(root, "langflow-unit")
    (unit_dir / "langflow.service").write_text(
        "[Unit]\nDescription=Langflow\n\n[Service]\nUser=root\n"
        f"Environment=LANGFLOW_CONFIG_DIR={home}/.cache/langflow\n"
        f"ExecStart={home}/venv/bin/langflow run --host 127.0.0.1\n"
        "\n[Install]\nWantedBy=multi-user.target\n")
    folder = app_states.n8n_state(root / "n8n-unit", "vulnerable")
    (unit_dir / "n8n.service").write_text(
        "[Unit]\nDescription=n8n\n\n[Service]\nUser=root\n"
        f'Environment="N8N_USER_FOLDER={folder}" "N8N_PORT=5678"\n'
        "ExecStart=/usr/bin/n8n start\n\n[Install]\nWantedBy=multi-user.target\n")
    return unit_dir


def langflow_foreign(root: Path, owner: str, name: str, dir_mode: int) -> Path:
    """Langflow's planted config dir (with its .env) handed to `owner`, files 0600."""
    import pwd

    app_states.langflow_state(root / name, "vulnerable")
    cfg = root / name / "langflow" / "vulnerable"
    uid = pwd.getpwnam(owner).pw_uid
    for path in (cfg, *cfg.iterdir()):
        os.chown(path, uid, uid)
        path.chmod(dir_mode if path == cfg else 0o600)
    return cfg
