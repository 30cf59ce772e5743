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

`--variants` records the deployments of aiaudit/lab/open_webui_variants.py instead (a pip
install's default data dir, DATABASE_URL elsewhere, a key seeded into the config table, an
uploaded file, a deleted chat, archived and shared chats, WEBUI_AUTH=False, several users,
operator backups), one tar.gz per variant under selftests/fixtures/open_webui/variants/
(modes, WALs and backups kept as they are; of a pip venv only its pyvenv.cfg and the
package's data dir; logs left out), for selftests/test_open_webui_variants.py. `--from ROOT`
packs an earlier `python3 -m aiaudit.lab.open_webui_variants build ROOT --recording`.

    python3 selftests/record_open_webui_fixtures.py --variants [--from ROOT]

`--exposure` records what a real `open-webui serve` answers to the catalog's discovery
probes (selftests/fixtures/exposure/answers/open-webui-*.json), once with its login on
(an admin signed up, as every installed instance has) and once with `WEBUI_AUTH=False`.
"""

from __future__ import annotations

import io
import sys
import tarfile
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


VARIANTS_OUT = FIXTURES / "variants"
BASE = "@VARIANT_BASE@"  # the variant's dir in a recorded unit file
SKIP = ("open-webui.log", "llm.log")


def _keep(base: Path, path: Path) -> bool:
    """What of a built variant goes into its fixture: everything but logs, and of a venv
    only pyvenv.cfg and the package's data dir (never the installed code)."""
    rel = path.relative_to(base).parts
    if path.name in SKIP:
        return False
    if "venv" in rel:
        i = rel.index("venv")
        tail = rel[i + 1:]
        data = ("site-packages", "open_webui", "data")
        return (tail in ((), ("pyvenv.cfg",), ("lib",)) or tail[:1] == ("lib",) and (
            len(tail) <= 2 or tail[2:5] == data[:len(tail[2:5])]))
    return True


def pack_variants(root: Path) -> None:
    """One tar.gz per built variant (paths relative to ROOT, modes kept)."""
    VARIANTS_OUT.mkdir(parents=True, exist_ok=True)
    for meta in sorted(root.glob("*/variant.json")):
        base = meta.parent
        out = VARIANTS_OUT / f"{base.name}.tar.gz"
        unit = base / "systemd" / "open-webui.service"
        with tarfile.open(out, "w:gz", compresslevel=9) as tar:
            tar.add(base, arcname=base.name, recursive=True,
                    filter=lambda ti, b=base, u=unit: ti if _keep(b, root / ti.name)
                    and root / ti.name != u else None)
            if unit.exists():  # its paths made relative to wherever the fixture is unpacked
                data = unit.read_text().replace(str(base), BASE).encode()
                info = tar.gettarinfo(unit, f"{base.name}/systemd/open-webui.service")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        print(f"recorded {base.name}: {out} ({out.stat().st_size // 1024} KB)")


def record_variants(src: Path | None) -> None:
    if src is not None:
        pack_variants(src)
        return
    from aiaudit.lab import open_webui_variants

    with tempfile.TemporaryDirectory(prefix="owui-variants-") as tmp:
        root = Path(tmp) / "v"
        open_webui_variants.RECORDING = True
        open_webui_variants.build(root, list(open_webui_variants.BUILDERS))
        pack_variants(root)


def main() -> int:
    if sys.argv[1:] == ["--exposure"]:
        record_exposure()
        return 0
    if sys.argv[1:2] == ["--variants"]:
        rest = sys.argv[2:]
        record_variants(Path(rest[1]) if rest[:1] == ["--from"] and len(rest) == 2 else None)
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
