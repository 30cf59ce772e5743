"""Langflow (PyPI `langflow` 1.13.0): its config dir (`LANGFLOW_CONFIG_DIR`, else
~/.cache/langflow), `langflow.db` with every flow run's chat messages in `message`, its
`secret_key` file and the Fernet-encrypted `variable` / `apikey` columns. Facts and their
source files: `aiaudit/data/langflow.toml`."""

from __future__ import annotations

from aiaudit.products.appstore import StoreApp

APP = "langflow"
PRODUCT = StoreApp(APP, "langflow")
