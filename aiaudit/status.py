"""Control statuses and how parametrized cases roll up into one status per control.

kube-bench's rule holds throughout: a control that could not be audited is never a PASS.
"""

from __future__ import annotations

from enum import StrEnum

from _pytest.outcomes import Skipped  # pytest.skip.Exception, without importing all of pytest


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    WAIVED = "WAIVED"
    MANUAL = "MANUAL"
    NOT_RUN = "NOT_RUN"


# Worst first: the first status present among a control's cases wins.
ROLLUP_ORDER = (Status.FAIL, Status.ERROR, Status.MANUAL, Status.PASS, Status.NOT_APPLICABLE)
# Statuses that make the run exit non-zero.
SCORED_BAD = (Status.FAIL, Status.ERROR)


def rollup(statuses: list[Status]) -> Status:
    """One status for a control from its cases; no cases means the control did not run."""
    for status in ROLLUP_ORDER:
        if status in statuses:
            return status
    return Status.NOT_RUN


class NotApplicable(Skipped):
    """The control does not apply to this target (reason required)."""


class ManualCheck(Skipped):
    """The control needs a person; the reason says what to look at."""


class CouldNotCheck(Exception):
    """The check could not be carried out (unreachable, timed out, no access)."""


def not_applicable(reason: str) -> None:
    raise NotApplicable(msg=f"NOT_APPLICABLE: {reason}", pytrace=False)


def manual(reason: str) -> None:
    raise ManualCheck(msg=f"MANUAL: {reason}", pytrace=False)


def could_not_check(reason: str) -> None:
    raise CouldNotCheck(reason)
