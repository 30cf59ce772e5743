"""Re-record the small real OpenClaw files under selftests/fixtures/openclaw/.

    python3 selftests/record_openclaw_fixtures.py [DIR]

builds both states with OpenClaw's own CLI (`aiaudit.lab.openclaw_states`, into DIR or a
temp dir) and copies the files the unit self-tests read: each state's `openclaw.json`, the
`.bak` that still holds the vulnerable state's gateway token, and the skills' origin records.
Paths inside them name the temp dir they were built in; the tests do not depend on them.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from aiaudit.lab import openclaw_states

OUT = Path(__file__).parent / "fixtures" / "openclaw"
FILES = {
    "vulnerable": [".openclaw/openclaw.json", ".openclaw/openclaw.json.bak",
                   ".openclaw/workspace/skills/weather-notes/.openclaw/source-origin.json"],
    "hardened": [".openclaw/openclaw.json",
                 ".openclaw/workspace/skills/release-notes/.openclaw/source-origin.json"],
}


def record(root: Path) -> None:
    states = openclaw_states.build(root)
    shutil.rmtree(states.pop("backups"), ignore_errors=True)
    for state, files in FILES.items():
        for rel in files:
            dest = OUT / state / rel.replace(".openclaw/", "", 1)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(states[state] / rel, dest)
            print(f"recorded {dest.relative_to(OUT.parent.parent)}")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "states"
    record(target)
