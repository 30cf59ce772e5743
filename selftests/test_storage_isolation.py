"""STO-06 judged from a store's own rows and the settings its server runs with, on Open
WebUI 0.12.4 stores the real server wrote (the recorded multi-user variant: an admin and
two users added through its API, a chat each; the deleted-chat variant: one admin), under
units: as recorded (DATA_DIR only), with ENABLE_ADMIN_CHAT_ACCESS=False, with it and
ENABLE_ADMIN_EXPORT=False, and none.
One audit (tests_storage/test_sto06 only, --target=local, the unit dir bound over
/etc/systemd/system in a private mount namespace); expected statuses:
selftests/expected/real/open_webui_isolation.toml.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests.real_expect import passes_reading_nothing, per_dir_mismatches, run_audit

FIXTURES = Path(__file__).parent / "fixtures" / "open_webui" / "variants"
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" /
                          "open_webui_isolation.toml").read_text())
TESTS = ["tests_storage/test_sto06_cross_user_isolation.py"]
# label -> (recorded variant, extra unit environment; None: no unit runs it)
STATES = {"multi-user": ("multi-user", ""),
          "admin-access-off": ("multi-user", "Environment=ENABLE_ADMIN_CHAT_ACCESS=False\n"),
          "admin-closed": ("multi-user", "Environment=ENABLE_ADMIN_CHAT_ACCESS=False "
                           "ENABLE_ADMIN_EXPORT=False\n"),
          "no-unit": ("multi-user", None), "single": ("deleted-chat", "")}

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                reason="needs root (a mount namespace for the unit dir)")


def _state(base: Path, label: str, variant: str, extra: str | None, units: Path) -> Path:
    """The variant's data dir under base/label, and its unit (named after the label)."""
    with tarfile.open(FIXTURES / f"{variant}.tar.gz") as tar:
        tar.extractall(base / label, filter="tar")
    root = base / label / variant
    meta = json.loads((root / "variant.json").read_text())
    data = root / meta["data_dir"]
    if extra is not None:
        unit = (root / "systemd" / "open-webui.service").read_text()
        unit = unit.replace("@VARIANT_BASE@", str(root))
        unit = unit.replace("ExecStart=", extra + "ExecStart=")
        (units / f"owui-{label}.service").write_text(unit)
    return data


@pytest.fixture(scope="module")
def audit() -> Iterator[tuple[dict[str, Path], dict]]:
    base = Path(tempfile.mkdtemp(prefix="aiaudit-isolation-"))
    try:
        units = base / "systemd"
        units.mkdir()
        dirs = {label: _state(base, label, v, extra, units)
                for label, (v, extra) in STATES.items()}
        names = [f"owui-{label}" for label, (_, extra) in STATES.items() if extra is not None]
        config = (f"[deployment]\nhomes = {json.dumps([str(d) for d in dirs.values()])}\n"
                  f"units = {json.dumps(names)}\n")
        bind = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" /etc/systemd/system && shift && exec "$@"', "sh",
                str(units), "sh", "-c"]
        yield dirs, run_audit(base, "isolation", config, TESTS, wrap=bind)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cases(doc: dict, cid: str, where: Path) -> list[dict]:
    """The control's cases of the store below `where` (case ids are cut at 120 chars)."""
    return [c for control in doc["controls"] if control["id"] == cid
            for c in control["cases"]
            if c["evidence"].get("store", "").startswith(f"{where}/")]


def test_every_state_gets_its_expected_status(audit):
    dirs, doc = audit
    wrong = per_dir_mismatches(EXPECTED, lambda cid, label: _cases(doc, cid, dirs[label]))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing(audit):
    _, doc = audit
    assert not passes_reading_nothing([doc])


def test_the_verdicts_name_the_setting_and_its_source(audit):
    """The FAIL names the admin, whose chats and the default it rests on; the PASS names the
    unit whose environment turned admin access off."""
    dirs, doc = audit
    [fail] = _cases(doc, "STO-06", dirs["multi-user"])
    assert "admin@example.com reads the 2 chat(s) of alice@example.com, bob@example.com" \
        in fail["reason"], fail["reason"]
    assert "Open WebUI default" in fail["reason"], fail["reason"]
    [ok] = _cases(doc, "STO-06", dirs["admin-closed"])
    assert "unit owui-admin-closed" in ok["evidence"]["settings"], ok["evidence"]
    assert ok["evidence"]["read"].startswith("accounts=3 chats=2"), ok["evidence"]
