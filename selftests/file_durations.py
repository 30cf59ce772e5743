"""A pytest plugin for the self-test run: the time each test file took (setup, call and
teardown of its tests summed), the slowest files printed at the end.

Why: CI must stay under 30 minutes, and `--durations` lists single phases, so a file of
many mid-sized cases (a variant per state, a case per server) never shows there; the file
totals say where a cut pays. Loaded by bin/selftest with `-p selftests.file_durations`."""

from __future__ import annotations

from collections import defaultdict

import pytest

_TOTALS: dict[str, float] = defaultdict(float)
SHOWN = 25


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _TOTALS[report.nodeid.split("::", 1)[0]] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not _TOTALS:
        return
    total = sum(_TOTALS.values())
    terminalreporter.section(f"slowest {SHOWN} test files (of {len(_TOTALS)}, "
                             f"{total:.0f} s in all)")
    for path, seconds in sorted(_TOTALS.items(), key=lambda kv: -kv[1])[:SHOWN]:
        terminalreporter.write_line(f"{seconds:8.1f}s  {100 * seconds / total:4.1f}%  {path}")
