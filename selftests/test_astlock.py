"""Building ASTs is serialised in the audit process (CPython 3.11 shares the AST
constructor's recursion depth between threads: gh-106905). A lab audit's collection failed
with "SystemError: AST constructor recursion depth mismatch" while discovery threads folded
skills' Python; these tests pin that both sides now take one lock."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from aiaudit import astlock
from aiaudit.supply_chain.pyfold import fold_python

ROOT = Path(__file__).resolve().parents[1]


def _blocked_while_locked(call) -> tuple[bool, bool]:  # type: ignore[no-untyped-def]
    """(finished while another thread held the lock, finished after it let go)."""
    done = threading.Event()
    worker = threading.Thread(target=lambda: (call(), done.set()), daemon=True)
    with astlock.AST_LOCK:
        worker.start()
        during = done.wait(0.5)
    after = done.wait(10)
    return during, after


def test_skill_folding_waits_for_the_ast_lock():
    source = "import os\nx = 'ev' + 'al'\ngetattr(__builtins__, x)('1+1')\n"
    assert _blocked_while_locked(lambda: fold_python(source)) == (False, True)


def test_pytest_rewrite_waits_for_the_ast_lock_in_an_audit_run(tmp_path):
    """In a pytest run with the plugin, pytest's assert rewriting holds the same lock."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "def test_rewrite_is_locked():\n"
        "    from _pytest.assertion import rewrite\n"
        "    assert getattr(rewrite._rewrite_test, 'aiaudit_ast_lock', False)\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(probe)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert "1 passed" in proc.stdout, proc.stdout[-1500:] + proc.stderr[-1500:]


def test_guard_is_idempotent_and_locks(pytestconfig):
    from _pytest.assertion import rewrite

    assert astlock.guard_pytest_rewrite() and astlock.guard_pytest_rewrite()
    wrapped = rewrite._rewrite_test
    assert wrapped.__wrapped__ is not wrapped and not getattr(
        wrapped.__wrapped__, "aiaudit_ast_lock", False)  # wrapped once, not twice
    source = ROOT / "aiaudit" / "astlock.py"
    assert _blocked_while_locked(lambda: wrapped(source, pytestconfig)) == (False, True)
