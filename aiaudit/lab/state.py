"""Where a deployment lives on disk and what the lab recorded about it.

``state.json`` is the single source of truth for ``down`` and ``status``: it is rewritten
after every process start so a crash half-way through ``up`` still leaves enough behind
to clean up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_ROOT = "/var/lib/aiaudit-lab"
STATE_FILE = "state.json"


def lab_root() -> Path:
    """Root of all deployments; ``AIAUDIT_LAB_ROOT`` overrides it (tests, odd hosts)."""
    root = Path(os.environ.get("AIAUDIT_LAB_ROOT") or DEFAULT_ROOT)
    slot = os.environ.get("AIAUDIT_LAB_SLOT", "0")
    return root if slot in ("", "0") else root.with_name(f"{root.name}-slot{slot}")


def deployment_dir(name: str) -> Path:
    return lab_root() / name


def load(name: str) -> dict[str, Any] | None:
    """Recorded state of deployment ``name``, or None when nothing was recorded."""
    path = deployment_dir(name) / STATE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def save(name: str, data: dict[str, Any]) -> None:
    """Write atomically so a concurrent ``status`` never reads half a file."""
    path = deployment_dir(name) / STATE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def forget(name: str) -> None:
    try:
        (deployment_dir(name) / STATE_FILE).unlink()
    except FileNotFoundError:
        pass
