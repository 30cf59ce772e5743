"""Is the filesystem under a path encrypted (LUKS/dm-crypt, fscrypt, eCryptfs, gocryptfs, ZFS)?

One read-only shell round trip per path: findmnt for the mount, lsblk for a `crypt`
ancestor of the source device, the dm uuid prefix `CRYPT-`, lsattr's `E` flag for fscrypt,
and `zfs get encryption` for ZFS datasets.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

ENCRYPTED_FSTYPES = {"ecryptfs": "eCryptfs", "fuse.gocryptfs": "gocryptfs",
                     "fuse.encfs": "EncFS", "fuse.cryfs": "CryFS"}
SEP = "----aiaudit----"


@dataclass(frozen=True)
class MountFacts:
    path: str
    target: str  # mount point
    source: str
    fstype: str
    encrypted: bool
    how: str  # why it is (or is not) considered encrypted

    def line(self) -> str:
        return f"{self.path} on {self.target} ({self.fstype} from {self.source}): {self.how}"


def mount_script(path: str) -> str:
    p = shlex.quote(path)
    return (
        f"findmnt -T {p} -J -o TARGET,SOURCE,FSTYPE 2>/dev/null; echo {SEP}; "
        f"src=$(findmnt -T {p} -n -o SOURCE 2>/dev/null | sed 's/\\[.*//'); "
        f"lsattr -d {p} 2>/dev/null; echo {SEP}; "
        'lsblk -s -n -r -o NAME,TYPE,FSTYPE "$src" 2>/dev/null; echo ' + SEP + "; "
        'for u in /sys/block/dm-*/dm/uuid; do [ -r "$u" ] && printf "%s %s\\n" '
        '"$(cat "$(dirname "$u")/name" 2>/dev/null)" "$(cat "$u")"; done 2>/dev/null; '
        f"echo {SEP}; "
        'command -v zfs >/dev/null && zfs get -H -o value encryption "$src" 2>/dev/null; true'
    )


def parse_mount(path: str, out: str) -> MountFacts:
    sections = (out.split(SEP) + [""] * 5)[:5]
    findmnt, lsattr, lsblk, dm, zfs = (s.strip() for s in sections)
    target = source = fstype = "?"
    try:
        fs = json.loads(findmnt)["filesystems"][0]
        target, source, fstype = fs["target"], fs["source"], fs["fstype"]
    except (ValueError, KeyError, IndexError, TypeError):
        return MountFacts(path, "?", "?", "?", False, "mount not found (findmnt gave nothing)")
    if fstype in ENCRYPTED_FSTYPES:
        return MountFacts(path, target, source, fstype, True, f"{ENCRYPTED_FSTYPES[fstype]} mount")
    flags = lsattr.split()[0] if lsattr.split() else ""
    if "E" in flags:
        return MountFacts(path, target, source, fstype, True, f"fscrypt (lsattr flags {flags})")
    for line in lsblk.splitlines():
        cols = line.split()
        if (len(cols) >= 2 and cols[1] == "crypt") or "crypto_LUKS" in cols[2:]:
            return MountFacts(path, target, source, fstype, True,
                              f"dm-crypt/LUKS device {cols[0]} under {source}")
    base = re.sub(r"^/dev/(mapper/)?", "", source.split("[", 1)[0])
    for line in dm.splitlines():
        name, _, uuid = line.partition(" ")
        if name == base and uuid.startswith("CRYPT-"):
            return MountFacts(path, target, source, fstype, True, f"dm-crypt ({uuid[:20]}…)")
    if fstype == "zfs":
        value = zfs.splitlines()[0].strip() if zfs else ""
        if value and value not in ("off", "-"):
            return MountFacts(path, target, source, fstype, True, f"ZFS encryption={value}")
        return MountFacts(path, target, source, fstype, False, f"ZFS encryption={value or '?'}")
    return MountFacts(path, target, source, fstype, False, "no encryption layer found")


def mount_facts(ctx: Any, fs: Any, path: str) -> MountFacts:
    """Mount encryption of the filesystem holding `path` (cached per path)."""

    def compute() -> MountFacts:
        _, out, _ = fs.run(mount_script(path), timeout=30)
        return parse_mount(path, out)

    return ctx.cached(f"storage:mount:{path}", compute)
