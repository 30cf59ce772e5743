"""STO-01..05 and STO-07 on store states unlike the ones the storage controls were built
on, from files real apps wrote (selftests/held_out_states.py): a Flowise chat session
deleted through Flowise's API (the rows gone, their bytes left in freed pages), app dirs
reached through a symlink, and a Langflow store owned by another account that the audit
(root without CAP_DAC_*) cannot read. Two audits as an auditor runs them (pytest
tests_storage --target=local); expected statuses: selftests/expected/real/held_out_stores.toml.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests import held_out_states as states
from selftests import unread_deploy
from selftests.real_expect import passes_reading_nothing, per_dir_mismatches, run_audit

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" /
                          "held_out_stores.toml").read_text())
TESTS = sorted(str(p.relative_to(ROOT))
               for p in (ROOT / "tests_storage").glob("test_sto0[1-57]_*.py"))
NO_DAC = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c"]
CLOSED = ("langflow-foreign", "langflow-closed")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("capsh") is None,
                                reason="needs root (chown to another account) and capsh")


def _audit(base: Path, name: str, homes: list[Path], wrap: list[str] | None = None,
           units: tuple[str, ...] = ()) -> dict:
    lines = ["[deployment]"]
    if homes:
        lines.append(f"homes = {json.dumps([str(h) for h in homes])}")
    if units:
        lines.append(f"units = {json.dumps(list(units))}")
    return run_audit(base, name, "\n".join(lines) + "\n", TESTS, wrap=wrap)


@pytest.fixture(scope="module")
def audits() -> Iterator[tuple[Path, list[dict]]]:
    base = Path(tempfile.mkdtemp(prefix="aiaudit-held-out-"))
    base.chmod(0o755)  # the other account's dirs sit below it
    try:
        open_homes = [states.flowise_api_deleted(base).parent, states.llm_symlinked(base),
                      states.flowise_symlinked(base), states.mlflow_api_deleted(base),
                      states.langflow_pip(base),
                      states.langflow_pip(base, "langflow-pip-private", "hardened"),
                      states.langflow_pip(base, "langflow-venv") / "venv"]
        unread_deploy.ensure_user(unread_deploy.OWNER, base / "owner-home")
        closed = [states.langflow_foreign(base, unread_deploy.OWNER, "langflow-foreign", 0o755),
                  states.langflow_foreign(base, unread_deploy.OWNER, "langflow-closed", 0o700)]
        unit_dir = states.units(base)
        bind = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$1" /etc/systemd/system && shift && exec "$@"', "sh",
                str(unit_dir), "sh", "-c"]
        yield base, [_audit(base, "open", open_homes), _audit(base, "closed", closed, NO_DAC),
                     _audit(base, "units", [], bind,
                            ("langflow", "n8n", "langflow-dburl", "langflow-envfile",
                             "langflow-envfile-key"))]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cases(docs: list[dict], cid: str, where: Path) -> list[dict]:
    out = []
    for doc in docs:
        for control in doc["controls"]:
            if control["id"] == cid:
                out += [c for c in control["cases"]
                        if c["case"].split(":", 1)[-1] == str(where)
                        or c["case"].split(":", 1)[-1].startswith(f"{where}/")]
    return out


def test_the_deleted_sessions_key_is_only_in_freed_pages(tmp_path):
    """The state's premise, checked on the recorded file: the key is in no row, but its
    bytes are still in the store (what a SQL-only reader would miss)."""
    import sqlite3

    db = states.flowise_api_deleted(tmp_path) / "database.sqlite"
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT count(*) FROM chat_message WHERE content LIKE ?",
                        (f"%{states.PLANTED[:20]}%",)).fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    assert rows == 0 and free > 0, (rows, free)
    assert states.PLANTED.encode() in db.read_bytes()


def test_every_state_gets_its_expected_status(audits):
    base, docs = audits
    wrong = per_dir_mismatches(EXPECTED, lambda cid, label: _cases(docs, cid, base / label))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing(audits):
    _, docs = audits
    empty = passes_reading_nothing(docs)
    assert not empty, empty


def test_unreadable_stores_name_path_and_right(audits):
    base, docs = audits
    for label in CLOSED:
        for cid in ("STO-01", "STO-03"):
            cases = _cases(docs, cid, base / label)
            assert cases, (label, cid)  # the store is judged, not left out
            for case in cases:
                assert case["status"] == "ERROR", case
                assert str(base / label) in case["reason"], case
                assert re.search(r"permission|denied|right", case["reason"], re.I), case


def test_a_symlinked_app_dir_is_judged_through_the_link(audits):
    """find without -H lists a symlinked state dir as the link alone: STO-05 judged one
    entry ('symlink ... leaves the state dir', FAIL on Flowise's 0700/0600 state) and the
    backup and log searches found nothing below it."""
    base, docs = audits
    [flowise] = _cases(docs, "STO-05", base / "flowise-symlinked")
    assert flowise["status"] == "PASS" and "leaves the state dir" not in flowise["reason"]
    assert int(flowise["evidence"]["read"].split("entries=")[1].split()[0]) >= 2, flowise
    [llm] = _cases(docs, "STO-05", base / "llm-symlinked")
    assert "logs.db is 0644" in llm["reason"] and "leaves the state dir" not in llm["reason"]


def test_the_deleted_chat_is_found_in_the_freed_pages(audits):
    """The deleted session's key (56 characters) is no row any more: STO-03 names it at a
    raw byte offset of the store, not at a table cell read through SQL."""
    base, docs = audits
    [sto03] = [c for c in _cases(docs, "STO-03", base / "flowise-api-deleted")
               if c["status"] == "FAIL"]
    raw = [v for k, v in sto03["evidence"].items() if k.startswith("secret ")
           and re.search(r"database\.sqlite@\d+: sk-p…\[56\]", v)]
    assert raw, sto03["evidence"]


def test_mlflows_deleted_trace_left_nothing(tmp_path):
    """The premise of mlflow-api-deleted: MLflow's delete took the trace's spans with it
    and SQLite zeroed them (no byte of the key left), so STO-03 PASS reads a clean file."""
    db = states.mlflow_api_deleted(tmp_path) / "mlflow.db"
    assert states.PLANTED.encode() not in db.read_bytes()
    assert b"session-clean" in db.read_bytes()


def test_unit_settings_and_the_store_dirs_a_unit_names():
    """The unit reader as systemd writes units: quoted Environment= items, several per line,
    a drop-in, an ExecStart= with a prefix and a venv's python running the app."""
    from types import SimpleNamespace

    from aiaudit.scope import unit_settings
    from aiaudit.storage import locate

    out = ("#/etc/systemd/system/langflow.service\n"
           'Environment="LANGFLOW_CONFIG_DIR=/srv/lf/config" LANGFLOW_AUTO_LOGIN=false\n'
           "ExecStart=-/srv/lf/venv/bin/python -m langflow run --host 127.0.0.1\n"
           "#/etc/systemd/system/langflow.service.d/override.conf\n"
           "Environment=LLM_USER_PATH=/srv/llm\n")

    class FS:
        def run(self, cmd: str, timeout: float = 0) -> tuple[int, str, str]:
            if cmd.startswith("for p in"):  # the pip package dir listing
                return 0, "langflow\t/srv/lf/venv\t/srv/lf/venv/lib/python3.11/site-packages" \
                          "/langflow\n", ""
            return 0, out, ""

    assert unit_settings(FS(), ("langflow",)) == [
        ("langflow", "LANGFLOW_CONFIG_DIR", "/srv/lf/config"),
        ("langflow", "LANGFLOW_AUTO_LOGIN", "false"),
        ("langflow", "ExecStart", "/srv/lf/venv/bin/python -m langflow run --host 127.0.0.1"),
        ("langflow", "LLM_USER_PATH", "/srv/llm")]
    ctx = SimpleNamespace(cached=lambda key, compute: compute())
    scope = SimpleNamespace(fs=FS(), units=("langflow",))
    dirs = {(app, path) for app, path, _ in locate._unit_store_dirs(ctx, scope)}
    assert dirs == {("langflow", "/srv/lf/config"), ("llm", "/srv/llm"),
                    ("langflow", "/srv/lf/venv/lib/python3.11/site-packages/langflow")}, dirs


def test_raw_matches_stop_where_the_next_column_begins(tmp_path):
    """In the freed cell of the deleted session's echoed answer the model's 48-character
    copy of the key runs straight into createdDate ('...uK7' + '2026-12-03'): the raw
    match is cut there (secrets.toml run_on), not reported as a 58-character key."""
    from aiaudit.storage.secrets.engine import scan_bytes

    db = states.flowise_api_deleted(tmp_path) / "database.sqlite"
    data = db.read_bytes()
    found = scan_bytes(data, str(db))
    assert sorted(f.length for f in found) == [48, 56], [f.line() for f in found]
    for f in found:
        assert states.PLANTED.encode().startswith(data[f.offset:f.offset + f.length])


def test_the_package_dirs_store_names_langflows_own_key(audits):
    """With only the venv named, STO-04 of the store in the package dir reads and names the
    secret_key Langflow keeps for it in ~/.cache/langflow of the home holding the venv."""
    base, docs = audits
    key = base / "langflow-venv" / "home" / ".cache" / "langflow" / "secret_key"
    cases = _cases(docs, "STO-04", base / "langflow-venv")
    assert any(str(key) in c["evidence"].get("the app's own key file (its mode: STO-05)", "")
               for c in cases), cases
