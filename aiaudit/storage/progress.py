"""Progress lines for long reads (multi-GB stores), so a slow audit never looks hung.

The sink is swappable: the storage tests install one that writes past pytest's output
capture; the default writes to stderr. Lines are rate-limited and only start once an
operation has run for a while or is large, so small stores stay quiet.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

Sink = Callable[[str], None]
BIG = 64 * 1024 * 1024
EVERY_S = 2.0
SLOW_S = 5.0  # a read this long gets progress lines even when it is not big


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


_sink: Sink = _stderr
_lock = threading.Lock()


def set_sink(sink: Sink | None) -> Sink:
    """Install a sink (None restores stderr); returns the previous one."""
    global _sink
    with _lock:
        previous, _sink = _sink, sink or _stderr
    return previous


class Progress:
    """Byte progress of one operation: `update(n)` as data flows, `done()` at the end."""

    def __init__(self, label: str, total: int | None = None, big: int = BIG,
                 every_s: float = EVERY_S, slow_s: float = SLOW_S) -> None:
        self.label, self.total, self.big = label, total, big
        self.every_s, self.slow_s = every_s, slow_s
        self.done_bytes = 0
        self.started = self._last = time.monotonic()
        self.lines = 0

    def _emit(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        mb = self.done_bytes / 1e6
        of = f" of {self.total / 1e6:.0f} MB" if self.total else ""
        pct = f" ({100 * self.done_bytes / self.total:.0f}%)" if self.total else ""
        state = "done" if final else "..."
        with _lock:
            sink = _sink
        sink(f"aiaudit storage: {self.label}: {mb:.0f} MB{of}{pct} "
             f"at {mb / elapsed:.0f} MB/s {state}")
        self.lines += 1

    def update(self, n: int) -> None:
        self.done_bytes += n
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        if self.done_bytes >= self.big or now - self.started >= self.slow_s:
            self._last = now
            self._emit()

    def done(self) -> None:
        if self.lines:
            self._emit(final=True)
