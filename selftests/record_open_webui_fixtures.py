"""Re-record selftests/fixtures/open_webui/: the two states the real Open WebUI 0.12.4 server
writes when aiaudit/lab/open_webui_states.py builds them (migrations, start-up seeding,
sign-up, API key, config update and a real chat turn against the lab model), kept as
SQL text (`webui.sql`: no binary file in the repo), the `.webui_secret_key` that
`open-webui serve` wrote, and `state.json` (version, recording time, planted values).
Keys are fixed, visibly fake values so the files are stable.

Needs root (gocryptfs mounts), the lab model and Open WebUI in /opt/aiaudit-fw/openwebui
(`AIAUDIT_OPENWEBUI=1 bin/setup`):

    python3 selftests/record_open_webui_fixtures.py
    python3 selftests/record_open_webui_fixtures.py --exposure   # fingerprint answers only

`--exposure` records what a real `open-webui serve` answers to the catalog's discovery
probes (selftests/fixtures/exposure/answers/open-webui-*.json), once with its login on
(an admin signed up, as every installed instance has) and once with `WEBUI_AUTH=False`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from aiaudit.lab.open_webui_states import (
    FIXTURES,
    OPENWEBUI_VERSION,
    WebUIState,
    build,
    record,
    running,
    unmount_all,
)


def record_exposure() -> None:
    from selftests.record_exposure_fixtures import record as record_answers

    for name, env, how in (
            ("open-webui-auth", {}, "login on, an admin signed up"),
            ("open-webui-noauth", {"WEBUI_AUTH": "False"}, "WEBUI_AUTH=False")):
        with tempfile.TemporaryDirectory(prefix="owui-answers-") as tmp:
            root = Path(tmp)
            state = WebUIState(name, root, root / "srv", root / "srv" / "data",
                               root / "audit.toml")
            state.data_dir.mkdir(parents=True)
            (root / "home").mkdir()
            with running(state, env) as ui:
                if "WEBUI_AUTH" not in env:
                    ui.sign_up_admin("not-a-real-password-0")
                    ui.token = ""  # the probes are sent without credentials
                print(record_answers(name, ui.base, f"open-webui {OPENWEBUI_VERSION} (PyPI), "
                                     f"`open-webui serve` offline, {how}"))


def main() -> int:
    if sys.argv[1:] == ["--exposure"]:
        record_exposure()
        return 0
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
