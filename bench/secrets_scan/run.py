"""Secret scanning of conversation history: aiaudit's engine vs detect-secrets, one run.

    python bench/secrets_scan/run.py [--size-mb 512] [--subset-mb 4] [--reps 3]

1. Generates (or reuses) a labelled corpus of >= 500 MB in a cache dir: Hermes-style SQLite
   stores and OpenClaw-style JSONL transcripts, secrets of 13 families planted at known
   places, look-alike non-secrets (AWS's example key, placeholders, UUIDs, hashes, base64
   images, secret references) around them.
2. aiaudit scans the whole corpus (raw bytes of every file, 2 worker processes).
3. Both tools scan the same subset: the first --subset-mb of dumped JSONL history, split in
   two files so detect-secrets can use both cores (`-c 2`); detect-secrets 1.5.0 runs with
   `-n` (no live verification) from its own venv in the cache dir, not a project dependency.
Each scan runs --reps times; medians are reported. Recall counts planted secrets found
(aiaudit: by the hash of the exact value; detect-secrets, which truncates some values: by
line); every other alarm is a false alarm. Peak memory is the scanning processes' max RSS.
The last line is `speedup: N.Nx`, median aiaudit MB/s over median detect-secrets MB/s on the
same subset.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from corpus import generate  # noqa: E402

DETECT_SECRETS = "detect-secrets==1.5.0"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def detect_secrets_bin(cache: Path) -> Path:
    venv = cache / "ds-venv"
    binary = venv / "bin" / "detect-secrets"
    if not binary.exists():
        log(f"installing {DETECT_SECRETS} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", DETECT_SECRETS], check=True)
    return binary


def make_subset(corpus: Path, doc: dict, subset_mb: int, out: Path) -> tuple[list[Path], dict]:
    """First subset_mb of the first JSONL transcript, as two files; labels by (file, line)."""
    source = next(f for f in doc["files"] if f.endswith(".jsonl"))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    parts = [out / "history-a.jsonl", out / "history-b.jsonl"]
    half = subset_mb * 1024 * 1024 // 2
    planted = {lab["line"]: lab for lab in doc["secrets"] if lab["file"] == source}
    labels: dict[tuple[str, int], dict] = {}
    with open(corpus / source, encoding="utf-8") as src:
        line_no = 0
        for part in parts:
            written, local = 0, 0
            with open(part, "w", encoding="utf-8") as dst:
                while written < half:
                    line = src.readline()
                    if not line:
                        break
                    line_no += 1
                    local += 1
                    dst.write(line)
                    written += len(line.encode())
                    if line_no in planted:
                        labels[(part.name, local)] = planted[line_no]
    return parts, labels


def run_aiaudit(paths: list[Path], workers: int) -> dict:
    proc = subprocess.run([sys.executable, str(HERE / "worker.py"), str(workers),
                           *map(str, paths)], capture_output=True, text=True, check=True,
                          cwd=ROOT)
    return json.loads(proc.stdout)


def run_detect_secrets(binary: Path, directory: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", str(binary), "-c", "2", "scan", "-n",
                           "--all-files", "."], capture_output=True, text=True, check=True,
                          cwd=directory)
    wall = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    results = json.loads(proc.stdout)["results"]
    return {"wall": wall, "peak_kb": int(peak.group(1)) if peak else 0,
            "findings": [(Path(name).name, item["line_number"], item["type"])
                         for name, items in results.items() for item in items]}


def score_by_digest(findings: list, planted_digests: set[str]) -> tuple[float, int, int]:
    found = {f[1] for f in findings}
    hits = len(planted_digests & found)
    false_alarms = sum(1 for f in findings if f[1] not in planted_digests)
    return hits / max(len(planted_digests), 1), hits, false_alarms


def line_of(path: Path, offsets: list[int]) -> dict[int, int]:
    """Byte offset -> 1-based line number (for scoring aiaudit by line on the subset)."""
    data = path.read_bytes()
    return {o: data.count(b"\n", 0, o) + 1 for o in offsets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--subset-mb", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--cache", type=Path,
                        default=Path.home() / ".cache" / "aiaudit-bench" / "secrets_scan")
    args = parser.parse_args()
    corpus_dir = args.cache / "corpus"
    log(f"corpus: {args.size_mb} MB in {corpus_dir} (generated once, then reused)")
    t0 = time.perf_counter()
    doc = generate(corpus_dir, args.size_mb)
    log(f"corpus ready in {time.perf_counter() - t0:.0f}s: {len(doc['secrets'])} planted "
        "secrets")
    files = [corpus_dir / f for f in doc["files"]]
    total_mb = sum(f.stat().st_size for f in files) / 1e6
    planted = {lab["digest"] for lab in doc["secrets"]}
    binary = detect_secrets_bin(args.cache)
    subset, sub_labels = make_subset(corpus_dir, doc, args.subset_mb, args.cache / "subset")
    subset_mb = sum(p.stat().st_size for p in subset) / 1e6

    full, sub_ai, sub_ds = [], [], []
    for rep in range(1, args.reps + 1):
        log(f"repetition {rep}/{args.reps}")
        full.append(run_aiaudit(files, args.workers))
        sub_ai.append(run_aiaudit(subset, 1))
        sub_ds.append(run_detect_secrets(binary, args.cache / "subset"))

    def mbps(runs: list[dict], mb: float) -> float:
        return statistics.median(mb / r["wall"] for r in runs)

    def each(runs: list[dict], mb: float, digits: int) -> str:
        return ", ".join(f"{mb / r['wall']:.{digits}f}" for r in runs)

    full_recall, full_hits, full_fa = score_by_digest(full[0]["findings"], planted)
    sub_digests = {lab["digest"] for lab in sub_labels.values()}
    ai_recall, ai_hits, ai_fa = score_by_digest(sub_ai[0]["findings"], sub_digests)
    ds_lines = {(name, line) for name, line, _ in sub_ds[0]["findings"]}
    ds_hits = len(ds_lines & set(sub_labels))
    ds_fa = sum(1 for name, line, _ in sub_ds[0]["findings"] if (name, line) not in sub_labels)
    ds_recall = ds_hits / max(len(sub_labels), 1)
    ai_mbps, ds_mbps = mbps(sub_ai, subset_mb), mbps(sub_ds, subset_mb)

    print(f"corpus: {len(files)} files, {total_mb:.0f} MB (SQLite and JSONL), "
          f"{len(planted)} planted secrets, look-alikes around them")
    print(f"subset: {len(subset)} JSONL files, {subset_mb:.1f} MB of dumped history, "
          f"{len(sub_labels)} planted secrets")
    print(f"aiaudit full corpus ({args.workers} workers): "
          f"{mbps(full, total_mb):.0f} MB/s median of {args.reps} "
          f"({each(full, total_mb, 0)}), "
          f"peak {max(r['peak_kb'] for r in full) / 1024:.0f} MB, recall {full_recall:.3f} "
          f"({full_hits}/{len(planted)}), false alarms {full_fa}")
    print(f"aiaudit subset (1 process): {ai_mbps:.1f} MB/s median of {args.reps}, "
          f"peak {max(r['peak_kb'] for r in sub_ai) / 1024:.0f} MB, recall {ai_recall:.3f} "
          f"({ai_hits}/{len(sub_digests)}), false alarms {ai_fa}")
    print(f"detect-secrets 1.5.0 subset (-c 2, -n): {ds_mbps:.2f} MB/s median of {args.reps} "
          f"({each(sub_ds, subset_mb, 2)}), peak "
          f"{max(r['peak_kb'] for r in sub_ds) / 1024:.0f} MB, recall {ds_recall:.3f} "
          f"({ds_hits}/{len(sub_labels)}), false alarms {ds_fa}")
    print(f"speedup: {ai_mbps / ds_mbps:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
