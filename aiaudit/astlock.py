"""One lock around building Python ASTs in this process.

CPython 3.11 counts the AST constructor's recursion depth in state that all threads share,
so two threads turning source into `ast` objects at once can fail with "SystemError: AST
constructor recursion depth mismatch" (python/cpython gh-106905; pytest-dev/pytest#10763).
An audit does that in two places at once: its discovery threads fold skills' Python
(`supply_chain.pyfold`) while collection imports the audit's test modules, whose asserts
pytest rewrites through `ast.parse`. Seen here: a lab audit's collection of
`tests_injection/test_inj01_canary_disclosure.py` failed with that error, and the run ended
with every control NOT_RUN. Both now take this lock; neither waits on anything under it.
"""

from __future__ import annotations

import ast
import functools
import threading
from typing import Any

AST_LOCK = threading.RLock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """`ast.parse` under the process's AST lock."""
    with AST_LOCK:
        return ast.parse(source, filename, mode)


def literal_eval(text: str) -> Any:
    """`ast.literal_eval` of a string (it parses) under the process's AST lock."""
    with AST_LOCK:
        return ast.literal_eval(text)


def guard_pytest_rewrite() -> bool:
    """Make pytest's assert rewriting (parse, rewrite, compile of one module) take the lock;
    idempotent (fleet audits fork from a process that has done it). False when pytest has
    no such function (another pytest version: its rewriting is left as it is)."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return False
    original = getattr(rewrite, "_rewrite_test", None)
    if original is None:
        return False
    if getattr(original, "aiaudit_ast_lock", False):
        return True

    @functools.wraps(original)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with AST_LOCK:
            return original(*args, **kwargs)

    locked.aiaudit_ast_lock = True  # type: ignore[attr-defined]
    rewrite._rewrite_test = locked
    return True
