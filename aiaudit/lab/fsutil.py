"""Small file helpers: secrets generation and files written with an explicit mode.

Modes are part of what the audit checks, so every file the lab writes gets its mode set
explicitly instead of inheriting whatever umask the caller happened to have.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

ALNUM = string.ascii_letters + string.digits


def random_alnum(length: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(length))


def write_file(path: Path, content: str, mode: int) -> Path:
    """Create/replace ``path`` with ``content`` and exactly ``mode`` (no window with wider bits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    os.chmod(path, mode)
    return path


def make_dir(path: Path, mode: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, mode)
    return path


def apply_modes(top: Path, dir_mode: int, file_mode: int) -> None:
    """Normalise the modes of everything below ``top`` (symlinks are left alone)."""
    os.chmod(top, dir_mode)
    for root, dirs, files in os.walk(top):
        for name in dirs:
            os.chmod(Path(root, name), dir_mode)
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                os.chmod(path, file_mode)


def world_writable_ancestor(path: Path) -> Path | None:
    """First ancestor of ``path`` writable by group/other (sshd StrictModes rejects those)."""
    for parent in [path, *path.parents]:
        try:
            if parent.stat().st_mode & 0o022:
                return parent
        except FileNotFoundError:
            continue
    return None
