"""Every skill's SUP-03 and SUP-04 outcome under a home dir, one JSON line per skill (sorted
by skill id, every field of every finding): run it before and after a speed change and
compare the files (`cmp`), so a faster review is shown to be the same review.

    python bench/skills_scan/dump_reviews.py HOME OUT.jsonl [WORKERS]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiaudit.hostfs import HostFS  # noqa: E402
from aiaudit.supply_chain.batch import review_all  # noqa: E402
from aiaudit.supply_chain.discovery import discover  # noqa: E402
from aiaudit.supply_chain.settings import Settings  # noqa: E402


def main() -> None:
    home, out = sys.argv[1], Path(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else None
    inventory = discover(HostFS("local"), Settings(home_dirs=(home,)))
    reviews = review_all(inventory.skills, workers=workers)
    with out.open("w", encoding="utf-8") as handle:
        for sid in sorted(reviews):
            row = [sid] + [[dataclasses.asdict(f) for f in outcome]
                           if isinstance(outcome, list) else repr(outcome)
                           for outcome in reviews[sid]]
            handle.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{len(reviews)} skills written to {out}")


if __name__ == "__main__":
    main()
