"""Record the real OpenClaw variants (aiaudit.lab.openclaw_variants) as small fixtures.

    python3 selftests/record_openclaw_variants.py [NAME ...]

builds each variant with OpenClaw's own CLI under the fixed ROOT (the stores and configs
name absolute paths: OpenClaw records its config path and workspaces in them, so the
self-test restores them at the same place) and packs the HOME as
`selftests/fixtures/openclaw-variants/<name>.tar.gz`: modes, owners' intent and OpenClaw's
own symlinks kept; left out are the workspace's git repo, `.cache`, `.npm`, the state's
`cache/` (the running gateway copies its package's control-UI assets there, ~50 MB),
SQLite `-shm` files (rebuilt by SQLite) and lock files. The verified backup of
`private-backup` goes beside it (`private-backup.backups.tar.gz`, restored to BACKUPS).
About 40-220 KB per variant.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

from aiaudit.lab import openclaw_variants as ocv

OUT = Path(__file__).parent / "fixtures" / "openclaw-variants"
ROOT = Path(ocv.FIXED_ROOT)


def _keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    parts = Path(info.name).parts
    if ".git" in parts or ".cache" in parts or ".npm" in parts or info.name.endswith("-shm"):
        return None
    if len(parts) > 2 and parts[1].startswith((".openclaw", ".clawdbot")) and \
            parts[2] == "cache":
        return None  # the gateway's copy of its package's control-UI assets (~50 MB)
    if "tmp" in parts and info.name.endswith(".lock.sqlite"):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(src, arcname=src.name, filter=_keep)
    print(f"recorded {dest.relative_to(OUT.parent.parent)} ({dest.stat().st_size} bytes)")


def record(names: list[str]) -> None:
    ROOT.mkdir(parents=True, exist_ok=True)
    ROOT.chmod(0o755)
    for name in names:  # one at a time: a failing variant leaves the others recorded
        shutil.rmtree(ROOT / name, ignore_errors=True)
        built = ocv.build(ROOT, [name])
        backups = built.pop("backups")  # ROOT itself unless private-backup was built
        pack(built[name], OUT / f"{name}.tar.gz")
        if name == "private-backup":
            pack(backups, OUT / "private-backup.backups.tar.gz")


if __name__ == "__main__":
    record(sys.argv[1:] or list(ocv.VARIANTS))
