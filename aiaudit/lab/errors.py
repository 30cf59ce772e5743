"""Error type and preflight checks shared by the lab CLI.

A lab run fails for environmental reasons far more often than for bugs, so the checks
turn those cases into one readable line plus a distinct exit code instead of a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

EXIT_FAILED = 1
EXIT_ENVIRONMENT = 2


class LabError(Exception):
    """A failure the CLI reports as one line on stderr with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def require_root() -> None:
    """Namespaces, veths and sshd all need root; say so before half-building anything."""
    if os.geteuid() != 0:
        raise LabError("aiaudit.lab must run as root (network namespaces, sshd)", EXIT_ENVIRONMENT)


def require_tool(tool: str, debian_package: str) -> str:
    """Return the absolute path of ``tool`` or fail naming the Debian package that ships it."""
    path = tool if os.path.isabs(tool) else shutil.which(tool)
    if not path or not os.access(path, os.X_OK):
        raise LabError(
            f"required tool {tool!r} not found: apt-get install -y {debian_package}",
            EXIT_ENVIRONMENT,
        )
    return path


def require_module(module: str, pip_spec: str) -> None:
    """Fail with the pip command when a Python dependency of the lab is missing."""
    if importlib.util.find_spec(module) is None:
        raise LabError(
            f"required Python module {module!r} not found: pip install '{pip_spec}'",
            EXIT_ENVIRONMENT,
        )
