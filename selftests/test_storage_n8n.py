"""STO-01..05 on n8n 2.41.1 user folders, the suite run as an auditor runs it
(pytest tests_storage --target=local with `[deployment] homes` on the user folders):
states rebuilt from what two real n8n instances wrote through their own API
(selftests/record_n8n_fixtures.py: owner, credential, a Chat Trigger -> AI Agent workflow
run against the lab's llama server) by selftests/app_states.py n8n_state. Every expected
status and its reason: selftests/expected/real/n8n.toml. No PASS may read nothing."""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests import app_states
from selftests.real_expect import passes_reading_nothing, per_dir_mismatches
from selftests.test_storage_apps import _audit, _cases

EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" / "n8n.toml")
                         .read_text())


@pytest.fixture(scope="module")
def audit() -> Iterator[tuple[Path, list[dict]]]:
    base = Path(tempfile.mkdtemp(prefix="aiaudit-n8n-"))
    try:
        folders = [app_states.n8n_state(base, label.split("/", 1)[1]) for label in EXPECTED]
        yield base, [_audit(base, "n8n", "[deployment]\nhomes = [" +
                            ", ".join(f'"{f}"' for f in folders) + "]\n")]
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_every_state_gets_its_expected_status(audit):
    base, docs = audit
    wrong = per_dir_mismatches(EXPECTED, lambda cid, label: _cases(docs, cid, base / label))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing(audit):
    _, docs = audit
    empty = passes_reading_nothing(docs)
    assert not empty, empty


def test_n8n_is_judged_as_n8n(audit):
    """The store is n8n's (not Flowise's, which names its store alike), dated by its
    executions, retention read from the user folder's .env with n8n's defaults."""
    base, docs = audit
    [sto02] = _cases(docs, "STO-02", base / "n8n" / "hardened" / ".n8n" / "database.sqlite")
    assert "EXECUTIONS_DATA_MAX_AGE=720" in sto02["evidence"]["retention setting"], sto02
    assert "execution_entity.createdAt: 1" in sto02["evidence"]["rows dated"], sto02
    [vuln] = _cases(docs, "STO-02", base / "n8n" / "vulnerable" / ".n8n" / "database.sqlite")
    assert "EXECUTIONS_DATA_MAX_AGE unset (n8n 2.41.1 default 336" in \
        vuln["evidence"]["retention setting"], vuln["evidence"]
    assert "200 days old (execution_entity." in vuln["reason"], vuln["reason"]
    sto03 = _cases(docs, "STO-03", base / "n8n" / "deleted")
    assert [c["case"].rsplit("/", 1)[-1] for c in sto03 if c["status"] == "FAIL"] == [".n8n"], \
        [(c["case"], c["status"]) for c in sto03]


def test_a_store_named_like_flowise_s_is_judged_by_its_n8n_tables(audit):
    """An n8n store outside .n8n (DB_SQLITE_DATABASE) is listed under the first app that
    names its store database.sqlite (Flowise), and judged as n8n by its schema: main dated
    it by every table's times (settings, user, ...) and read no n8n setting."""
    base, docs = audit
    [sto02] = _cases(docs, "STO-02", base / "n8n" / "elsewhere" / "database.sqlite")
    assert "has n8n's tables" in sto02["evidence"]["retention setting"], sto02["evidence"]
    assert "EXECUTIONS_DATA_MAX_AGE unset" in sto02["evidence"]["retention setting"]
    assert set(sto02["evidence"]["rows dated"].split(", ")) <= {
        "execution_entity.createdAt: 3", "execution_entity.startedAt: 3"}, sto02["evidence"]


def test_chat_hub_conversations_are_dated_by_their_own_times(audit):
    base, docs = audit
    [sto02] = _cases(docs, "STO-02", base / "n8n" / "chathub" / ".n8n" / "database.sqlite")
    assert "200 days old (chat_hub_messages.createdAt)" in sto02["reason"], sto02["reason"]
    [sto03] = _cases(docs, "STO-03", base / "n8n" / "chathub" / ".n8n" / "database.sqlite")
    assert sto03["status"] == "FAIL", sto03


def test_n8n_s_own_key_store_is_named_not_counted(audit):
    """~/.n8n/config (the encryptionKey n8n writes whatever the operator does) is read and
    named as n8n's own key store: no literal secret for STO-04, its mode is STO-05's; a key
    planted in a .env beside it would still count (the .env is read key by key)."""
    base, docs = audit
    for state in ("vulnerable", "hardened"):
        [sto04] = _cases(docs, "STO-04", base / "n8n" / state / ".n8n")
        own = sto04["evidence"].get("the app's own key file (its mode: STO-05)", "")
        assert own.endswith("/.n8n/config") and sto04["status"] == "PASS", sto04
        assert "config" in sto04["evidence"]["config files read"], sto04
    [unenforced] = _cases(docs, "STO-05", base / "n8n" / "unenforced" / ".n8n")
    assert unenforced["status"] == "FAIL" and "config" in unenforced["reason"], unenforced
