"""Flowise (npm `flowise` 3.1.4): ~/.flowise (`DATABASE_PATH` for the store) with
`database.sqlite` (every prediction's messages in `chat_message`), `encryption.key` and the
auth secrets beside it. Facts and their source files: `aiaudit/data/flowise.toml`."""

from __future__ import annotations

from aiaudit.products.appstore import StoreApp

APP = "flowise"
PRODUCT = StoreApp(APP, "flowise")
