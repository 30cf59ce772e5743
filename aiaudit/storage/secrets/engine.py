"""The multi-pattern secret scanner: Hyperscan finds candidates, Python confirms them.

Streams: a file is read in chunks with an overlap, so memory stays flat whatever the size
of the store, and a secret that straddles two chunks is still seen whole. Findings never
hold the value: only the rule, where, the first characters, the length and a hash prefix.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import IO

import hyperscan

from aiaudit.redact import mask
from aiaudit.storage.secrets.rules import PRIORITY, RULES, Rule

CHUNK = 4 * 1024 * 1024
BACK = 1024  # every rule's confirming match starts at most this far before a candidate end
# Raw bytes of a database run a value into whatever follows it on the page (a record
# header byte such as "A" after a key in a WAL frame) or cut it at an overflow page: up to
# this many characters either way are checked against the value read back through SQL
# (see `unify`).
RUN_ON = 16
AHEAD = max(rule.ahead for rule in RULES)
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(frozen=True)
class Finding:
    """One secret, redacted: enough to find and rotate it, useless to a reader."""

    rule: str
    location: str  # file path (or log name)
    offset: int  # byte offset of the value in that file
    masked: str  # first characters, length and hash prefix, e.g. sk-p…[56]#1a2b3c
    length: int
    digest: str  # sha256 prefix of the value: the same secret in two places matches
    # digests of the value cut 1..RUN_ON characters short, shortest first: a sighting whose
    # head is another sighting's value is that secret with bytes run on (`unify`)
    heads: tuple[str, ...] = field(default=(), compare=False, repr=False)
    exact: bool = field(default=False, compare=False)  # the value read back whole (SQL)

    def line(self) -> str:
        return f"{self.rule} at {self.location}@{self.offset}: {self.masked}"


@dataclass(frozen=True)
class _Compiled:
    db: hyperscan.Database
    rules: tuple[Rule, ...]
    confirm: tuple[re.Pattern[bytes], ...]


_local = threading.local()  # a Hyperscan scratch space must not be shared across threads


def _compiled() -> _Compiled:
    compiled = getattr(_local, "compiled", None)
    if compiled is None:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(expressions=[r.candidate for r in RULES], ids=list(range(len(RULES))),
                   elements=len(RULES), flags=[hyperscan.HS_FLAG_DOTALL] * len(RULES))
        compiled = _Compiled(db, RULES, tuple(re.compile(r.confirm, re.S) for r in RULES))
        _local.compiled = compiled
    return compiled


def _confirm(buf: bytes, ends: list[tuple[int, int]], base: int, location: str,
             compiled: _Compiled) -> list[Finding]:
    """Turn candidate ends into findings; overlapping findings keep the most specific rule."""
    spans: dict[tuple[int, int], tuple[Rule, bytes]] = {}
    for rule_id, end in ends:
        rule, rx = compiled.rules[rule_id], compiled.confirm[rule_id]
        for m in rx.finditer(buf, max(0, end - rule.back), min(len(buf), end + rule.ahead)):
            if not m.start() < end <= m.end():
                continue
            start = m.start("v")
            if rule.left_boundary and start > 0 and buf[start - 1] in _WORD:
                continue
            value = m.group("v")
            if rule.cut is not None:
                value = rule.cut(value)
            if rule.check is not None and not rule.check(value):
                continue
            spans[(start, start + len(value))] = (rule, value)
    kept: list[tuple[int, int, Rule, bytes]] = []
    for (start, stop), (rule, value) in sorted(spans.items(),
                                               key=lambda kv: PRIORITY[kv[1][0].name]):
        if any(start < s2 and s1 < stop for s1, s2, _, _ in kept):
            continue  # a more specific rule already named this value
        kept.append((start, stop, rule, value))
    findings = []
    for start, _stop, rule, value in sorted(kept, key=lambda k: k[0]):
        text = value.decode("utf-8", "replace")
        findings.append(Finding(rule.name, location, base + start, mask(text), len(value),
                                _digest(value), _heads(value)))
    return findings


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()[:12]


def digest_of(value: str) -> str:
    """The digest a finding of exactly this value carries (a known value, such as an app's
    own generated token, is matched against findings by it)."""
    return _digest(value.encode("utf-8"))


def _heads(value: bytes) -> tuple[str, ...]:
    shortest = max(len(value) - RUN_ON, 8)
    return tuple(_digest(value[:n]) for n in range(shortest, len(value)))


def scan_stream(stream: IO[bytes], location: str,
                on_progress: Callable[[int], None] | None = None,
                chunk_size: int = CHUNK) -> Iterator[Finding]:
    """Every secret in a byte stream, read chunk by chunk (memory ~ 2 chunks)."""
    compiled = _compiled()
    hits: list[tuple[int, int]] = []

    def hit(rule_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
        hits.append((rule_id, to))

    tail, base, lo = b"", 0, 0
    while True:
        data = stream.read(chunk_size)
        eof = not data
        buf = tail + data if tail else data
        hi = len(buf) if eof else max(len(buf) - AHEAD, 0)
        keep, next_lo = 0, lo
        if hi > lo:
            hits.clear()
            compiled.db.scan(buf, match_event_handler=hit)
            ends = [(rule_id, to) for rule_id, to in hits if lo < to <= hi]
            if ends:
                yield from _confirm(buf, ends, base, location, compiled)
            keep = max(hi - BACK, 0)
            next_lo = hi - keep
        if eof:
            return
        if on_progress:
            on_progress(len(data))
        tail, base, lo = buf[keep:], base + keep, next_lo


def scan_bytes(data: bytes, location: str = "<bytes>") -> list[Finding]:
    import io

    return list(scan_stream(io.BytesIO(data), location))


def scan_text(text: str, location: str = "<text>") -> list[Finding]:
    return scan_bytes(text.encode("utf-8", "replace"), location)


def unify(findings: Iterable[Finding]) -> list[Finding]:
    """One fingerprint per secret, whatever layer saw it. A value read back through SQL
    (`exact`) has its real extent; a raw-byte sighting of the same secret may not: in a
    WAL frame or page it runs on into the next record's bytes when those happen to be key
    characters (`…NStDA`), or it is cut where an overflow page begins. A raw sighting that
    is an exact value with up to RUN_ON characters run on, or an exact value cut up to
    RUN_ON characters short, takes that value's rule, length, mask and digest; its place
    (location, offset) stays its own. Raw sightings with no exact value stay as they are."""
    found = list(findings)
    exact = {f.digest: f for f in found if f.exact}
    cut: dict[str, Finding] = {}
    for f in exact.values():
        for head in f.heads:
            cut.setdefault(head, f)
    out = []
    for f in found:
        same = None if f.exact or f.digest in exact else (
            next((exact[h] for h in reversed(f.heads) if h in exact), None)
            or cut.get(f.digest))
        out.append(f if same is None else replace(
            f, rule=same.rule, masked=same.masked, length=same.length, digest=same.digest,
            heads=same.heads))
    return out


def distinct(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per secret value (the first place it was seen), run-on sightings folded
    into the secret they run on from (`unify`)."""
    seen: dict[str, Finding] = {}
    for f in unify(findings):
        seen.setdefault(f.digest, f)
    return list(seen.values())
