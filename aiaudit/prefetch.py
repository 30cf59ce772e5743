"""Discoveries started before collection asks for them, so an audit's waits overlap.

Collection asks the providers one after another (`pytest_generate_tests`), and each waits
on SSH commands or the network in turn. At session start the providers the run's test
files name in `@pytest.mark.resources` are started on a few daemon threads through the
same `ctx.cached` keys collection uses: collection then finds each result ready (or waits
for the one in flight). Results and errors are exactly what collection would have computed
itself: an exception is stored by `cached` and re-raised to collection, which turns it into
the same ERROR case as before. Daemon threads: an interrupted run never waits for them.
"""

from __future__ import annotations

import queue
import re
import threading
from pathlib import Path

from aiaudit import resources as res
from aiaudit.context import AuditContext
from aiaudit.providers import provider_spec

WORKERS = 8  # each SSH command is one channel of the run's master (sshd MaxSessions=10)
_RESOURCES = re.compile(r"@pytest\.mark\.resources\(([^)]*)\)")
_NAME = re.compile(r"\w+\s*=\s*[\"'](\w+)[\"']")


def test_files(root: Path, args: list[str]) -> list[Path]:
    """The audit test files a run's path arguments name (tests_*/test_*.py), in order."""
    files: list[Path] = []
    for arg in args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path.is_file():
            found = [path]
        elif path.is_dir():
            dirs = [path] if path.name.startswith("tests_") else sorted(
                d for d in path.glob("tests_*") if d.is_dir())
            found = [f for d in dirs for f in sorted(d.rglob("test_*.py"))]
        else:
            found = []
        files += [f for f in found if f.is_relative_to(root) and f not in files]
    return files


def provider_names(files: list[Path]) -> list[str]:
    """Providers named by the files' resources markers, in file order (each resolved as
    collection resolves it, importing its area's providers; a name no area registers is
    left to collection, which reports it)."""
    names: list[str] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError:
            continue
        for marker in _RESOURCES.finditer(text):
            for name in _NAME.findall(marker.group(1)):
                if name in names:
                    continue
                try:
                    provider_spec(name, file)
                except KeyError:
                    continue
                names.append(name)
    return names


def interleaved(names: list[str]) -> list[str]:
    """The names taken in turn from each area (the provider's module): an area's providers
    share its discoveries and wait for each other, so the first threads go to different
    areas' independent waits (SSH commands of exposure, storage, supply chain at once)."""
    areas: dict[str, list[str]] = {}
    for name in names:
        areas.setdefault(provider_spec(name).func.__module__, []).append(name)
    queues, out = list(areas.values()), []
    while any(queues):
        out += [q.pop(0) for q in queues if q]
    return out


def start(ctx: AuditContext, names: list[str], workers: int = WORKERS) -> list[threading.Thread]:
    """Compute the named providers on up to `workers` daemon threads (returns at once)."""
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in interleaved(names):
        todo.put(name)

    def work() -> None:
        while True:
            try:
                name = todo.get_nowait()
            except queue.Empty:
                return
            spec = res.PROVIDERS[name]  # resolved by interleaved()
            try:  # the same key and computation as pytest_generate_tests
                ctx.cached(f"provider:{name}", lambda s=spec: s.func(ctx))
            except Exception:  # stored by cached(): collection re-raises and reports it
                pass

    threads = [threading.Thread(target=work, daemon=True, name=f"aiaudit-prefetch-{i}")
               for i in range(max(0, min(workers, len(names))))]
    for thread in threads:
        thread.start()
    return threads
