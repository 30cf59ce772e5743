"""Where self-hosted AI apps keep conversation history (see the storage reference notes).

Data, not code: each layout names the app, the env variable that overrides its state dir,
default state dirs (relative to a home directory or absolute), and globs of its history
stores relative to the state dir. `locate.py` turns these into one read-only shell script.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiaudit.products import gradio as _gradio
from aiaudit.products import hermes as _hermes
from aiaudit.products import open_webui, openclaw
from aiaudit.products import ray as _ray
from aiaudit.products.appstore import StoreApp, store_apps


@dataclass(frozen=True)
class StoreGlob:
    glob: str  # relative to the state dir; shell glob
    kind: str  # "sqlite" | "jsonl" | "json" | "csv" | "log" (plain text a job printed)


@dataclass(frozen=True)
class Layout:
    app: str
    env: str | None  # env variable that names the state dir
    home_dirs: tuple[str, ...]  # relative to each home directory
    abs_dirs: tuple[str, ...]  # absolute defaults (Docker images)
    stores: tuple[StoreGlob, ...]
    config_files: tuple[str, ...]  # relative to the state dir: files that may hold secrets
    retention: str  # how the app's retention knob works, for the report
    secret_stores: tuple[str, ...] = ()  # SQLite stores (globs) with provider keys in tables
    env_subdir: str = ""  # the state dir below the env's folder (n8n: $N8N_USER_FOLDER/.n8n)


S, J, JS, CSV, LOG = "sqlite", "jsonl", "json", "csv", "log"
# store kinds held in files the suite reads itself (database servers are not)
FILE_KINDS = (S, J, JS, CSV, LOG)

LAYOUTS: tuple[Layout, ...] = (
    Layout("hermes", _hermes.home_env(), (_hermes.product_data()["home"]["default"],), (),
           (StoreGlob("state.db", S), StoreGlob("profiles/*/state.db", S),
            StoreGlob("sessions/*.jsonl", J),
            # run_agent.py _save_session_log: sessions.write_json_snapshots writes the whole
            # conversation to sessions/session_<id>.json (redacted only while
            # security.redact_secrets is on)
            StoreGlob("sessions/session_*.json", JS)),
           (".env", "config.yaml", "auth.json", "profiles/*/.env", "profiles/*/config.yaml"),
           "config.yaml sessions.auto_prune + sessions.retention_days (aiaudit.products.hermes)"),
    Layout(openclaw.APP, openclaw.state_env(), openclaw.home_state_dir_names(), (),
           (StoreGlob("agents/*/agent/openclaw-agent.sqlite", S),
            StoreGlob("state/openclaw.sqlite", S),
            StoreGlob("state/openclaw-quarantine.sqlite", S),
            StoreGlob("agents/*/sessions/*.jsonl", J),
            # transcripts of deleted and reset sessions the gateway keeps (zstd when the
            # runtime has it): <id>.jsonl.deleted.<stamp>[.<gen>][.zst], .reset. alike
            *(StoreGlob(g, J) for g in openclaw.ARCHIVE_GLOBS)),
           (*openclaw.config_names(), "openclaw.json.bak", "openclaw.json.bak.*", ".env",
            "secrets.json", *openclaw.data()["auth_profiles"]["legacy_files"],
            "agents/*/agent/auth.json",
            "credentials/*.json"),
           "openclaw.json session.maintenance {mode: enforce, pruneAfter}",
           # secret_store_entries, mcp_oauth_stores; auth_profile_store (model auth
           # profiles): docs/gateway/security/secrets-and-storage.md
           ("state/openclaw.sqlite", "agents/*/agent/openclaw-agent.sqlite")),
    Layout(open_webui.APP, open_webui.state_env(), (), open_webui.abs_state_dirs(),
           (StoreGlob(open_webui.db_name(), S), StoreGlob(open_webui.vector_db(), S)),
           open_webui.secret_key_files(),
           "none: no retention setting (aiaudit.products.open_webui)",
           (open_webui.db_name(),)),
    Layout("anythingllm", "STORAGE_DIR", ("anything-llm/server/storage",
                                           ".config/anythingllm-desktop/storage"),
           ("/app/server/storage",),
           (StoreGlob("anythingllm.db", S),),
           (".env", "../.env"),
           "none (clearing a chat only sets include=false)"),
    Layout("text-generation-webui", None, ("text-generation-webui",),
           ("/opt/text-generation-webui", "/app"),
           (StoreGlob("user_data/logs/chat/*/*.json", JS), StoreGlob("logs/chat/*/*.json", JS)),
           ("user_data/settings.yaml",),
           "none"),
    Layout("jan", None, (".config/Jan/data", "jan"), (),
           (StoreGlob("threads/*/messages.jsonl", J),),
           ("settings/settings.json",),
           "none"),
    Layout("lmstudio", None, (".lmstudio", ".cache/lm-studio"), (),
           (StoreGlob("conversations/*.conversation.json", JS),),
           (),
           "none"),
    Layout(_gradio.APP, None, (_gradio.STATE_DIR,), (),
           tuple(StoreGlob(g, CSV) for g in _gradio.DATASETS), (), _gradio.RETENTION),
    Layout(_ray.APP, _ray.ENV, (), _ray.ABS_DIRS, tuple(StoreGlob(g, LOG) for g in _ray.LOGS),
           (), _ray.RETENTION, env_subdir=_ray.ENV_SUBDIR),
    Layout("sillytavern", None, ("SillyTavern",), ("/home/node/app", "/opt/SillyTavern"),
           (StoreGlob("data/*/chats/*/*.jsonl", J), StoreGlob("data/*/group chats/*.jsonl", J)),
           ("data/*/secrets.json", "config.yaml"),
           "none (backups/ kept forever by default)"),
)


def _store_app_layout(p: StoreApp) -> Layout:
    """An app described by its data file (aiaudit.products.appstore)."""
    return Layout(p.app, p.state_env(), p.home_dirs(), p.abs_dirs(),
                  (*(StoreGlob(g, S) for g in p.dbs()), *(StoreGlob(g, J) for g in p.logs()),
                   *(StoreGlob(g, JS) for g in p.json_stores())),
                  p.config_files(), p.retention().detail, p.dbs(), p.env_subdir())


LAYOUTS += tuple(_store_app_layout(p) for p in store_apps().values())

BY_APP = {layout.app: layout for layout in LAYOUTS}


def prefers(app: str, state_dir: str) -> bool:
    """Whether a state dir is named as the app names its own (`.n8n`, `.flowise`): a store
    file two apps name alike (database.sqlite) in such a dir is that app's."""
    layout = BY_APP.get(app)
    base = state_dir.rstrip("/").rsplit("/", 1)[-1]
    return bool(layout) and any(rel.rsplit("/", 1)[-1] == base for rel in layout.home_dirs)
ENV_VARS = tuple(sorted({layout.env for layout in LAYOUTS if layout.env}))
# Copies of a SQLite store that hold the same data (STO-01/03 inspect them all).
SQLITE_COPY_SUFFIXES = ("-wal", "-journal", ".bak", ".bak.*", ".backup", ".old", ".orig")
# Generic history files looked for in operator-configured state dirs no layout matched.
GENERIC_GLOBS = (StoreGlob("*.db", S), StoreGlob("*.sqlite", S), StoreGlob("*.sqlite3", S),
                 StoreGlob("*.jsonl", J), StoreGlob("*/*.db", S), StoreGlob("*/*.sqlite", S),
                 StoreGlob("*/*.jsonl", J))
