"""Large stores show progress: lines start for big or slow reads, are rate-limited, and end
with a final line; memory stays flat while a large stream is scanned."""

from __future__ import annotations

import io
import resource

from aiaudit.storage import progress
from aiaudit.storage.secrets.engine import scan_stream


def test_big_reads_report_progress_and_small_ones_stay_quiet():
    lines: list[str] = []
    previous = progress.set_sink(lines.append)
    try:
        quiet = progress.Progress("small", 1000, big=10_000, every_s=0.0)
        quiet.update(1000)
        quiet.done()
        assert lines == []
        loud = progress.Progress("store.db", 40_000, big=10_000, every_s=0.0)
        for _ in range(4):
            loud.update(10_000)
        loud.done()
    finally:
        progress.set_sink(previous)
    assert len(lines) == 5 and lines[-1].endswith("done")  # one per update, then done
    assert "store.db" in lines[0] and "(75%)" in lines[2]


class _Repeating(io.RawIOBase):
    """A 256 MB stream of chat-like text, produced on the fly (never held in memory)."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.block = (b'{"role":"user","content":"please summarise the meeting notes",'
                      b'"usage":{"prompt_tokens":12,"completion_tokens":40}}\n') * 8000

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        size = min(self.left, len(self.block), n if n > 0 else len(self.block))
        self.left -= size
        return self.block[:size]


def test_scanning_a_large_stream_keeps_memory_flat():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seen: list[int] = []
    findings = list(scan_stream(_Repeating(256 * 1024 * 1024), "big", seen.append))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert findings == [] and sum(seen) == 256 * 1024 * 1024
    assert grown_mb < 64, f"peak RSS grew by {grown_mb:.0f} MB"
