"""Baseline and diff: what changed since an earlier report of the same target.

Nightly jobs need to see what is new, not everything that was already failing yesterday
(checkov's and semgrep's baselines do this for code; this does it for a deployment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

FAILING = ("FAIL", "ERROR")
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
FAIL_ON = ("any", "new", "severity:low", "severity:medium", "severity:high",
           "severity:critical")


class BaselineError(ValueError):
    """The baseline cannot be used (unreadable, not an aiaudit JSON report)."""


@dataclass(frozen=True)
class Change:
    key: str
    control: str
    case: str
    status: str
    before: str  # status in the baseline ("absent" if the case was not there)
    severity: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "control": self.control, "case": self.case,
                "status": self.status, "before": self.before, "severity": self.severity,
                "reason": self.reason}


def load_baseline(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"--baseline {path}: cannot read: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1 or "controls" not in doc:
        raise BaselineError(f"--baseline {path}: not an aiaudit JSON report (schema_version 1)")
    return doc


def auto_baseline(report_dir: Path, slug: str, current_stem: str) -> Path | None:
    """The newest earlier report of the same target in the report dir (`--baseline auto`)."""
    names = sorted(p for p in report_dir.glob(f"{slug}-*.json")
                   if p.stem != current_stem and p.stem[len(slug) + 1:][:1].isdigit())
    earlier = [p for p in names if p.stem < current_stem]
    return earlier[-1] if earlier else None


def _cases(doc: dict) -> dict[str, tuple[dict, dict]]:
    out = {}
    for control in doc.get("controls", []):
        for case in control.get("cases", []):
            if "key" in case:
                out[case["key"]] = (control, case)
    return out


def compute_diff(current: dict, baseline: dict, baseline_name: str) -> dict:
    """new / resolved / still failing / changed evidence, by stable case key."""
    now, before = _cases(current), _cases(baseline)
    ran = {c["id"] for c in current.get("controls", []) if c.get("cases")}
    new, resolved, still, changed, unchecked = [], [], [], [], []
    for key, (control, case) in now.items():
        old = before.get(key)
        old_status = old[1]["status"] if old else "absent"
        change = Change(key, control["id"], case["case"], case["status"], old_status,
                        control["severity"], case.get("reason", ""))
        if case["status"] in FAILING:
            if old_status in FAILING:
                still.append(change)
                if old and old[1].get("evidence_hash") != case.get("evidence_hash"):
                    changed.append(change)
            else:
                new.append(change)
        elif old_status in FAILING:
            resolved.append(change)
    for key, (control, case) in before.items():
        if key in now or case["status"] not in FAILING:
            continue
        change = Change(key, control["id"], case["case"], "absent", case["status"],
                        control["severity"], case.get("reason", ""))
        # A failing case that is gone is resolved only if its control ran this time.
        (resolved if control["id"] in ran else unchecked).append(change)
    return {
        "baseline": baseline_name,
        "baseline_started": baseline.get("started", ""),
        "new": [c.as_dict() for c in new],
        "resolved": [c.as_dict() for c in resolved],
        "still_failing": [c.as_dict() for c in still],
        "changed_evidence": [c.as_dict() for c in changed],
        "not_checked_now": [c.as_dict() for c in unchecked],
    }


def exit_nonzero(doc: dict, fail_on: str) -> bool:
    """Whether the run fails under `--fail-on` (`any` is the default: any FAIL or ERROR)."""
    if fail_on == "new":
        diff = doc.get("diff")
        if diff is None:  # no baseline: everything failing is new
            return any(c["status"] in FAILING for c in doc["controls"])
        return bool(diff["new"])
    if fail_on.startswith("severity:"):
        floor = SEVERITY_RANK[fail_on.split(":", 1)[1]]
        return any(c["status"] in FAILING and SEVERITY_RANK.get(c["severity"], 0) >= floor
                   for c in doc["controls"])
    return any(c["status"] in FAILING for c in doc["controls"])
