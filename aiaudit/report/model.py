"""The JSON twin of the report: a public interface for CI users (documented in README)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from aiaudit import __version__
from aiaudit.catalog import Catalog
from aiaudit.redact import redact_obj
from aiaudit.report.identity import case_key, evidence_hash, fingerprint
from aiaudit.results import CaseResult, RunSummary, checklist_status
from aiaudit.status import Status

SCHEMA_VERSION = 1
# Where the injection controls leave their per-family rows in the run's context.
FAMILY_TABLE = "report:injection_families"


@dataclass
class RunInfo:
    target: str
    target_kind: str
    profile: str
    started: str
    finished: str = ""
    config: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    interrupted: str = ""  # "interrupted after 12 s (SIGINT)" when the run was stopped
    injection_families: list[dict] = field(default_factory=list)
    also_seen: list[dict] = field(default_factory=list)  # outside [deployment]: not judged


def _case(target: str, control: str, c: CaseResult) -> dict:
    evidence = redact_obj(c.evidence)
    key = redact_obj(case_key(control, target, c.case))
    return {
        "case": c.case,
        "key": key,
        "fingerprint": fingerprint(key),
        "status": c.status.value,
        "reason": c.reason,
        "evidence": c.evidence,
        "evidence_hash": evidence_hash(evidence),
        "nodeid": c.nodeid,
    }


def build_report(info: RunInfo, summary: RunSummary, catalog: Catalog) -> dict:
    """Everything an auditor or a CI job needs, redacted."""
    status_of = {r.control.id: r.status for r in summary.controls}
    controls = [
        {
            "id": r.control.id,
            "title": r.control.title,
            "area": r.control.area,
            "severity": r.control.severity,
            "status": r.status.value,
            "reason": r.reason,
            "evidence": r.evidence_summary,
            "remediation": r.control.remediation,
            "time_to_fix": r.control.time_to_fix,
            "checklist": list(r.control.checklist),
            "owasp": list(r.control.owasp),
            "cases": [_case(info.target, r.control.id, c) for c in r.cases],
        }
        for r in summary.controls
    ]
    checklist = [
        {
            "item": item.item,
            "text": item.text,
            "controls": list(item.controls),
            "status": checklist_status([status_of[c] for c in item.controls]).value,
        }
        for item in catalog.checklist
    ]
    owasp = []
    for oid, title in catalog.owasp_titles.items():
        ids = [c.id for c in catalog.controls if oid in c.owasp]
        status = checklist_status([status_of[c] for c in ids]).value if ids else "NOT_COVERED"
        owasp.append({"id": oid, "title": title, "controls": ids, "status": status})
    doc = {
        "schema_version": SCHEMA_VERSION,
        "target": info.target,
        "target_kind": info.target_kind,
        "profile": info.profile,
        "started": info.started,
        "finished": info.finished,
        "interrupted": info.interrupted or None,
        "suite_version": __version__,
        "catalog_version": catalog.version,
        "config": info.config,
        "parameters": info.parameters,
        "verdict": summary.verdict,
        "counts": summary.counts,
        "failed_by_severity": summary.failed_by_severity,
        "controls": controls,
        "checklist": checklist,
        "owasp": owasp,
        "injection_families": info.injection_families,
        "also_seen": info.also_seen,
        "requests": info.requests,
        "notes": info.notes,
    }
    return redact_obj(doc)


def atomic_write(path: Path, text: str) -> None:
    """Write via a temp file so a killed run never leaves a half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def json_text(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_json(doc: dict, path: Path) -> None:
    atomic_write(path, json_text(doc))


STATUS_ORDER = [s.value for s in Status]
