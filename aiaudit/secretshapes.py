"""The one source of secret shapes (aiaudit/data/secrets.toml) and the checks that confirm them.

Redaction (aiaudit/redact.py), the storage engine (aiaudit/storage/secrets) and the skill
rules (aiaudit/supply_chain/rules.py) each used a set of their own, and they disagreed (an
AWS key id was `[0-9A-Z]{16}` to one, `[A-Z2-7]{16}` to another, and AWS's documented
example was a finding to a third). They now all derive from the shapes read here:

* the engine runs `candidate` in Hyperscan and `before (?P<v>value) after` to confirm;
* redaction masks group `v` of `before (?P<v>redact_value) after`, which is never narrower
  than what the engine reports (selftests/test_secret_shapes.py proves it per shape);
* the skill rule "hardcoded-secret" is the alternation of the shapes marked `skill`.

Vendors' documented example credentials are no secret for any of them.
"""

from __future__ import annotations

import base64
import json
import math
import re
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "secrets.toml"

Check = Callable[[bytes], bool]
PLACEHOLDER = re.compile(
    rb"(?i)(?:x{6,}|\*{4,}|\.{3}|<[^>]*>|\$\{|\{\{|%\(|0{12,}|1234567890|abcdefghijk|"
    # words only as words: a random token may contain "FAKe" by chance (seen in the bench)
    rb"(?:^|[^a-z0-9])(?:example|sample|dummy|placeholder|your|changeme|redacted|fake|"
    rb"test[_-]?key)(?:$|[^a-z0-9]))"
)


def shannon(data: bytes) -> float:
    """Entropy in bits per character (random base64 ~6, hex 4, English words ~3.5-4)."""
    if not data:
        return 0.0
    n = len(data)
    return -sum(c / n * math.log2(c / n) for c in Counter(data).values())


def not_placeholder(value: bytes) -> bool:
    return not PLACEHOLDER.search(value) and len(set(value)) > 8


def jwt(value: bytes) -> bool:
    head = value.split(b".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(head + b"=" * (-len(head) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(decoded, dict) and ("alg" in decoded or "typ" in decoded)


# Dotted or snake-case identifiers without a digit (`_FILE_TOOL_CANCEL_EVENT.set`,
# `self.api_key.get_secret_value`): what source code stored in a flow (Langflow's `flow.data`
# keeps every component's code) assigns to a `token`; 27 random base64 characters carry no
# digit about one time in a hundred, and then seldom split into word-like parts.
_WORD = rb"(?:[A-Z]{2,}|[A-Z]?[a-z]+(?:[A-Z][a-z]+)*)"
IDENTIFIER_PATH = re.compile(rb"_*" + _WORD + rb"(?:[._]+" + _WORD + rb")+_*")


def high_entropy(value: bytes) -> bool:
    """The careful generic rule: long, mixed, random-looking, not a placeholder or a path."""
    if len(value) < 16 or not not_placeholder(value):
        return False
    if value.startswith((b"/", b"http", b"file:", b"vault:", b"op://", b"arn:", b"env:",
                         b"secretref", b"sm://", b"projects/")):
        return False  # a reference to a secret, not a secret
    classes = sum(bool(re.search(p, value)) for p in (rb"[a-z]", rb"[A-Z]", rb"[0-9]"))
    if classes < 2:
        return False
    if IDENTIFIER_PATH.fullmatch(value):
        return False  # code, not a value: `cancel_token = _FILE_TOOL_CANCEL_EVENT.set(...)`
    if re.fullmatch(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value):
        return False  # UUIDs identify, they do not authenticate
    threshold = 3.0 if re.fullmatch(rb"[0-9a-f]+", value) else 3.5
    return shannon(value) >= threshold


def pem(value: bytes) -> bool:
    body = re.sub(rb"-----[A-Z ]+-----|\\[nr]|\s", b"", value)
    return len(body) >= 64 and not_placeholder(body[:200])


CHECKS: dict[str, Check] = {
    "not_placeholder": not_placeholder, "aws_key": not_placeholder, "jwt": jwt,
    "high_entropy": high_entropy, "pem": pem,
}


@dataclass(frozen=True)
class Shape:
    """One credential shape, as data (see the field notes in secrets.toml)."""

    name: str
    candidate: str
    value: str
    before: str = ""
    after: str = ""
    back: int = 64
    ahead: int = 512
    check_name: str | None = None
    left_boundary: bool = True
    skill: bool = False
    skill_pattern: str | None = None
    literals: tuple[str, ...] = ()
    redact_value: str | None = None
    redact: str = "always"

    @property
    def confirm(self) -> str:
        """The confirming pattern: context around the value, the value in group `v`."""
        return f"{self.before}(?P<v>{self.value}){self.after}"

    @property
    def redaction(self) -> str:
        return f"{self.before}(?P<v>{self.redact_value or self.value}){self.after}"

    @property
    def skill_regex(self) -> str:
        return self.skill_pattern or self.value


@dataclass(frozen=True)
class Catalog:
    shapes: tuple[Shape, ...]
    examples: dict[str, str]  # documented example value -> where it is documented
    example_suffixes: dict[str, tuple[str, ...]]  # shape name -> documented example endings
    run_on: tuple[str, ...] = ()  # next-column text a raw value runs into (secrets.toml)


_FIELDS = {"name", "candidate", "value", "before", "after", "back", "ahead", "check",
           "left_boundary", "skill", "skill_pattern", "literals", "redact_value", "redact"}


@cache
def catalog() -> Catalog:
    """The shapes, validated on load (a typo in the data is an error at import, not a
    silently missing rule)."""
    raw = tomllib.loads(DATA.read_text(encoding="utf-8"))
    fragments: dict[str, str] = raw.get("fragments", {})

    def fill(text: str) -> str:
        for key, frag in fragments.items():
            text = text.replace("{" + key + "}", frag)
        return text

    shapes = []
    for entry in raw["shape"]:
        unknown = set(entry) - _FIELDS
        if unknown:
            raise ValueError(f"secrets.toml shape {entry.get('name')}: unknown {sorted(unknown)}")
        check = entry.get("check")
        if check is not None and check not in CHECKS:
            raise ValueError(f"secrets.toml shape {entry['name']}: unknown check {check}")
        if entry.get("redact", "always") not in ("always", "checked"):
            raise ValueError(f"secrets.toml shape {entry['name']}: redact is always|checked")
        shape = Shape(
            name=entry["name"], candidate=fill(entry["candidate"]), value=fill(entry["value"]),
            before=fill(entry.get("before", "")), after=fill(entry.get("after", "")),
            back=entry.get("back", 64), ahead=entry.get("ahead", 512), check_name=check,
            left_boundary=entry.get("left_boundary", True), skill=entry.get("skill", False),
            skill_pattern=entry.get("skill_pattern"),
            literals=tuple(x.lower() for x in entry.get("literals", ())),
            redact_value=entry.get("redact_value"), redact=entry.get("redact", "always"))
        for pattern in (shape.candidate, shape.confirm, shape.redaction, shape.skill_regex):
            re.compile(pattern)
        if shape.skill and not shape.literals:
            raise ValueError(f"secrets.toml shape {shape.name}: a skill shape needs literals")
        shapes.append(shape)
    names = [s.name for s in shapes]
    if len(set(names)) != len(names):
        raise ValueError("secrets.toml: duplicate shape names")
    examples = {e["value"]: e["source"] for e in raw.get("example", [])}
    suffixes = {k: tuple(v) for k, v in raw.get("example_suffixes", {}).items()}
    run_on = tuple(raw.get("run_on", ()))
    for pattern in run_on:
        re.compile(pattern)
    return Catalog(tuple(shapes), examples, suffixes, run_on)


def shapes() -> tuple[Shape, ...]:
    return catalog().shapes


def documented_example(value: str | bytes, shape: str | None = None) -> str | None:
    """Where `value` is published as a documentation example (None: it is not one)."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    cat = catalog()
    if text in cat.examples:
        return cat.examples[text]
    names = [shape] if shape else list(cat.example_suffixes)
    for name in names:
        for suffix in cat.example_suffixes.get(name, ()):
            if text.endswith(suffix):
                return f"ends in {suffix}, as {name} examples in the issuer's documentation do"
    return None


def confirms(shape: Shape, value: bytes) -> bool:
    """Is this value of the shape a secret: not a documented example, and its check holds."""
    if documented_example(value, shape.name):
        return False
    check = CHECKS.get(shape.check_name or "")
    return check is None or check(value)


def run_on_cut(shape: Shape) -> Callable[[bytes], bytes]:
    """The value without the next column's text it ran into (secrets.toml `run_on`), when
    what is left is still the shape's whole value; else the value as matched."""
    full = re.compile(shape.value.encode())
    tails = [re.compile(b"(?:" + p.encode() + b")$") for p in catalog().run_on]

    def cut(value: bytes) -> bytes:
        for tail in tails:
            m = tail.search(value)
            if m and m.start() and full.fullmatch(value[:m.start()]):
                return value[:m.start()]
        return value

    return cut


def check_of(shape: Shape) -> Check:
    """The engine's check for a shape (documented examples excluded)."""
    return lambda value: confirms(shape, value)


@cache
def skill_regex() -> str:
    """The skill rule's alternation of every stand-alone shape (word-bounded, case-sensitive;
    no capturing group: the rule's matched text is the value)."""
    # \b only before a shape that starts with a word character (not before "-----BEGIN")
    regex = "|".join(("" if s.skill_regex.startswith("-") else r"\b") + f"(?:{s.skill_regex})"
                     for s in shapes() if s.skill)
    if re.compile(regex).groups:
        raise ValueError("secrets.toml: a skill pattern has a capturing group")
    return regex


@cache
def skill_literals() -> tuple[str, ...]:
    return tuple(dict.fromkeys(lit for s in shapes() if s.skill for lit in s.literals))


def skill_secret(text: str) -> str | None:
    """The shape name when a skill-rule match is a secret (documented examples and
    placeholders are not), else None."""
    raw = text.encode("utf-8", "replace")
    for shape in shapes():
        if not shape.skill or not re.fullmatch(shape.skill_regex, text):
            continue
        if shape.skill_pattern is not None:  # only the shape's head: no value to check
            return None if documented_example(raw, shape.name) else shape.name
        if confirms(shape, raw):
            return shape.name
    return None
