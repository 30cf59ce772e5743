"""Compile the supply-chain rule databases at install time, so that no audit compiles them.

    python3 -m aiaudit.supply_chain.rulesdb [DIR]

bin/setup runs it once: the Hyperscan databases of the rule index, the anchor positions and
the sentence filter (about 1 s of CPU to compile) are written to DIR, by default the
package's data/rules-db, where anchors._cached_database looks when the user's cache has no
copy. Each file is named by the hash of its rules, the Hyperscan version and the CPU, and
Hyperscan refuses a file built for another platform: a stale or foreign copy is never used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def build(directory: Path) -> list[Path]:
    """Compile every rule database into directory (older copies there removed first); the
    files written. The rule sets are the audit's own (anchors.index, prose.SENTENCES),
    compiled afresh whatever this process already loaded."""
    from aiaudit.supply_chain import anchors, prose

    if anchors.hyperscan is None:
        raise SystemExit("aiaudit rulesdb: Hyperscan is not installed; nothing to compile")
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("supply-chain-rules-*.hsdb"):  # an older rule set's copies
        old.unlink()
    saved = {name: os.environ.get(name) for name in ("AIAUDIT_CACHE_DIR", "AIAUDIT_RULES_DB_DIR")}
    os.environ["AIAUDIT_CACHE_DIR"] = str(directory)  # where _cached_database writes
    os.environ["AIAUDIT_RULES_DB_DIR"] = ""  # compile: never copy an older install
    try:
        rules = anchors.index()
        anchors.AnchorIndex(rules.anchors, rules.patterns)._database()
        anchors.SentenceFilter(prose.SENTENCES.patterns)._database()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return sorted(directory.glob("supply-chain-rules-*.hsdb"))


if __name__ == "__main__":
    from aiaudit.supply_chain.anchors import INSTALLED_DIR

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else INSTALLED_DIR
    for path in build(target):
        print(f"aiaudit rulesdb: {path}")
