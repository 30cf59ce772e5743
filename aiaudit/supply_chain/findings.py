"""A finding of the static review (SUP-03) or the manifest review (SUP-04)."""

from __future__ import annotations

from dataclasses import dataclass

from aiaudit.redact import redact

SEVERITIES = ("info", "low", "medium", "high", "critical")
EXCERPT_CHARS = 160


def lower(severity: str, steps: int = 1) -> str:
    return SEVERITIES[max(0, SEVERITIES.index(severity) - steps)]


def at_most(severity: str, cap: str) -> str:
    return SEVERITIES[min(SEVERITIES.index(severity), SEVERITIES.index(cap))]


def at_least(severity: str, floor: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(floor)


def excerpt(line: str, start: int = 0, end: int | None = None) -> str:
    """One redacted line around [start, end), at most EXCERPT_CHARS characters."""
    end = len(line) if end is None else end
    text = line
    if len(line) > EXCERPT_CHARS:
        left = max(0, min(start - 40, len(line) - EXCERPT_CHARS))
        text = ("…" if left else "") + line[left:left + EXCERPT_CHARS] + "…"
    return redact(" ".join(text.split()))


@dataclass(frozen=True)
class Finding:
    control: str  # "SUP-03" | "SUP-04"
    rule: str
    severity: str
    file: str  # relative to the skill directory
    line: int  # 0 for whole-file findings
    excerpt: str
    context: str  # code | comment | config | prose | fence:<lang> | html-comment | structure ...
    note: str = ""

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        note = f" ({self.note})" if self.note else ""
        return f"[{self.severity}] {self.rule} {where} [{self.context}] {self.excerpt}{note}"
