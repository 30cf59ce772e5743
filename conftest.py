"""Loads the aiaudit pytest plugin even before `pip install -e .` (then the entry point does)."""

pytest_plugins = ["aiaudit.plugin"]
