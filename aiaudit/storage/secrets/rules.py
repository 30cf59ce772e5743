"""The storage engine's rule set, built from the shared secret shapes (aiaudit/secretshapes.py).

Why two patterns per rule: Hyperscan finds every candidate in one pass over the bytes
(hundreds of MB/s), but reports only where a match ends. A candidate pattern has a
fixed-length tail so each occurrence ends exactly once; the confirming pattern then runs
only on the few bytes around each candidate, and extracts the value (group `v`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiaudit.secretshapes import check_of, run_on_cut, shapes

Check = Callable[[bytes], bool]


@dataclass(frozen=True)
class Rule:
    name: str
    candidate: bytes  # Hyperscan pattern; its end marks the candidate
    confirm: bytes  # Python pattern with a group `v` for the value
    back: int  # how far before the candidate's end the confirming match may start
    ahead: int = 512  # how far after it the value may run on
    check: Check | None = None
    left_boundary: bool = True  # the value must not continue a longer word to its left
    # the value without the next column's text raw bytes ran it into (secrets.toml run_on)
    cut: Callable[[bytes], bytes] | None = None


RULES: tuple[Rule, ...] = tuple(
    Rule(s.name, s.candidate.encode(), s.confirm.encode(), s.back, s.ahead, check_of(s),
         s.left_boundary, run_on_cut(s))
    for s in shapes()
)
# When two rules find the same value, the more specific (earlier) rule names it.
PRIORITY = {rule.name: i for i, rule in enumerate(RULES)}
