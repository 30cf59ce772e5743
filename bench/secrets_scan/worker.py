"""One measured aiaudit scan (run as its own process so its peak memory is its own)."""

from __future__ import annotations

import json
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from aiaudit.storage.secrets.engine import scan_stream


def scan_file(path: str) -> tuple[int, list[tuple[str, str, int]]]:
    with open(path, "rb") as fh:
        findings = [(f.rule, f.digest, f.offset) for f in scan_stream(fh, path)]
    return Path(path).stat().st_size, findings


def main() -> None:
    workers, paths = int(sys.argv[1]), sys.argv[2:]
    started = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            biggest_first = sorted(paths, key=lambda p: -Path(p).stat().st_size)
            results = list(pool.map(scan_file, biggest_first))
    else:
        results = [scan_file(p) for p in paths]
    wall = time.perf_counter() - started
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"wall": wall, "bytes": sum(r[0] for r in results), "peak_kb": peak_kb,
                      "findings": [f for r in results for f in r[1]]}))


if __name__ == "__main__":
    main()
