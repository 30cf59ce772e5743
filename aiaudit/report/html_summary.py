"""The auditor-first part of the HTML report, inserted above pytest-html's detail table.

pytest-html inserts summary fragments raw, so every value here passes through `e()`.
"""

from __future__ import annotations

from html import escape

from aiaudit.catalog import AREA_TITLES

CSS = """
<style>
.aia {font-family: system-ui, sans-serif; font-size: 14px; max-width: 1400px}
.aia h2 {margin: 1.2em 0 .4em}
.aia table {border-collapse: collapse; width: 100%; margin-bottom: 1em}
.aia th, .aia td {border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left}
.aia th {background: #f0f0f0}
.aia .verdict {padding: 14px 18px; font-size: 22px; font-weight: bold; color: #fff;
  border-radius: 4px}
.aia .v-COMPLIANT {background: #2e7d32} .aia .v-INCOMPLETE {background: #ef6c00}
.aia .v-NOT-COMPLIANT {background: #c62828}
.aia .st {font-weight: bold; padding: 1px 5px; border-radius: 3px; color: #fff; white-space: nowrap}
.aia .st-PASS {background: #2e7d32} .aia .st-FAIL {background: #c62828}
.aia .st-ERROR {background: #6a1b9a} .aia .st-NOT_APPLICABLE {background: #757575}
.aia .st-WAIVED {background: #0277bd} .aia .st-MANUAL {background: #5d4037}
.aia .st-NOT_RUN {background: #9e9e9e} .aia .st-NOT_COVERED {background: #bdbdbd}
.aia .ev {font-family: monospace; font-size: 12px; white-space: pre-wrap; word-break: break-all}
.aia .sev-critical {color: #b71c1c; font-weight: bold} .aia .sev-high {color: #e65100}
</style>
"""


def e(value: object) -> str:
    """Escape anything for HTML text and attributes."""
    return escape(str(value), quote=True)


def _status(status: str) -> str:
    return f'<span class="st st-{e(status)}">{e(status)}</span>'


def _since(control: dict) -> str:
    """When the control's oldest failing case started failing (from the run history)."""
    dates = [c["first_seen"] for c in control["cases"] if c.get("first_seen")]
    return f'<div class="since">failing since {e(min(dates))}</div>' if dates else ""


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


TREND_COLOURS = {"PASS": "#2e7d32", "FAIL": "#c62828", "ERROR": "#6a1b9a"}


def render_trend(points: list[dict]) -> str:
    """PASS/FAIL/ERROR controls per area over the last runs, as inline SVG (no script, no
    network: the report stays self-contained)."""
    if not points:
        return ""
    width, height, pad = 260, 90, 14
    charts = []
    for area, title in AREA_TITLES.items():
        series = {s: [p["counts"].get(area, {}).get(s, 0) for p in points]
                  for s in TREND_COLOURS}
        top = max([1, *(max(v) for v in series.values())])
        step = (width - 2 * pad) / max(1, len(points) - 1)
        lines = []
        for status, values in series.items():
            ys = [height - pad - v * (height - 2 * pad) / top for v in values]
            xy = " ".join(f"{pad + i * step:.1f},{y:.1f}" for i, y in enumerate(ys))
            colour = TREND_COLOURS[status]
            lines.append(f'<polyline class="trend-{status}" fill="none" stroke-width="2" '
                         f'stroke="{colour}" points="{xy}"><title>{e(status)}: '
                         f'{e(", ".join(map(str, values)))}</title></polyline>')
            lines.append(f'<text x="{width - pad + 2}" y="{ys[-1]:.1f}" font-size="9" '
                         f'fill="{colour}">{values[-1]}</text>')
        charts.append(
            f'<figure style="display:inline-block;margin:0 12px 8px 0">'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 12}" height="{height}" '
            f'role="img" aria-label="{e(title)} trend"><rect x="0" y="0" width="{width}" '
            f'height="{height}" fill="#fafafa" stroke="#ddd"/>{"".join(lines)}</svg>'
            f"<figcaption>{e(title)}</figcaption></figure>")
    legend = " ".join(f'<span style="color:{c}">&#9632; {s}</span>'
                      for s, c in TREND_COLOURS.items())
    return (f'<div id="aiaudit-trend"><h2>Trend: last {len(points)} run(s) of this target</h2>'
            f'<p>Controls per status, oldest to newest ({e(points[0]["started"])} to '
            f'{e(points[-1]["started"])}). {legend}</p>{"".join(charts)}</div>')


DIFF_SECTIONS = (
    ("new", "New since baseline"),
    ("resolved", "Resolved"),
    ("still_failing", "Still failing"),
    ("changed_evidence", "Still failing, with changed evidence"),
    ("not_checked_now", "Failing in the baseline, not checked in this run"),
)


def render_diff(diff: dict) -> str:
    """The "since the baseline" block the report opens with (nightly readers look here)."""
    counts = ", ".join(f"{len(diff.get(k, []))} {t.lower()}" for k, t in DIFF_SECTIONS[:3])
    parts = [f'<div id="aiaudit-diff"><h2>Since baseline</h2><p>Baseline: '
             f'{e(diff["baseline"])} {e(diff.get("baseline_started", ""))}: {e(counts)}</p>']
    for key, title in DIFF_SECTIONS:
        rows = [[e(c["control"]), e(c["case"]), _status(c["before"]) if c["before"] != "absent"
                 else "absent", _status(c["status"]) if c["status"] != "absent" else "absent",
                 f'<div class="ev">{e(c["reason"])}</div>'] for c in diff.get(key, [])]
        if rows:
            parts.append(f'<h3 id="diff-{e(key)}">{e(title)} ({len(rows)})</h3>')
            parts.append(_table(["Control", "Case", "Before", "Now", "Reason"], rows, "diff"))
    parts.append("</div>")
    return "".join(parts)


def _rate(r: dict) -> str:
    if not r["attempts"]:
        return "0 attempts"
    return (f'{r["successes"]}/{r["attempts"]} ({r["rate"]:.0%}; 95% Wilson '
            f'{r["wilson_low"]:.0%}-{r["wilson_high"]:.0%})')


def _families(rows: list[dict]) -> str:
    """The injection controls' attack success rate per family beside the no-attack rate."""
    if not rows:
        return ""
    body = [[e(r["control"]), e(f'{r["channel"]} ({r["corpus"]})'), e(r["family"]),
             e(_rate(r)), e(_rate(r["no_attack"])),
             "<b>yes</b>" if r["beats_no_attack"] else "no",
             f'<div class="ev">{e(r["shortest_payload"] or "")}</div>'] for r in rows]
    return ('<h2>Prompt injection by attack family</h2><div id="aiaudit-families">'
            + _table(["Control", "Channel", "Family", "Attack success", "No-attack control",
                      "Beats control", "Shortest successful payload"], body, "families")
            + "</div>")


def _also_seen(rows: list[dict]) -> str:
    """What lies outside the `[deployment]` scope: listed, never judged."""
    if not rows:
        return ""
    body = [[e(r.get("kind")), e(r.get("product")), f'<div class="ev">{e(r.get("where"))}</div>',
             e(r.get("found_by"))] for r in rows]
    return ('<h2>Also seen on the host (outside the deployment scope, not judged)</h2>'
            '<div id="aiaudit-also-seen">'
            + _table(["Kind", "Product", "Where", "Found by"], body, "also-seen") + "</div>")


def render_summary(doc: dict) -> str:
    """HTML for the whole auditor summary, from the (already redacted) JSON document."""
    verdict = doc["verdict"]
    parts = [CSS, '<div class="aia" id="aiaudit-summary">']
    parts.append(f'<div class="verdict v-{e(verdict.replace(" ", "-"))}" id="aiaudit-verdict">'
                 f"{e(verdict)}</div>")
    if doc.get("interrupted"):
        parts.append(f'<p id="aiaudit-interrupted"><b>Audit {e(doc["interrupted"])}</b>: '
                     "cases finished by then are kept; the rest are NOT_RUN.</p>")
    meta = [
        ["Target", e(doc["target"]) + f" ({e(doc['target_kind'])})"],
        ["Profile", e(doc["profile"])],
        ["Suite / catalog version", f"{e(doc['suite_version'])} / {e(doc['catalog_version'])}"],
        ["Started / finished (UTC)", f"{e(doc['started'])} / {e(doc['finished'])}"],
        ["Audit config", e(doc.get("config") or "none (defaults)")],
    ] + [[e(k), e(v)] for k, v in doc.get("parameters", {}).items()]
    parts.append(_table(["Run", ""], meta))
    if doc.get("diff") is not None:
        parts.append(render_diff(doc["diff"]))
    parts.append(render_trend(doc.get("trend", [])))
    counts = doc["counts"]
    parts.append("<h2>Controls by status</h2>")
    parts.append(_table(list(counts), [[e(v) for v in counts.values()]], "counts"))
    if doc["failed_by_severity"]:
        sev = doc["failed_by_severity"]
        parts.append(_table([f"FAIL {k}" for k in sev], [[e(v) for v in sev.values()]]))
    parts.append('<h2>Control matrix</h2><div id="aiaudit-matrix">')
    for area, title in AREA_TITLES.items():
        rows = []
        for c in (c for c in doc["controls"] if c["area"] == area):
            failing = c["status"] in ("FAIL", "ERROR", "WAIVED")
            rows.append([
                f'<a id="ctl-{e(c["id"])}">{e(c["id"])}</a>',
                e(c["title"]),
                f'<span class="sev-{e(c["severity"])}">{e(c["severity"])}</span>',
                _status(c["status"]) + _since(c),
                f'<div class="ev">{e(c["evidence"] or c["reason"])}</div>',
                e(c["remediation"]) if failing else "",
                e(c["time_to_fix"]) if failing else "",
            ])
        parts.append(f"<h3>{e(title)}</h3>")
        parts.append(_table(["ID", "Condition", "Severity", "Status", "Evidence",
                             "Remediation", "Time to fix"], rows, "matrix"))
    parts.append("</div>")
    parts.append(_families(doc.get("injection_families") or []))
    parts.append(_also_seen(doc.get("also_seen") or []))
    parts.append("<h2>Self-hosted AI audit checklist</h2>")
    parts.append(_table(["Item", "Requirement", "Controls", "Status"], [
        [e(i["item"]), e(i["text"]), e(", ".join(i["controls"])), _status(i["status"])]
        for i in doc["checklist"]
    ], "checklist"))
    parts.append("<h2>OWASP Top 10 for LLM Applications 2025</h2>")
    parts.append(_table(["Risk", "Controls", "Status"], [
        [e(o["title"]), e(", ".join(o["controls"])), _status(o["status"])] for o in doc["owasp"]
    ], "owasp"))
    requests = doc.get("requests", [])
    parts.append(f"<details><summary>Appendix: {len(requests)} requests sent to the target"
                 "</summary>")
    parts.append(_table(["Probe", "Method", "URL", "Status", "Seconds", "Error"], [
        [e(r.get("probe")), e(r.get("method")), e(r.get("url")), e(r.get("status")),
         e(f"{r.get('elapsed', 0):.3f}"), e(r.get("error") or "")] for r in requests[:2000]
    ]))
    parts.append("</details>")
    for note in doc.get("notes", []):
        parts.append(f"<p>{e(note)}</p>")
    parts.append("</div>")
    return "".join(parts)
