"""The fleet report: targets x controls, worst target first, with links to each target's
own report; JSON twin `fleet.json` and HTML `fleet.html` in the fleet's report dir.

Built from the per-target JSON reports only, so a run over the whole fleet and the merge of
its shards (`python -m aiaudit.report merge`) give the same document.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from aiaudit.report.html_summary import CSS, _status, _table, e
from aiaudit.report.model import atomic_write, write_json

STATUS_WEIGHT = {"FAIL": 5, "ERROR": 4, "MANUAL": 3, "WAIVED": 2, "NOT_RUN": 1}


def _worst_first(row: dict) -> tuple:
    statuses = list(row["controls"].values())
    return (-int(bool(row["error"])), -statuses.count("FAIL"), -statuses.count("ERROR"),
            row["target"])


def build_fleet(reports: list[tuple[str, dict | None, str, Path]], root: Path) -> dict:
    """reports: (target spec, its JSON report or None, why there is none, its report dir)."""
    control_ids: list[str] = []
    rows = []
    for spec, doc, error, report_dir in reports:
        controls = {}
        if doc is not None:
            for c in doc["controls"]:
                controls[c["id"]] = c["status"]
                if c["id"] not in control_ids:
                    control_ids.append(c["id"])
        html = next(iter(sorted(report_dir.glob("*.html"), key=os.path.getmtime,
                                reverse=True)), None) if doc is not None else None
        rows.append({
            "target": spec,
            "verdict": doc["verdict"] if doc else "ERROR",
            "counts": doc["counts"] if doc else {},
            "error": error,
            "report": os.path.relpath(report_dir / "latest.html", root) if html else None,
            "json": os.path.relpath(report_dir / "latest.json", root) if doc else None,
            "controls": controls,
        })
    rows.sort(key=_worst_first)
    return {
        "schema_version": 1,
        "kind": "fleet",
        "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "targets": rows,
        "controls": control_ids,
        "verdict": ("NOT COMPLIANT" if any(r["verdict"] == "NOT COMPLIANT" for r in rows)
                    else "INCOMPLETE" if any(r["verdict"] != "COMPLIANT" for r in rows)
                    else "COMPLIANT"),
    }


def render_fleet(doc: dict) -> str:
    head = ["Target", "Verdict", *doc["controls"]]
    rows = []
    for row in doc["targets"]:
        name = e(row["target"])
        if row["report"]:
            name = f'<a href="{e(row["report"])}">{name}</a>'
        verdict = e(row["verdict"]) + (f'<div class="ev">{e(row["error"])}</div>'
                                       if row["error"] else "")
        rows.append([name, verdict, *[_status(row["controls"].get(c, "NOT_RUN"))
                                      for c in doc["controls"]]])
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>aiaudit fleet report"
            f'</title>{CSS}</head><body><div class="aia" id="aiaudit-fleet">'
            f"<h1>aiaudit fleet report: {e(doc['verdict'])}</h1><p>{len(doc['targets'])} "
            f"target(s), worst first; generated {e(doc['generated'])}</p>"
            f"{_table(head, rows, 'fleet')}</div></body></html>")


def write_fleet_report(root: Path, reports: list[tuple[str, dict | None, str, Path]]) -> dict:
    doc = build_fleet(reports, root)
    write_json(doc, root / "fleet.json")
    atomic_write(root / "fleet.html", render_fleet(doc))
    return doc
