"""SARIF 2.1.0 output (`--sarif FILE`) for code-scanning dashboards.

One rule per catalog control (help text and remediation), one result per failing case with
a logical location (target, resource) and the stable fingerprint of the case key. A FAIL is
`kind: fail` with a level from the control's severity; an ERROR (could not check) is
`kind: open`, which SARIF defines as "the tool could not determine pass or fail".
"""

from __future__ import annotations

import json
from pathlib import Path

from aiaudit import __version__
from aiaudit.report.identity import KEY_VERSION

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def _rule(control: dict) -> dict:
    frameworks = ", ".join([*control["checklist"], *control["owasp"]])
    return {
        "id": control["id"],
        "name": control["id"].replace("-", ""),
        "shortDescription": {"text": control["title"]},
        "fullDescription": {"text": f"{control['title']} ({control['area']}; {frameworks})"},
        "help": {"text": f"Remediation: {control['remediation']} "
                         f"(time to fix: {control['time_to_fix']})"},
        "defaultConfiguration": {"level": LEVEL.get(control["severity"], "warning")},
        "properties": {"severity": control["severity"], "area": control["area"],
                       "checklist": control["checklist"], "owasp": control["owasp"],
                       "tags": ["security", control["area"], *control["owasp"]]},
    }


def _result(doc: dict, control: dict, index: int, case: dict) -> dict:
    resource = case["case"] or control["id"]
    failed = case["status"] == "FAIL"
    result = {
        "ruleId": control["id"],
        "ruleIndex": index,
        "kind": "fail" if failed else "open",
        "level": LEVEL.get(control["severity"], "warning") if failed else "none",
        "message": {"text": f"{case['status']}: {case['reason'] or control['title']}"},
        "locations": [{
            "logicalLocations": [{
                "name": resource,
                "fullyQualifiedName": f"{doc['target']}/{resource}",
                "kind": "resource",
            }],
        }],
        "partialFingerprints": {KEY_VERSION: case["fingerprint"]},
        "properties": {"target": doc["target"], "case_key": case["key"],
                       "status": case["status"], "evidence": case["evidence"]},
    }
    return result


def build_sarif(doc: dict) -> dict:
    """The SARIF log of one (already redacted) JSON report."""
    controls = doc["controls"]
    rules = [_rule(c) for c in controls]
    results = [
        _result(doc, control, i, case)
        for i, control in enumerate(controls)
        for case in control["cases"]
        if case["status"] in ("FAIL", "ERROR")
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "aiaudit", "version": __version__, "rules": rules}},
            "automationDetails": {"id": f"aiaudit/{doc['target']}/{doc['started']}"},
            "invocations": [{"executionSuccessful": True,
                             "startTimeUtc": doc["started"].replace("+00:00", "Z"),
                             "endTimeUtc": (doc["finished"] or doc["started"])
                             .replace("+00:00", "Z")}],
            "results": results,
            "properties": {"verdict": doc["verdict"], "target": doc["target"]},
        }],
    }


def merged_sarif(root: Path, fleet: dict) -> dict:
    """One SARIF log with a run per target of a fleet report (paths relative to root)."""
    runs = []
    for row in fleet["targets"]:
        if row.get("json"):
            runs += build_sarif(json.loads((root / row["json"]).read_text()))["runs"]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
