"""aiaudit's skill review as one whole command, timed by run.py like GuardDog's CLI:
interpreter start, imports, discovery, SUP-03 and SUP-04 of every skill under a home dir
(`review_all`: the same call the audit makes, over the machine's cores).

    python bench/skills_scan/scan_tree.py HOME
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiaudit.hostfs import HostFS  # noqa: E402
from aiaudit.supply_chain.batch import review_all, warm_in_background  # noqa: E402
from aiaudit.supply_chain.discovery import discover  # noqa: E402
from aiaudit.supply_chain.settings import Settings  # noqa: E402

if __name__ == "__main__":
    warm_in_background()  # as the audit's inventory does: rules load while discovery reads
    inventory = discover(HostFS("local"), Settings(home_dirs=(sys.argv[1],)))
    reviews = review_all(inventory.skills)
    findings = sum(len(x) for pair in reviews.values() for x in pair if isinstance(x, list))
    print(f"{len(reviews)} skills, {findings} findings")
