"""Which rule anchors (lower-case literals) occur in a file, found in one pass.

Every rule carries literals that any of its matches must contain; a rule whose literals are
absent is skipped. Checking ~200 literals one by one rescans a big file ~200 times, so
they are compiled into one Hyperscan database (already a dependency of the storage area)
and each file is scanned once; without Hyperscan, plain substring checks do the same job.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

try:
    import hyperscan
except ImportError:  # pragma: no cover - the package ships wheels for the supported platforms
    hyperscan = None


class AnchorIndex:
    def __init__(self, anchors: Iterable[str]):
        self.anchors = sorted(set(anchors))
        self._db = None
        self._lock = threading.Lock()

    def _database(self):
        with self._lock:
            if self._db is None and hyperscan is not None:
                db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
                flags = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
                db.compile(expressions=[re.escape(a).encode() for a in self.anchors],
                           ids=list(range(len(self.anchors))), elements=len(self.anchors),
                           flags=[flags] * len(self.anchors))
                self._db = db
        return self._db

    def present(self, text: str, lowered: str) -> set[str]:
        """The indexed anchors that occur in the text."""
        db = self._database()
        if db is None or not text.isascii() and len(lowered) != len(text):
            return {a for a in self.anchors if a in lowered}
        found: set[str] = set()

        def on_match(ident: int, _start: int, _end: int, _flags: int, _ctx: object) -> None:
            found.add(self.anchors[ident])

        db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=on_match)
        return found


_INDEX: AnchorIndex | None = None


def index() -> AnchorIndex:
    """The index of every anchor the supply-chain rules use (built on first use)."""
    global _INDEX
    if _INDEX is None:
        from aiaudit.supply_chain import honesty, rules

        anchors: set[str] = set()
        for rule in rules.LINE_RULES:
            anchors |= set(rule.anchors)
        for signal in rules.SIGNALS.values():
            anchors |= set(signal.anchors)
        anchors |= set(rules.PROSE_EXFIL_ANCHORS) | set(rules.MEMORY_FILE_ANCHORS)
        anchors |= set(rules.HOST_ANCHORS) | set(honesty.INDEXED_ANCHORS)
        _INDEX = AnchorIndex(anchors)
    return _INDEX
