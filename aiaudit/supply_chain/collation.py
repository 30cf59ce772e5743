"""JavaScript's `String.prototype.localeCompare` order (ICU root collation) for file paths.

ClawHub sorts the `path:sha256` lines of its skill fingerprint with `localeCompare`, so
`scripts/x.py` sorts before `SKILL.md`; recomputing the fingerprint needs the same order.
ICU compares in passes: first the primary weights of the whole string (letters without
case, punctuation and digits before letters), then accents, then case (lower first).
The primary order of ASCII below was read off Node 20's `localeCompare` (en-US):
  " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbB...zZ"
Outside ASCII the key falls back to decomposed letters and code points, which matches ICU
for Latin letters with accents and keeps every other name in a stable order.
"""

from __future__ import annotations

import unicodedata

_ASCII_PRIMARY_ORDER = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {ch: i + 1 for i, ch in enumerate(_ASCII_PRIMARY_ORDER)}
_OTHER_BASE = len(_PRIMARY) + 1


def _weights(ch: str) -> tuple[list[int], list[int], list[int]]:
    lower = ch.lower()
    if lower in _PRIMARY and len(lower) == 1:
        return [_PRIMARY[lower]], [0], [0 if ch == lower else 1]
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    base_lower = base.lower()
    if base_lower in _PRIMARY and len(base_lower) == 1:
        primary = _PRIMARY[base_lower]
    elif unicodedata.category(base).startswith("C"):
        return [], [], []  # control characters are ignorable in ICU
    else:
        primary = _OTHER_BASE + ord(base_lower[0])
    secondary = [ord(m) for m in marks] or [0]
    return [primary], secondary, [0 if base == base_lower else 1]


def locale_compare_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """A sort key that orders strings like JavaScript's `a.localeCompare(b)`."""
    primary: list[int] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    for ch in text:
        p, s, t = _weights(ch)
        primary += p
        secondary += s
        tertiary += t
    return tuple(primary), tuple(secondary), tuple(tertiary)


def utf16_key(text: str) -> bytes:
    """JavaScript's `<` on strings compares UTF-16 code units, not code points."""
    return text.encode("utf-16-be", "surrogatepass")
