"""Open WebUI's Tools, Functions and Skills as supply-chain items, on webui.db rows the real
Open WebUI 0.12.4 server wrote (selftests/fixtures/open_webui, recorded by
record_open_webui_fixtures.py): SUP-01/02 judge what a row records, SUP-03/04 scan its
stored code (never run), and a webui.db without plugin rows is NOT_APPLICABLE with the
tables it read as proof."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from aiaudit.products import open_webui
from aiaudit.supply_chain.batch import review_all
from aiaudit.supply_chain.provenance import integrity, provenance
from aiaudit.supply_chain.review import failing
from aiaudit.supply_chain.settings import parse_settings
from aiaudit.supply_chain.webui_plugins import to_skill

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "open_webui"
DB = "/srv/open-webui/data/webui.db"


def _skills(state: str):
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.executescript((FIXTURES / state / "webui.sql").read_text())
        return {s.id.split("@")[0]: s for s in
                (to_skill(p, DB) for p in open_webui.read_plugins(conn).plugins)}


def test_pasted_plugins_have_no_provenance_and_no_pin():
    skills = _skills("vulnerable")
    assert sorted(skills) == ["open-webui:function/chat_logger", "open-webui:skill/deploy-helper",
                              "open-webui:tool/web_helper_pro"]
    settings = parse_settings({})
    tool = skills["open-webui:tool/web_helper_pro"]
    prov = provenance(tool, settings)
    assert prov.source == "open-webui row" and prov.owner == "helpful-dev"
    assert any("records no source" in p for p in prov.problems)
    assert prov.record_paths == [f"{DB}#tool row web_helper_pro"]
    result = integrity(tool, settings)
    assert any("no approved content sha256" in p for p in result.problems)
    assert any("'requests' is not pinned" in p for p in result.problems)
    # the production tool_history snapshot was read and matches the live row
    assert [c[0] for c in result.checks] == [
        f"tool_history {tool.records['open-webui']['version_id']} (production) content sha256"]
    assert result.checks[0][1] == result.checks[0][2]
    skill = skills["open-webui:skill/deploy-helper"]  # SKILL.md and its script, from data.files
    assert [f.path for f in skill.files] == ["SKILL.md", "scripts/setup.sh"]
    assert skill.manifest.name == "deploy-helper"
    assert any("records no source for this skill" in p for p in provenance(skill, settings)
               .problems)
    assert any("no approved content sha256" in p for p in integrity(skill, settings).problems)


def test_the_stored_code_is_scanned():
    skills = _skills("vulnerable")
    reviews = review_all(list(skills.values()))
    tool, func = (skills[k].id for k in ("open-webui:tool/web_helper_pro",
                                         "open-webui:function/chat_logger"))
    assert [f.rule for f in failing(reviews[tool][0], "high")] == ["env-exfiltration"]
    assert failing(reviews[func][0], "high") == []
    skill = skills["open-webui:skill/deploy-helper"].id
    assert [f.rule for f in failing(reviews[skill][0], "high")] == ["download-exec"]
    for sid in (tool, func, skill):  # each contacts a host it never names
        assert {f.rule for f in failing(reviews[sid][1], "medium")} == {"undeclared-network"}
        assert all("collector.example.net" in f.note for f in failing(reviews[sid][1],
                                                                        "medium"))


def test_an_approved_tool_passes_and_a_changed_one_fails():
    tool = _skills("hardened")["open-webui:tool/word_count"]
    approve = {"approved_skills": [{"path": tool.path, "content_sha256": tool.content_sha256,
                                    "reason": "reviewed"}]}
    settings = parse_settings(approve)
    assert provenance(tool, settings).problems == []
    assert provenance(tool, settings).source == "operator"
    assert integrity(tool, settings).problems == []
    reviews = review_all([tool])
    assert failing(reviews[tool.id][0], "high") == [] and failing(reviews[tool.id][1],
                                                                   "medium") == []
    stale = parse_settings({"approved_skills": [{"path": tool.path,
                                                 "content_sha256": "0" * 64}]})
    assert any("operator-approved content sha256" in p for p in integrity(tool, stale).problems)


def test_no_plugin_row_is_not_applicable_with_the_tables_read(tmp_path):
    """The hardened webui.db with its one tool deleted as Open WebUI deletes it
    (models/tools.py delete_tool_by_id: the row, its history and access grants): SUP-01 is
    NOT_APPLICABLE and says which tables it read, with their row counts."""
    data = tmp_path / "data"
    data.mkdir()
    with contextlib.closing(sqlite3.connect(data / "webui.db")) as conn, conn:
        conn.executescript((FIXTURES / "hardened" / "webui.sql").read_text())
        conn.execute("DELETE FROM access_grant WHERE resource_type = 'tool'")
        conn.execute("DELETE FROM tool_history")
        conn.execute("DELETE FROM tool")
    cfg = tmp_path / "audit.toml"
    cfg.write_text(f'[deployment]\nhomes = ["{data}"]\n[supply_chain]\nhome_dirs = []\n')
    reports = tmp_path / "reports"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests_supply_chain/test_sup01_provenance.py",
         "tests_supply_chain/test_sup03_static_review.py", "--target=local",
         f"--audit-config={cfg}", f"--report-dir={reports}", "--profile=quick", "-q",
         "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    doc = json.loads((reports / "latest.json").read_text())
    for cid in ("SUP-01", "SUP-03"):
        control = next(c for c in doc["controls"] if c["id"] == cid)
        assert [c["status"] for c in control["cases"]] == ["NOT_APPLICABLE"], proc.stdout[-2000:]
        reason = control["cases"][0]["reason"]
        assert f"{data}/webui.db: tool 0 row(s), function 0 row(s), skill 0 row(s)" in reason
