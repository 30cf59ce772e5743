"""Command-line options of the injection area (added through the plugin's pytest_addoption)."""

from __future__ import annotations

from typing import Any

from aiaudit.context import AuditContext

_KEY = "injection:garak_native"


def add_options(group: Any) -> None:
    group.addoption("--garak-native", action="store_true", default=False,
                    help="also run garak's own command against each chat channel and show "
                         "its findings in the report (needs pip install 'aiaudit[garak]')")


def remember(ctx: AuditContext, config: Any) -> None:
    """Called at configure time (tests_injection/conftest.py): keep the option on the run."""
    ctx.cached(_KEY, lambda: bool(config.getoption("garak_native", False)))


def garak_native(ctx: AuditContext) -> bool:
    return bool(ctx.cached(_KEY, lambda: False))
