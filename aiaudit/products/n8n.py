"""n8n (npm `n8n` 2.41.1): ~/.n8n (`N8N_USER_FOLDER`/.n8n) with `database.sqlite` (every
workflow run, chat turns included, in `execution_data`), the `config` settings file holding
the `encryptionKey` of its credentials, and `n8nEventLog*.log` (the model's prompts and
answers). Retention is read from n8n's environment (`EXECUTIONS_DATA_*`, with n8n's
defaults). Facts and their source files: `aiaudit/data/n8n.toml`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiaudit.products.appstore import StoreApp

APP = "n8n"
PRODUCT = StoreApp(APP, "n8n")


# `n8n` or `n8n start` serves the editor and API; `n8n worker` / `n8n webhook` are queue
# processes (n8n/dist/commands)
_START = re.compile(r"(^|/)n8n(\s+start\b.*|\s+-.*)?$")


@dataclass(frozen=True)
class ListenIntent:
    host: str
    detail: str


def listen_intent(command: str, env: dict[str, str]) -> ListenIntent | None:
    """Where `n8n start` in a service's command line (or a unit setting N8N_LISTEN_ADDRESS)
    will listen: N8N_LISTEN_ADDRESS, else n8n's default `::` (every address; data/n8n.toml
    [defaults], from @n8n/config's GlobalConfig)."""
    var = "N8N_LISTEN_ADDRESS"
    if not (_START.search(command) or var in env):
        return None
    default = str(PRODUCT.data.defaults()[var])
    host = env.get(var) or default
    shown = f"{var}={env[var]}" if env.get(var) else \
        f"{var} unset (n8n {PRODUCT.data()['version']} default {default}: every address)"
    return ListenIntent(host, f"{shown}; port {env.get('N8N_PORT') or 5678}")
