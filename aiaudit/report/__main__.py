"""`python -m aiaudit.report merge [--out DIR] [--sarif FILE] DIR...`: join the fleet
reports of CI shards (`--shard I/N` runs) into one fleet report and one SARIF log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aiaudit.report.fleet_report import write_fleet_report
from aiaudit.report.model import write_json
from aiaudit.report.sarif import merged_sarif


def merge(dirs: list[Path], out: Path) -> dict:
    reports = []
    for d in dirs:
        try:
            fleet = json.loads((d / "fleet.json").read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"aiaudit merge: {d}: no readable fleet.json ({exc})") from None
        for row in fleet["targets"]:
            doc = json.loads((d / row["json"]).read_text()) if row.get("json") else None
            report_dir = (d / row["json"]).parent if row.get("json") else d
            reports.append((row["target"], doc, row.get("error", ""), report_dir.resolve()))
    out.mkdir(parents=True, exist_ok=True)
    return write_fleet_report(out.resolve(), reports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiaudit.report")
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("merge", help="merge shard fleet reports")
    m.add_argument("dirs", nargs="+", type=Path)
    m.add_argument("--out", type=Path, default=Path("reports/fleet"))
    m.add_argument("--sarif", type=Path)
    args = parser.parse_args(argv)
    doc = merge(args.dirs, args.out)
    if args.sarif:
        write_json(merged_sarif(args.out.resolve(), doc), args.sarif)
    print(f"aiaudit merge: {len(doc['targets'])} target(s), verdict {doc['verdict']}; "
          f"report {args.out / 'fleet.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
