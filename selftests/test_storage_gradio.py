"""STO-01..05 and STO-07 on Gradio's flagged data, written by the real gradio through its
CSVLogger (selftests/gradio_states.py): one audit naming each app's dir, as an auditor
runs it; expected statuses: selftests/expected/real/gradio_stores.toml.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from selftests import gradio_states as states
from selftests.real_expect import passes_reading_nothing, per_dir_mismatches, run_audit

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = tomllib.loads((Path(__file__).parent / "expected" / "real" /
                          "gradio_stores.toml").read_text())
TESTS = sorted(str(p.relative_to(ROOT))
               for p in (ROOT / "tests_storage").glob("test_sto0[1-57]_*.py"))

pytestmark = pytest.mark.skipif(not states.GRADIO_PY.exists(),
                                reason=f"gradio's venv is missing ({states.GRADIO_PY})")


@pytest.fixture(scope="module")
def audit() -> Iterator[tuple[Path, dict]]:
    base = Path(tempfile.mkdtemp(prefix="aiaudit-gradio-"))
    try:
        dirs = states.build(base / "s")
        homes = json.dumps([str(d) for d in dirs.values()])
        yield base / "s", run_audit(base, "gradio", f"[deployment]\nhomes = {homes}\n", TESTS)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _cases(doc: dict, cid: str, where: Path) -> list[dict]:
    d = f"{where}/"
    return [c for control in doc["controls"] if control["id"] == cid
            for c in control["cases"] if (tail := c["case"].split(":", 1)[-1]) == str(where)
            or tail.startswith(d) or len(c["case"]) >= 80 and d.startswith(tail)]


def test_every_state_gets_its_expected_status(audit):
    base, doc = audit
    wrong = per_dir_mismatches(EXPECTED, lambda cid, label: _cases(doc, cid, base / label))
    assert not wrong, "\n".join(wrong)


def test_no_pass_reads_nothing(audit):
    _, doc = audit
    assert not passes_reading_nothing([doc])


def test_the_key_is_named_in_the_flagged_csv(audit):
    base, doc = audit
    [case] = [c for c in _cases(doc, "STO-03", base / "gradio-flagged") if c["status"] == "FAIL"]
    assert "dataset1.csv" in case["reason"], case["reason"]
    assert f"sk-p…[{len(states.PLANTED)}]" in case["reason"], case["reason"]
