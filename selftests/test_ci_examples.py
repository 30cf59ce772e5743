"""The CI examples in examples/ci parse and use only options the suite really has."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "ci").glob("*.yml"))


def pytest_commands(doc: object) -> list[str]:
    """Every shell line of the workflow that runs pytest."""
    found: list[str] = []
    if isinstance(doc, dict):
        for value in doc.values():
            found += pytest_commands(value)
    elif isinstance(doc, list):
        for value in doc:
            found += pytest_commands(value)
    elif isinstance(doc, str) and doc.lstrip().startswith("pytest "):
        found.append(doc)
    return found


def known_options() -> set[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120).stdout
    return set(re.findall(r"(--[a-z][a-z0-9-]+)", out))


def test_examples_parse_and_reference_real_options():
    assert len(EXAMPLES) == 2
    options = known_options()
    assert {"--baseline", "--fail-on", "--sarif", "--target"} <= options
    for path in EXAMPLES:
        doc = yaml.safe_load(path.read_text())
        commands = pytest_commands(doc)
        assert commands, f"{path.name}: no pytest command"
        for command in commands:
            for word in shlex.split(command):
                if word.startswith("--"):
                    assert word.split("=", 1)[0] in options, f"{path.name}: {word}"
            assert "--fail-on=new" in command and "--baseline=auto" in command
