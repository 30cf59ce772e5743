"""Record the OpenClaw plugin states (aiaudit.lab.openclaw_plugins, built by the real
`openclaw plugins install`) into selftests/fixtures/openclaw-plugins/<state>.tar.gz.

    python3 -m selftests.record_openclaw_plugins
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from aiaudit.lab import openclaw_plugins
from selftests.record_openclaw_variants import pack

OUT = Path(__file__).parent / "fixtures" / "openclaw-plugins"


def record() -> None:
    with tempfile.TemporaryDirectory(prefix="aiaudit-ocplugins-") as tmp:
        for name, home in openclaw_plugins.build(Path(tmp)).items():
            pack(home, OUT / f"{name}.tar.gz")


if __name__ == "__main__":
    record()
