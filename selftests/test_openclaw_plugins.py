"""OpenClaw plugins installed by the real `openclaw plugins install` (2026.9.6), audited
for SUP-01..04 (aiaudit.lab.openclaw_plugins builds them; recorded by
selftests/record_openclaw_plugins.py).

Before: a plugin holds no SKILL.md, so every state here was SUP-01..04 NOT_APPLICABLE
"no skill found" while the gateway would load its code. Expected statuses, written from
OpenClaw's source before the suite ran on them: a path install is installed only with
--force after "outside ClawHub review and trust metadata"
(src/plugins/install-provenance.ts), so SUP-01 FAILs; the plugin index hashes only the
manifest and package.json, never the code, so SUP-02 FAILs without the operator's approved
content sha256; a hand-copied dir has no install record (SUP-01 FAIL); the key-stealing
plugin FAILs SUP-03 and SUP-04 (a private key read and an undeclared network destination).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "selftests" / "fixtures" / "openclaw-plugins"
TESTS = [f"tests_supply_chain/{t}.py" for t in (
    "test_sup01_provenance", "test_sup02_integrity", "test_sup03_static_review",
    "test_sup04_manifest_honesty")]
# content sha256 of the recorded acme-notes plugin, as SUP-02 names it for approval
ACME_SHA = "8bd79167320a26adabca64a997c8f5d95b7ca25af2effd82b0f6af61b433e9f3"
EXPECTED = {
    "plugin-path": {"openclaw:plugin/acme-notes": {
        "SUP-01": "FAIL", "SUP-02": "FAIL", "SUP-03": "PASS", "SUP-04": "PASS"}},
    "plugin-exfil": {"openclaw:plugin/keysync": {
        "SUP-01": "FAIL", "SUP-02": "FAIL", "SUP-03": "FAIL", "SUP-04": "FAIL"}},
    "plugin-approved": {
        "openclaw:plugin/acme-notes": {
            "SUP-01": "PASS", "SUP-02": "PASS", "SUP-03": "PASS", "SUP-04": "PASS"},
        "openclaw:plugin/hand-copied": {
            "SUP-01": "FAIL", "SUP-02": "FAIL", "SUP-03": "PASS", "SUP-04": "PASS"}},
}


def _audit(tmp: Path, state: str) -> dict:
    with tarfile.open(FIXTURES / f"{state}.tar.gz") as tar:
        tar.extractall(tmp, filter="tar")
    home = tmp / state
    config = [f'[deployment]\nhomes = ["{home}"]\n']
    if state == "plugin-approved":
        plugin = home / ".openclaw" / "extensions" / "acme-notes"
        config.append(f'[supply_chain]\napproved_skills = [{{path = "{plugin}", '
                      f'content_sha256 = "{ACME_SHA}", reason = "reviewed"}}]\n')
    (tmp / "audit.toml").write_text("".join(config))
    argv = [sys.executable, "-m", "pytest", *TESTS, "--target=local",
            f"--audit-config={tmp / 'audit.toml'}", f"--report-dir={tmp / 'r'}",
            "-p", "no:cacheprovider", "-q"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    latest = tmp / "r" / "latest.json"
    assert latest.exists(), proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(latest.read_text())


@pytest.mark.parametrize("state", list(EXPECTED))
def test_plugin_states(tmp_path: Path, state: str):
    doc = _audit(tmp_path, state)
    got = {(c["id"], k["case"]): (k["status"], k["reason"])
           for c in doc["controls"] for k in c["cases"]}
    wrong = [f"{item} {cid}: expected {want}, got {got.get((cid, item), ('NOT_RUN', ''))}"
             for item, controls in EXPECTED[state].items() for cid, want in controls.items()
             if got.get((cid, item), ("NOT_RUN",))[0] != want]
    assert wrong == []
    # every plugin case names what it read; nothing else was judged in these homes
    items = {case for (_, case) in got}
    assert items == set(EXPECTED[state]), items
