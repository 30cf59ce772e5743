"""STO-02 on a state.db written by Hermes Agent's own SessionDB (hermes_state.py, the class
the CLI and gateway write through): the age comes from the conversation columns of Hermes'
schema, never from the other tables' times nor from the file's mtime, and the retention
verdict is Hermes' own (config.yaml sessions.*), not another framework's."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from aiaudit.config import AuditConfig
from aiaudit.context import AuditContext
from aiaudit.lab.hermes_states import HERMES_VENV
from aiaudit.storage.locate import locate
from aiaudit.storage.retention import retention_facts
from aiaudit.target import parse_target

DAY = 86400
PYTHON = HERMES_VENV / "bin" / "python"
# Written by Hermes' SessionDB; then, as hermes_states back-dates its sessions, the runtime
# table's time is moved through Hermes' own column to be older than any conversation.
BUILD = """
import sys, time
from pathlib import Path
from hermes_state import SessionDB
db = SessionDB(Path(sys.argv[1]))
now = time.time()
db.create_session("s-1", "cli")
db.append_message("s-1", "user", "what is on my calendar?", timestamp=now - 40 * 86400)
db.append_message("s-1", "assistant", "two meetings", timestamp=now - 40 * 86400 + 5)
db.save_gateway_routing_entry("cli:local", '{"session_id": "s-1"}')
db.close()
import sqlite3
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE sessions SET started_at = ?", (now - 40 * 86400,))
c.execute("UPDATE gateway_routing SET updated_at = ?", (now - 500 * 86400,))
c.commit()
c.close()
"""


@pytest.fixture
def hermes_home(tmp_path: Path) -> Path:
    if not PYTHON.exists():
        pytest.skip(f"hermes-agent is not installed at {HERMES_VENV} (bin/setup installs it)")
    home = tmp_path / ".hermes"
    home.mkdir(mode=0o700)
    subprocess.run([str(PYTHON), "-c", BUILD, str(home / "state.db")], check=True,
                   capture_output=True, timeout=120, env={**os.environ, "HERMES_HOME": str(home)})
    old = time.time() - 400 * DAY  # file times say nothing about the data
    for f in home.iterdir():
        os.utime(f, (old, old))
    return home


def _facts(home: Path):
    cfg = AuditConfig(state_dirs=[str(home)], areas={"storage": {"search_homes": False}})
    ctx = AuditContext(parse_target("local"), cfg)
    [store] = [s for s in locate(ctx)[0] if s.path == str(home / "state.db")]
    assert store.app == "hermes"
    return retention_facts(ctx, store)


def test_age_from_hermes_conversation_columns_only(hermes_home):
    facts = _facts(hermes_home)
    assert set(facts.dated) == {"sessions.started_at", "messages.timestamp"}, facts.dated
    assert 39.5 < facts.oldest_days < 40.5, (facts.oldest_days, facts.oldest_where)
    assert facts.oldest_where in ("sessions.started_at", "messages.timestamp")


def test_retention_verdict_is_hermes_own(hermes_home):
    facts = _facts(hermes_home)
    knob = facts.knob
    assert knob.exists and not knob.enabled  # no config.yaml: Hermes' default auto_prune false
    assert "openclaw" not in (knob.where + knob.detail).lower()
    assert knob.where.endswith("config.yaml")
    (hermes_home / "config.yaml").write_text("sessions:\n  auto_prune: true\n"
                                             "  retention_days: 30\n")
    facts = _facts(hermes_home)
    assert facts.knob.enabled and facts.knob.days == 30
