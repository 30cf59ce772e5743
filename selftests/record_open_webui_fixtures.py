"""Re-record selftests/fixtures/open_webui/: the two states the real Open WebUI 0.12.4 server
writes when aiaudit/lab/open_webui_states.py builds them (migrations, start-up seeding,
sign-up, API key, config update and a real chat turn against the lab model), kept as
SQL text (`webui.sql`: no binary file in the repo), the `.webui_secret_key` that
`open-webui serve` wrote, and `state.json` (version, recording time, planted values).
Keys are fixed, visibly fake values so the files are stable.

Needs root (gocryptfs mounts), the lab model and Open WebUI in /opt/aiaudit-fw/openwebui
(`AIAUDIT_OPENWEBUI=1 bin/setup`):

    python3 selftests/record_open_webui_fixtures.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from aiaudit.lab.open_webui_states import FIXTURES, build, record, unmount_all


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="owui-record-") as tmp:
        root = Path(tmp) / "states"
        try:
            states = build(root, recording=True)
            for name, state in states.items():
                record(state, FIXTURES / name)
                print(f"recorded {name}: {FIXTURES / name}")
        finally:
            unmount_all(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
