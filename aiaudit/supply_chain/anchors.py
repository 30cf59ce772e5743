"""One pass over a file tells which rule anchors occur and which rule regexes can match.

Every rule carries literals that any of its matches must contain; a rule whose literals are
absent is skipped. Checking ~200 literals one by one rescans a big file ~200 times, so
they are compiled into one Hyperscan database (already a dependency of the storage area)
and each file is scanned once. The same database also holds every rule regex in
Hyperscan's prefilter mode, which may report a match the regex would not make but never
misses one: a regex the pass did not report cannot match the file and is not run at all,
and one it did report runs exactly as before (Python `re`, whole file), so findings do not
change. Hyperscan reads bytes where Python reads Unicode, so non-ASCII text is scanned
through an ASCII stand-in (one character for each, chosen so that every regex without
lookarounds matches the stand-in wherever it matches the text, see _StandIn). Text holding
U+001C..U+001F (whitespace to Python, not to Hyperscan), or a missing Hyperscan, runs every
regex as before. The compiled databases are cached on disk (see _cached_database).

A regex that is an alternation (network use: twenty ways to open a connection) has each
alternative prefiltered too, and runs without those the pass ruled out: at every position
the first alternative that matches is still the first, so the matches are the same, and
Python tries a handful of alternatives per position instead of twenty.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

try:
    import hyperscan
except ImportError:  # pragma: no cover - the package ships wheels for the supported platforms
    hyperscan = None

_PORTABLE_FLAGS = re.I | re.M | re.S | re.U  # flags with a Hyperscan equivalent (U: no-op)
# Python's \s also matches these four ASCII separators, Hyperscan's does not: text holding
# one is not prefiltered.
_PY_ONLY_SPACE = re.compile(r"[\x1c-\x1f]")
# Lookarounds, back references and string anchors: a regex with one is not prefiltered
# on non-ASCII text (the stand-in could turn a lookaround's verdict).
_NOT_REGULAR = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9AZz]")
# Non-ASCII characters that Python's re.IGNORECASE matches to an ASCII letter (all of them:
# selftests/test_supply_chain_scanner.py checks every code point).
FOLDS = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}


class _StandIn(dict):
    """str.translate table: ASCII stays, any other character becomes one ASCII character of
    its class for Python's `re` (Unicode \\w, \\s, \\d; case folding to an ASCII letter).
    The stand-ins are in no negated class of the rules (selftests check it), so each regex
    without lookarounds matches the stand-in wherever it matches the text."""

    def __missing__(self, code: int) -> int:
        ch = chr(code)
        if ch in FOLDS:
            out = FOLDS[ch]
        elif ch.isspace():
            out = " "
        elif ch.isdecimal():
            out = "0"
        elif ch.isalnum():
            out = "a"
        else:
            out = "~"
        self[code] = ord(out)
        return self[code]


_STAND_IN = _StandIn((i, i) for i in range(128))


def as_ascii(text: str) -> bytes:
    """The text as Hyperscan reads it: ASCII as is, other characters by their stand-ins."""
    return (text if text.isascii() else text.translate(_STAND_IN)).encode("ascii")


_BOUNDED = re.compile(r"(?<!\\)\{(\d+),\d+\}")
_GLOBAL_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")
_CLASS = re.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]")


def _portable(pattern: re.Pattern[str]) -> bool:
    """Whether Hyperscan reads the regex as Python does (ASCII source, PCRE-compatible)."""
    src = pattern.pattern
    return (isinstance(src, str) and src.isascii() and "{," not in src
            and not pattern.flags & ~_PORTABLE_FLAGS)


def _expression(pattern: re.Pattern[str] | str) -> bytes:
    """The regex for Hyperscan, bounded repeats left open (`{0,80}` -> `{0,}`): a superset
    still, and several times cheaper to compile."""
    src = pattern if isinstance(pattern, str) else pattern.pattern
    if any("{" in c for c in _CLASS.findall(src)):  # a brace in a class is not a repeat
        return src.encode()
    return _BOUNDED.sub(r"{\1,}", src).encode()


def alternatives(pattern: re.Pattern[str]) -> list[str] | None:
    """The top-level alternatives of a regex without capture groups (a leading global flag
    group left out: the flags are the pattern's); None unless there are three or more."""
    src = pattern.pattern
    head = _GLOBAL_FLAGS.match(src)
    src = src[head.end():] if head else src
    if pattern.groups or "(?#" in src:
        return None
    parts, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 1
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1 if src[i + 1:i + 2] == "^" else 0
            i += 1 if src[i + 1:i + 2] == "]" else 0  # a leading ] is a member
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif c == "|" and depth == 0:
            parts.append(src[start:i])
            start = i + 1
        i += 1
    parts.append(src[start:])
    try:
        for part in parts:
            re.compile(part, pattern.flags)
    except re.error:
        return None
    return parts if len(parts) >= 3 and not depth and not in_class else None


def _prefilter_flags(pattern: re.Pattern[str]) -> int:
    flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | \
        hyperscan.HS_FLAG_ALLOWEMPTY
    flags |= hyperscan.HS_FLAG_CASELESS if pattern.flags & re.I else 0
    flags |= hyperscan.HS_FLAG_MULTILINE if pattern.flags & re.M else 0
    flags |= hyperscan.HS_FLAG_DOTALL if pattern.flags & re.S else 0
    return flags


@functools.cache
def _cpu_identity() -> str:
    """The processor a compiled database was built for: Hyperscan tunes its code to the
    CPU's features (hs_deserialize_database refuses a database that needs features this
    CPU lacks; the key makes a copy built on another CPU a different file besides)."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            lines = [line for line in info.read(1 << 20).split("\n")
                     if line.startswith(("vendor_id", "model name", "flags", "Features"))]
            return "\n".join(dict.fromkeys(lines))  # every core repeats them
    return f"{platform.machine()} {platform.processor()}"


def _key(exprs: list[bytes], flags: list[int]) -> str:
    """The rules (expressions and flags), the Hyperscan version and the CPU, hashed."""
    version = getattr(hyperscan, "__version__", "")
    return hashlib.sha256(repr((version, platform.machine(), _cpu_identity(), exprs, flags)
                               ).encode()).hexdigest()[:32]


def _cache_path(exprs: list[bytes], flags: list[int]) -> Path:
    base = os.environ.get("AIAUDIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "aiaudit")
    return Path(base) / f"supply-chain-rules-{_key(exprs, flags)}.hsdb"


# Databases compiled at install time (bin/setup runs `python3 -m aiaudit.supply_chain.rulesdb`)
# so that a user's first audit loads them instead of compiling; AIAUDIT_RULES_DB_DIR names
# another directory (an empty or missing one: none, every database compiled from nothing).
INSTALLED_DIR = Path(__file__).resolve().parent.parent / "data" / "rules-db"


def installed_dir() -> Path | None:
    """Where the install-time databases are read from (None: not read)."""
    chosen = os.environ.get("AIAUDIT_RULES_DB_DIR")
    if chosen is None:
        return INSTALLED_DIR
    return Path(chosen) if chosen else None


def _load(path: Path):
    """A database written by _cached_database, or None: a missing, unreadable or foreign
    file (Hyperscan checks its magic, version, platform and checksum) is not used."""
    with contextlib.suppress(OSError, hyperscan.error):
        db = hyperscan.loadb(path.read_bytes(), mode=hyperscan.HS_MODE_BLOCK)
        db.scratch = hyperscan.Scratch(db)
        return db
    return None


def _cached_database(exprs: list[bytes], flags: list[int]):
    """The compiled database, from the local cache when this exact rule set was compiled
    before on this machine, else from the install-time directory (compiling takes about
    1 s of CPU; loading, milliseconds). Both are only copies keyed by rules, Hyperscan
    version and CPU: unreadable, stale or foreign files are ignored and rebuilt."""
    path = _cache_path(exprs, flags)
    db = _load(path)
    installed = installed_dir()
    if db is None and installed is not None:
        db = _load(installed / path.name)
    if db is not None:
        return db
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs),
               flags=flags)
    with contextlib.suppress(OSError, hyperscan.error):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(hyperscan.dumpb(db))
        os.replace(tmp, path)
    return db


_SCRATCH = threading.local()


def _scan(db, data: bytes, on_match: Callable[..., object]) -> None:
    """db.scan with this thread's own scratch space: Hyperscan's scratch serves one scan at a
    time, and two threads scanning with the database's own (an audit's prefetch threads
    judging skills and MCP descriptions at once) raised ScratchInUseError."""
    mine = _SCRATCH.__dict__.setdefault("by_db", {})
    entry = mine.get(id(db))
    if entry is None or entry[0] is not db:  # the database is held: its id is not reused
        entry = mine[id(db)] = (db, hyperscan.Scratch(db))
    db.scan(data, match_event_handler=on_match, scratch=entry[1])


def _compiles(pattern: re.Pattern[str]) -> bool:
    try:
        hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK).compile(
            expressions=[_expression(pattern)], ids=[0], elements=1,
            flags=[_prefilter_flags(pattern)])
    except hyperscan.error:
        return False
    return True


class AnchorIndex:
    def __init__(self, anchors: Iterable[str], patterns: Iterable[re.Pattern[str]] = ()):
        self.anchors = sorted(set(anchors))
        self.anchor_set = frozenset(self.anchors)
        self.patterns = list(dict.fromkeys(p for p in patterns if _portable(p)))
        self.covered: frozenset[int] = frozenset()  # id() of each prefiltered regex
        self.regular = frozenset(id(p) for p in self.patterns
                                 if not _NOT_REGULAR.search(p.pattern))
        self._set_branches()
        self._reduced: dict[tuple[int, tuple[int, ...]], re.Pattern[str] | None] = {}
        self.whole: list[re.Pattern[str]] = []  # the regexes in the database as they are
        self._db = None
        self._positions = None
        self._lock = threading.Lock()

    def _set_branches(self, patterns: Iterable[re.Pattern[str]] | None = None) -> None:
        """The alternations among the regexes: (regex, alternative) for each alternative,
        and which alternatives have lookarounds (never ruled out on non-ASCII text)."""
        self.branches: dict[int, tuple[re.Pattern[str], list[str]]] = {}
        self.alternatives: list[tuple[re.Pattern[str], int, bool]] = []
        for p in self.patterns if patterns is None else patterns:
            alts = alternatives(p)
            if alts:
                self.branches[id(p)] = (p, alts)
                self.alternatives += [(p, k, not _NOT_REGULAR.search(alt))
                                      for k, alt in enumerate(alts)]

    def _compile(self):
        # An alternation is in the database as its alternatives only: any match of it is a
        # match of one of them, so it is ruled out when all of them are. Compiled whole
        # beside them it cost ~40% of the compile (about 0.5 s of CPU).
        self.whole = [p for p in self.patterns if id(p) not in self.branches]
        exprs = [re.escape(a).encode() for a in self.anchors]
        exprs += [_expression(p) for p in self.whole]
        exprs += [_expression(self.branches[id(p)][1][k]) for p, k, _ in self.alternatives]
        exprs.append(_PY_ONLY_SPACE.pattern.encode())
        flags = [hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH] * len(self.anchors)
        flags += [_prefilter_flags(p) for p in self.whole]
        flags += [_prefilter_flags(p) for p, _, _ in self.alternatives]
        flags.append(hyperscan.HS_FLAG_SINGLEMATCH)
        try:
            db = _cached_database(exprs, flags)
        except hyperscan.error:  # some regex is refused: keep those that compile alone
            usable = [p for p in self.patterns if _compiles(p)]
            self.patterns = usable if len(usable) < len(self.patterns) else []
            self._set_branches([])
            return self._compile()
        self.covered = frozenset(map(id, self.patterns))
        return db

    def _database(self):
        if self._db is not None:
            return self._db
        with self._lock:
            if self._db is None and hyperscan is not None:
                db = self._compile()
                with contextlib.suppress(hyperscan.error):
                    self._positions = _cached_database(
                        [re.escape(a).encode() for a in self.anchors],
                        [hyperscan.HS_FLAG_CASELESS] * len(self.anchors))
                self._db = db  # published last: a reader that sees it sees the positions
        return self._db

    def scan(self, text: str, lowered: Callable[[], str]
             ) -> tuple[set[str], frozenset[int], bool, dict[int, tuple[int, ...]]]:
        """(indexed anchors that occur, id() of each regex the pass proved cannot match,
        whether the prefilter could read the text, the alternatives of each alternation it
        did not rule out). Ids, not patterns: hashing a regex rehashes its whole program."""
        db = self._database()
        if db is None:
            return {a for a in self.anchors if a in lowered()}, frozenset(), False, {}
        hits: list[int] = []
        _scan(db, as_ascii(text), lambda ident, *_: hits.append(ident))
        n, first_alt = len(self.anchors), len(self.anchors) + len(self.whole)
        separator = first_alt + len(self.alternatives)
        if text.isascii():
            found = {self.anchors[i] for i in hits if i < n}
            covered = self.covered
        else:  # anchors as before: the lower-case literals in the text itself
            covered = self.covered & self.regular
            if len(lowered()) != len(text):
                found = {a for a in self.anchors if a in lowered()}
            else:
                raw: list[int] = []
                _scan(db, text.encode("utf-8", "surrogatepass"),
                      lambda ident, *_: raw.append(ident))
                found = {self.anchors[i] for i in raw if i < n}
        if separator in hits:
            return found, frozenset(), False, {}
        alternatives = self.alternatives
        kept: dict[int, list[int]] = {}
        for i in hits:
            if first_alt <= i < separator:
                p, k, _ = alternatives[i - first_alt]
                kept.setdefault(id(p), []).append(k)
        if not text.isascii():  # the stand-in says nothing about lookarounds
            for p, k, regular in alternatives:
                if not regular:
                    kept.setdefault(id(p), []).append(k)
        possible = [id(self.whole[i - n]) for i in hits if n <= i < first_alt]
        possible += kept
        # every alternation, with () for those whose alternatives were all ruled out
        ruled = dict.fromkeys(self.branches, ())
        ruled.update((pid, tuple(sorted(set(ks)))) for pid, ks in kept.items())
        return found, covered.difference(possible), True, ruled

    def reduced(self, pattern: re.Pattern[str], kept: tuple[int, ...]
                ) -> re.Pattern[str] | None:
        """The alternation without the alternatives `scan` ruled out (None: all were)."""
        key = (id(pattern), kept)
        if key not in self._reduced:
            alts = self.branches[id(pattern)][1]
            self._reduced[key] = pattern if len(kept) == len(alts) else re.compile(
                "|".join(alts[k] for k in kept), pattern.flags) if kept else None
        return self._reduced[key]

    def positions(self, text: str) -> dict[str, list[int]] | None:
        """Every offset of every indexed anchor in an ASCII text, in one pass (a big file
        searched anchor by anchor is read once per anchor); None when it cannot say."""
        if self._database() is None or self._positions is None or not text.isascii():
            return None
        out: dict[str, list[int]] = {}

        def on_match(ident: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            anchor = self.anchors[ident]
            out.setdefault(anchor, []).append(end - len(anchor))

        _scan(self._positions, text.encode("ascii"), on_match)
        for offsets in out.values():
            offsets.sort()
        return out

    def present(self, text: str, lowered: str) -> set[str]:
        """The indexed anchors that occur in the text."""
        return self.scan(text, lambda: lowered)[0]


class SentenceFilter:
    """Which of a few regexes cannot match a short text (a sentence of prose), in one
    Hyperscan pass over exactly the string Python would search: prefilter mode may report a
    regex that does not match, never misses one that does, so a regex it does not report is
    skipped and one it reports runs as before. Only ASCII text without U+001C..U+001F is
    judged (see the module's docstring); any other text runs every regex."""

    def __init__(self, patterns: Iterable[re.Pattern[str]]):
        self.patterns = [p for p in dict.fromkeys(patterns) if _portable(p)]
        self._db = None
        self._built = False
        self._lock = threading.Lock()

    def _database(self):
        if not self._built:
            with self._lock:
                if not self._built and hyperscan is not None and self.patterns:
                    exprs = [_expression(p) for p in self.patterns]
                    flags = [_prefilter_flags(p) for p in self.patterns]
                    try:
                        db = _cached_database(exprs + [_PY_ONLY_SPACE.pattern.encode()],
                                              flags + [hyperscan.HS_FLAG_SINGLEMATCH])
                    except hyperscan.error:  # some regex is refused: keep those that compile
                        self.patterns = [p for p in self.patterns if _compiles(p)]
                        db = _cached_database(
                            [_expression(p) for p in self.patterns] +
                            [_PY_ONLY_SPACE.pattern.encode()],
                            [_prefilter_flags(p) for p in self.patterns] +
                            [hyperscan.HS_FLAG_SINGLEMATCH]) if self.patterns else None
                    self._ids = [id(p) for p in self.patterns]
                    self._all = frozenset(self._ids)
                    self._db = db
                self._built = True
        return self._db

    def excluded(self, text: str) -> frozenset[int]:
        """id() of each regex the pass proved has no match in text (empty: cannot tell)."""
        db = self._database()
        if db is None or not text.isascii():
            return frozenset()
        hits: list[int] = []
        _scan(db, text.encode("ascii"), lambda ident, *_: hits.append(ident))
        ids = self._ids
        if len(ids) in hits:  # a separator Python's \s matches and Hyperscan's does not
            return frozenset()
        return self._all.difference([ids[i] for i in hits])


_INDEX: AnchorIndex | None = None


def index() -> AnchorIndex:
    """The index of every anchor and regex the supply-chain rules use (built on first use)."""
    global _INDEX
    if _INDEX is None:
        from aiaudit.supply_chain import honesty, prose, review, rules

        anchors: set[str] = set()
        for rule in rules.LINE_RULES:
            anchors |= set(rule.anchors)
        for signal in rules.SIGNALS.values():
            anchors |= set(signal.anchors)
        anchors |= set(rules.MEMORY_FILE_ANCHORS) | set(prose.ANCHORS)
        anchors |= set(rules.HOST_ANCHORS) | set(honesty.INDEXED_ANCHORS)
        _INDEX = AnchorIndex(anchors, [*rules.PREFILTERED, *review.PREFILTERED,
                                       *honesty.PREFILTERED, *prose.PREFILTERED])
    return _INDEX
