"""STO-01..05 on conversation stores real apps wrote, the suite run as an auditor runs it
(pytest tests_storage --target=local, two audits of about 25 s):

* MLflow 3.17.2's traces (two traced chat calls its own tracing API wrote);
* Langflow 1.13.0 and Flowise 3.1.4, which the storage controls learned from their source
  (aiaudit/products/{langflow,flowise}.py, aiaudit/data/{langflow,flowise}.toml): planted
  and hardened state dirs (and an empty Langflow one) rebuilt from the rows each app wrote
  through its own API, Flowise's from three real chatflow predictions against the lab's
  llama server (selftests/fixtures/storage/apps/*.sql, selftests/record_app_stores.py);
* variants of Open WebUI 0.12.4's recorded webui.db: chat times in epoch seconds and in
  milliseconds, 0 chats, a secret only in the -wal, a truncated store (with and without a
  secret in the bytes left), a SQLCipher copy with its [[storage.keys]] key and without;
  and standalone gzip, xz, zstd, zip and tar backups in a backup dir holding no live store.

Every expected status and its reason: selftests/expected/real/app_stores.toml. No PASS may
read nothing (its evidence counts what it read).
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests import app_states
from selftests.real_expect import passes_reading_nothing, per_dir_mismatches, run_audit

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" / "app_stores.toml")
                         .read_text())
TESTS = sorted(str(p.relative_to(ROOT))
               for p in (ROOT / "tests_storage").glob("test_sto0[1-5]_*.py"))


def _audit(base: Path, name: str, config: str) -> dict:
    return run_audit(base, name, config, TESTS)


@pytest.fixture(scope="module")
def audits() -> Iterator[tuple[Path, list[dict]]]:
    # its own temp dir: pytest prunes old numbered dirs under the shared basetemp, and on
    # a machine where several test runs overlap that pruned this one mid-audit
    base = Path(tempfile.mkdtemp(prefix="aiaudit-app-stores-"))
    try:
        yield base, _audit_all(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _audit_all(base: Path) -> list[dict]:
    for name in ("vulnerable", "hardened", "empty"):
        app_states.langflow_state(base, name)
    homes = [base / "langflow" / n for n in ("vulnerable", "hardened", "empty")]
    homes += [app_states.flowise_state(base, n) for n in ("vulnerable", "hardened")]
    homes += [app_states.mlflow_state(base, n) for n in ("vulnerable", "hardened")]
    dirs = app_states.variants(base / "owui")
    homes += [d for n, d in dirs.items() if n != "backups"]
    key = base / "owui" / "cipher.key"
    stores = _audit(base, "stores", (
        "[deployment]\nhomes = [" + ", ".join(f'"{h}"' for h in homes) + "]\n"
        f'[[storage.keys]]\npath = "{dirs["cipher-keyed"]}/*"\nkey_file = "{key}"\n'))
    empty = base / "owui" / "none"
    empty.mkdir()
    backups = _audit(base, "backups", f'[deployment]\nhomes = ["{empty}"]\n'
                     f'[storage]\nbackup_dirs = ["{dirs["backups"]}"]\n')
    return [stores, backups]


def _cases(docs: list[dict], cid: str, where: Path) -> list[dict]:
    """The control's cases of one store dir (its state-dir case and its stores' cases) or
    of one standalone backup file."""
    out = []
    for doc in docs:
        for control in doc["controls"]:
            if control["id"] != cid:
                continue
            for case in control["cases"]:
                path = case["case"].split(":", 1)[-1]
                if path == str(where) or path.startswith(f"{where}/"):
                    out.append(case)
    return out


def test_every_store_gets_its_expected_status(audits):
    base, docs = audits
    wrong = per_dir_mismatches(
        EXPECTED, lambda cid, label: _cases(docs, cid, base / label),
        skip=lambda label: label.endswith(".zst") and not shutil.which("zstd"))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing(audits):
    _, docs = audits
    empty = passes_reading_nothing(docs)
    assert not empty, empty


def test_langflow_is_judged_as_langflow(audits):
    base, docs = audits
    [hardened] = _cases(docs, "STO-02", base / "langflow" / "hardened")
    assert hardened["evidence"]["rows dated"] == "message.timestamp: 2", hardened["evidence"]
    assert "Langflow 1.13.0 has no setting" in hardened["evidence"]["retention setting"]
    [vulnerable] = _cases(docs, "STO-02", base / "langflow" / "vulnerable")
    assert "200 days old (message.timestamp)" in vulnerable["reason"], vulnerable["reason"]
    [sto04] = _cases(docs, "STO-04", base / "langflow" / "hardened")
    assert "secret_key" in sto04["evidence"]["config files read"]
    assert "langflow.db#variable" in sto04["evidence"]["database tables read"]


def test_seconds_and_milliseconds_give_the_same_age(audits):
    base, docs = audits
    ages = [_cases(docs, "STO-02", base / "owui" / n)[0]["evidence"]["oldest record"]
            for n in ("seconds", "millis")]
    # the recorded chat was 200 days old when recorded, and moved 200 days more
    assert ages[0] == ages[1] and int(ages[0].split()[0]) >= 400, ages


def test_an_unknown_app_is_dated_by_its_camel_case_columns(tmp_path):
    """Without its product, Flowise's store is still dated by chat_message.createdDate (a
    TypeORM column name): main read no column of it and dated it by its other tables."""
    import sqlite3

    from aiaudit.storage.sqlitefacts import data_age

    home = app_states.flowise_state(tmp_path, "vulnerable")
    conn = sqlite3.connect(home / "database.sqlite")
    age = data_age(conn, None)
    conn.close()
    assert age.dated.get("chat_message.createdDate") == 6, age.dated
    assert 199.5 < age.oldest_days() < 200.5, (age.oldest_days(), age.where)


def test_a_store_named_like_flowise_of_another_schema_is_not_judged_as_flowise(audits):
    base, docs = audits
    [case] = _cases(docs, "STO-02", base / "owui" / "foreign-name")
    assert "lacks Flowise's tables (chat_flow, chat_message)" in \
        case["evidence"]["retention setting"], case["evidence"]
    assert "message.timestamp" in case["evidence"]["rows dated"], case["evidence"]


def test_a_wide_scope_is_listed_in_scripts_the_shell_accepts(tmp_path):
    """40 named dirs with long paths: one listing script was over 128 KiB, the limit of
    one argv string, and discovery failed for every storage control."""
    from aiaudit.config import AuditConfig
    from aiaudit.context import AuditContext
    from aiaudit.storage.locate import locate
    from aiaudit.target import parse_target

    homes = []
    for i in range(40):
        d = tmp_path / ("a-rather-long-directory-name-for-a-deployment-" * 2 + str(i))
        d.mkdir()
        homes.append(str(d))
    store = app_states.langflow_state(tmp_path, "hardened")
    homes.append(str(store))
    ctx = AuditContext(parse_target("local"), AuditConfig(state_dirs=homes))
    stores, _ = locate(ctx)
    assert [s.app for s in stores if s.path.startswith(str(store))] == ["langflow"]
