"""Facts about a finished run: per-case outcomes rolled up into per-control results."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from aiaudit.catalog import Catalog, Control
from aiaudit.config import AuditConfig
from aiaudit.status import SCORED_BAD, Status, rollup

MAX_EVIDENCE_CHARS = 4000  # per case: reports must stay small enough to open

# Evidence keys every control shares. `read` holds counts of what the test actually read,
# as `name=N` words ("files=3 rows=120 keys=7"); `unreadable` names what it could not read.
# A PASS needs a `read` count above zero and no `unreadable` (checked in the plugin).
READ_KEY = "read"
UNREADABLE_KEY = "unreadable"
_COUNT = re.compile(r"([a-z_]+)=(\d+)")


def parse_read(text: str) -> dict[str, int]:
    """`files=3 rows=120` -> {"files": 3, "rows": 120}."""
    return {k: int(v) for k, v in _COUNT.findall(text or "")}


def format_read(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items())


def read_nothing(evidence: dict[str, str]) -> bool:
    """True when the evidence names no count above zero of anything read."""
    return not any(v > 0 for v in parse_read(evidence.get(READ_KEY, "")).values())


@dataclass
class CaseResult:
    """One parametrized test case of one control."""

    nodeid: str
    control: str
    case: str
    status: Status
    reason: str = ""
    evidence: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0


@dataclass
class ControlResult:
    control: Control
    status: Status
    reason: str
    cases: list[CaseResult]

    @property
    def evidence_summary(self) -> str:
        """The most telling line: the first case with the control's own status."""
        for case in self.cases:
            waived_fail = self.status == Status.WAIVED and case.status == Status.FAIL
            if case.status == self.status or waived_fail:
                text = case.reason or "; ".join(f"{k}: {v}" for k, v in case.evidence.items())
                return f"[{case.case}] {text}" if case.case else text
        return self.reason


def _case_line(case: CaseResult) -> str:
    if case.case and case.reason:
        return f"{case.case}: {case.reason}"
    return case.reason or case.case


def control_result(control: Control, cases: list[CaseResult], cfg: AuditConfig,
                   today: dt.date | None = None) -> ControlResult:
    """Roll a control's cases up and apply its waiver, if any."""
    status = rollup([c.status for c in cases])
    if status == Status.NOT_RUN:
        reason = "no test implements this control yet" if control.automated else "manual control"
        return ControlResult(control, Status.NOT_RUN, reason, cases)
    counts = {s: sum(1 for c in cases if c.status == s) for s in Status}
    reason = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    worst = [c for c in cases if c.status == status]
    if status not in (Status.PASS,) and worst:
        reason = f"{reason}; {_case_line(worst[0])}"
    waiver = cfg.waiver_for(control.id)
    if waiver and status == Status.FAIL:
        if waiver.valid(today):
            status = Status.WAIVED
            reason = f"waived until {waiver.expires}: {waiver.justification} ({reason})"
        else:
            reason = f"waiver expired on {waiver.expires} ({waiver.justification}): {reason}"
    return ControlResult(control, status, reason, cases)


@dataclass
class RunSummary:
    controls: list[ControlResult]
    verdict: str
    counts: dict[str, int]
    failed_by_severity: dict[str, int]

    @property
    def exit_nonzero(self) -> bool:
        return any(r.status in SCORED_BAD for r in self.controls)


def summarize(catalog: Catalog, cases: list[CaseResult], cfg: AuditConfig,
              today: dt.date | None = None) -> RunSummary:
    by_control: dict[str, list[CaseResult]] = {}
    for case in cases:
        by_control.setdefault(case.control, []).append(case)
    results = [control_result(c, by_control.get(c.id, []), cfg, today) for c in catalog.controls]
    counts = {s.value: sum(1 for r in results if r.status == s) for s in Status}
    failed_by_severity: dict[str, int] = {}
    for r in results:
        if r.status == Status.FAIL:
            sev = r.control.severity
            failed_by_severity[sev] = failed_by_severity.get(sev, 0) + 1
    if counts["FAIL"]:
        verdict = "NOT COMPLIANT"
    elif counts["ERROR"] or counts["NOT_RUN"] or counts["MANUAL"]:
        verdict = "INCOMPLETE"
    else:
        verdict = "COMPLIANT"
    return RunSummary(results, verdict, counts, failed_by_severity)


def checklist_status(statuses: list[Status]) -> Status:
    """A checklist item holds only when every control behind it holds."""
    if any(s == Status.FAIL for s in statuses):
        return Status.FAIL
    if any(s in (Status.ERROR, Status.NOT_RUN, Status.MANUAL) for s in statuses):
        return Status.ERROR if Status.ERROR in statuses else Status.NOT_RUN
    if statuses and all(s == Status.NOT_APPLICABLE for s in statuses):
        return Status.NOT_APPLICABLE
    if any(s == Status.WAIVED for s in statuses):
        return Status.WAIVED
    return Status.PASS
