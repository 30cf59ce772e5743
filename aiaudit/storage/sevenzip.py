"""7z archives (backups made with `7z a`): listed and read by the auditor's own 7z
(Debian p7zip-full) on a private local copy, never on the target. Python's standard
library cannot read 7z, and whether one is encrypted is in its header, which `7z a`
compresses (and with -mhe=on encrypts): only 7z itself tells.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

TIMEOUT = 120
# a wrong password on the command line: 7z never prompts, and an encrypted archive says so
NO_PASSWORD = "-paiaudit-no-password"


class EncryptedArchive(ValueError):
    """The archive's contents (or its very listing) are AES-encrypted by 7z (a ValueError:
    readers that only unpack, such as STO-04's, count it as 'cannot unpack')."""


@dataclass(frozen=True)
class Listing:
    members: tuple[str, ...]
    encrypted: bool
    detail: str


def _seven_zip() -> str:
    exe = shutil.which("7z") or shutil.which("7za")
    if exe is None:
        raise OSError("7z is not installed on the auditor host (apt-get install p7zip-full): "
                      "a 7z backup cannot be read")
    return exe


def listing(archive: Path) -> Listing:
    """Members and encryption of a local 7z file (`7z l -slt`)."""
    done = subprocess.run([_seven_zip(), "l", "-slt", "-bd", NO_PASSWORD, str(archive)],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          stdin=subprocess.DEVNULL)
    out = done.stdout + done.stderr
    if "Cannot open encrypted archive" in out:
        return Listing((), True, "7z with encrypted headers (7zAES, -mhe=on): not even its "
                       "member names can be read without the password")
    if done.returncode != 0:
        raise ValueError(f"7z cannot list it: {out.strip().splitlines()[-1:] or done.returncode}")
    members, encrypted, path, is_dir = [], False, None, False
    for line in [*out.splitlines(), ""]:
        key, _, value = line.partition(" = ")
        if key == "Path":
            path = value
        elif key == "Folder":
            is_dir = value == "+"
        elif key == "Encrypted" and value == "+":
            encrypted = True
        elif not line.strip() and path is not None:
            if not is_dir and path != str(archive):
                members.append(path)
            path, is_dir = None, False
    detail = (f"7z, {len(members)} member(s) encrypted with 7zAES" if encrypted
              else f"7z, {len(members)} member(s), no encryption")
    return Listing(tuple(members), encrypted, detail)


@contextmanager
def member(archive: Path, name: str) -> Iterator[IO[bytes]]:
    """One member's bytes as a stream (`7z x -so`), the process ended when done."""
    proc = subprocess.Popen([_seven_zip(), "x", "-so", "-bd", NO_PASSWORD, str(archive), name],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    try:
        if proc.stdout is None:
            raise OSError(f"7z gave no output for {archive}!{name}")
        yield proc.stdout
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
