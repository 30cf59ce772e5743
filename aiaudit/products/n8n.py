"""n8n (npm `n8n` 2.41.1): ~/.n8n (`N8N_USER_FOLDER`/.n8n) with `database.sqlite` (every
workflow run, chat turns included, in `execution_data`), the `config` settings file holding
the `encryptionKey` of its credentials, and `n8nEventLog*.log` (the model's prompts and
answers). Retention is read from n8n's environment (`EXECUTIONS_DATA_*`, with n8n's
defaults). Facts and their source files: `aiaudit/data/n8n.toml`."""

from __future__ import annotations

from aiaudit.products.appstore import StoreApp

APP = "n8n"
PRODUCT = StoreApp(APP, "n8n")
