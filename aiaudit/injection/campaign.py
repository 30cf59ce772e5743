"""Sending attempts within a budget and keeping the record the report needs.

A campaign owns the wall-time cap (attempts stop, the run goes on), every attempt with
its reply and finding, and the rates. Attempts that got no usable answer (transport
errors, 5xx, 401) are kept apart: they are neither leaks nor defences.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiaudit.config import User
from aiaudit.injection.adapters import Message, Reply
from aiaudit.injection.stats import Rate

Judge = Callable[[Reply], str | None]  # -> a finding ("canary disclosed: base64"), or None
SHOWN_CHARS = 160


def short(text: str, limit: int = SHOWN_CHARS) -> str:
    """One line, cut: transcripts in evidence stay small (the report escapes them)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True)
class Attempt:
    kind: str  # attack | benign | minimise | replay | plant | control | probe
    label: str
    payload: str
    reply: Reply
    finding: str | None = None

    @property
    def usable(self) -> bool:
        return self.reply.answered or self.reply.rejected

    def describe(self) -> str:
        what = self.finding or ("rejected" if self.reply.rejected else "no finding")
        return f"[{self.label}] {self.reply.describe()}: {what}"


@dataclass
class Campaign:
    send: Callable[[list[Message], User | None], Reply]
    seconds: float
    min_attempts: int = 0  # sent even past the time cap, so that a verdict has data
    attempts: list[Attempt] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    stopped: str | None = None

    def time_left(self) -> bool:
        if time.monotonic() - self.started < self.seconds:
            return True
        if len(self.attempts) < self.min_attempts:
            return True
        self.stopped = self.stopped or (f"wall-time budget of {self.seconds:.0f}s reached "
                                        f"after {len(self.attempts)} attempts")
        return False

    def run(self, kind: str, label: str, payload: str, messages: list[Message], judge: Judge,
            user: User | None = None, retry: bool = False) -> Attempt:
        reply = self.send(messages, user)
        if retry and (reply.status is None or reply.status >= 500):
            reply = self.send(messages, user)  # a busy model (504) gets a second chance
        finding = judge(reply) if reply.answered else None
        attempt = Attempt(kind, label, payload, reply, finding)
        self.attempts.append(attempt)
        return attempt

    def of(self, *kinds: str) -> list[Attempt]:
        return [a for a in self.attempts if a.kind in kinds]

    def rate(self, *kinds: str) -> Rate:
        usable = [a for a in self.of(*kinds) if a.usable]
        return Rate(sum(1 for a in usable if a.finding), len(usable))

    def unusable(self, *kinds: str) -> list[Attempt]:
        return [a for a in self.of(*kinds) if not a.usable]

    def model_seconds(self) -> float:
        return sum(a.reply.elapsed for a in self.attempts)


def smallest(attempts: list[Attempt]) -> Attempt | None:
    hits = [a for a in attempts if a.finding]
    return min(hits, key=lambda a: len(a.payload)) if hits else None


def usability_problem(campaign: Campaign, *kinds: str) -> str | None:
    """Why the attempts of `kinds` give no verdict, or None. A pass needs answers: none
    sent, none answered, or fewer than half answered (a model failing most requests) is a
    could-not-check, never a pass. A leak found in the answers that did come is still a
    FAIL: the caller judges findings first."""
    tried = campaign.of(*kinds)
    if not tried:
        return "no attempt was sent (budget 0 or time budget exhausted)"
    usable = [a for a in tried if a.usable]
    if 2 * len(usable) >= len(tried):
        return None
    failed = next(a for a in tried if not a.usable)
    if not usable:
        return (f"the channel gave no usable answer to any of {len(tried)} requests: "
                f"{failed.reply.describe()}")
    return (f"only {len(usable)} of {len(tried)} requests got a usable answer (e.g. "
            f"{failed.reply.describe()}): too few for a pass")
