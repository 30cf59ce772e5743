"""Redaction of secrets in everything the suite writes (HTML, JSON, JUnit, terminal).

A found secret is shown as its rule, first 4 characters, length and a hash prefix, e.g.
``sk-p…[56]#1a2b3c`` - enough for an operator to find and rotate it, useless to a reader.
"""

from __future__ import annotations

import hashlib
import re
import threading

from aiaudit.secretshapes import Shape, confirms, documented_example, shapes

# The shared secret shapes (aiaudit/data/secrets.toml), in their redaction form: group `v`
# is the value to mask, never narrower than what the storage engine reports as a secret.
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {s.name: re.compile(s.redaction) for s in shapes()}
_SHAPES: dict[str, Shape] = {s.name: s for s in shapes()}


# Most strings hold no secret: a search per shape finds that four times faster than one
# search of their union (Python's re gets no literal prefix out of a 28-way alternation), and
# the audit redacts every evidence line several times (when it is recorded, per case in the
# JSON twin, and over the whole report), so each distinct string is redacted once per run.
_MEMO_MAX = 200_000  # distinct strings remembered; past that the memo starts over
_MEMO_CHARS = 8192  # longer strings (traces, logs) are rare and not remembered
_memo: dict[str, str] = {}
_known: set[str] = set()
_known_sorted: list[str] = []
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret the suite itself holds (API keys, user tokens) so no output shows it."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)
            _known_sorted[:] = sorted(_known, key=len, reverse=True)
            _memo.clear()  # what was redacted before did not know this secret


def mask(value: str) -> str:
    """The redacted form of one secret value."""
    digest = hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:6]
    keep = min(4, len(value) // 4)  # short secrets must not be mostly shown
    return f"{value[:keep]}…[{len(value)}]#{digest}"


def redact(text: str) -> str:
    """Replace every known secret and every secret-shaped string in text."""
    if not text:
        return text
    done = _memo.get(text)
    if done is not None:
        return done
    with _lock:
        known = list(_known_sorted)
        generation = len(_known)
    out = text
    for value in known:
        if value in out:
            out = out.replace(value, mask(value))
    for name, pattern in SECRET_PATTERNS.items():
        if pattern.search(out):
            out = pattern.sub(lambda m, shape=_SHAPES[name]: _masked(m, shape), out)
    with _lock:
        if generation == len(_known) and len(text) <= _MEMO_CHARS:  # and none was added
            if len(_memo) >= _MEMO_MAX:
                _memo.clear()
            _memo[text] = out
    return out


def _masked(match: re.Match[str], shape: Shape) -> str:
    """The match with its value masked (context such as "Bearer " kept); documented
    examples, and values a "checked" shape does not confirm, stay as they are."""
    value = match.group("v")
    if documented_example(value, shape.name):
        return match.group(0)
    if shape.redact == "checked" and not confirms(shape, value.encode("utf-8", "replace")):
        return match.group(0)
    start, end = match.start("v") - match.start(), match.end("v") - match.start()
    whole = match.group(0)
    return whole[:start] + mask(value) + whole[end:]


def secret_values(text: str) -> list[str]:
    """Every secret-shaped value in text (what redact() would mask), in order."""
    found = []
    for name, pattern in SECRET_PATTERNS.items():
        for m in pattern.finditer(text):
            shape = _SHAPES[name]
            value = m.group("v")
            if documented_example(value, name) or (
                    shape.redact == "checked"
                    and not confirms(shape, value.encode("utf-8", "replace"))):
                continue
            found.append(value)
    return found


def redact_obj(obj):
    """Redact every string inside a JSON-like structure."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact(str(k)): redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [redact_obj(v) for v in obj]
    return obj
