"""SUP-03 and SUP-04 reviews of every skill at once, spread over the machine's cores.

The review is pure CPU work on bytes already read, so a deployment with hundreds of skills
is split between forked workers that inherit the skills (nothing is re-read or pickled on
the way in; only the findings come back). Small inventories, one core, or a platform
without fork run in this process: the results are the same either way.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Sequence

from aiaudit.supply_chain.findings import Finding
from aiaudit.supply_chain.honesty import manifest_review
from aiaudit.supply_chain.model import Skill
from aiaudit.supply_chain.review import static_review

MIN_PER_WORKER = 100  # below this a worker costs more than it saves
Reviews = dict[str, tuple[list[Finding], list[Finding]]]  # skill id -> (SUP-03, SUP-04)

_SKILLS: Sequence[Skill] = ()
_MAX_BYTES = 0


def _review(indices: range) -> list[tuple[str, list[Finding], list[Finding]]]:
    return [(s.id, static_review(s, _MAX_BYTES), manifest_review(s))
            for s in (_SKILLS[i] for i in indices)]


def _warm() -> None:
    """Import the folding modules and build the rule index before forking: each worker
    would otherwise import and build them for itself (CPU spent once per worker)."""
    from aiaudit.supply_chain import folded_review, jsfold, prose, pyfold  # noqa: F401
    from aiaudit.supply_chain.anchors import index

    index()._database()
    prose.SENTENCES._database()


def _worker_signals() -> None:
    """A worker forked from an audit inherits its SIGINT/SIGTERM handlers (stop the audit,
    raise KeyboardInterrupt). Python runs such a handler only between bytecodes: a TERM
    sent by Pool.terminate() while the worker was entering its blocking wait for the next
    task was never acted on, and the audit hung joining that worker (seen under load). A
    worker dies on TERM as the OS does it; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _workers(count: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, count // MIN_PER_WORKER))


def review_all(skills: Sequence[Skill], max_bytes: int = 64 * 1024 * 1024,
               workers: int | None = None) -> Reviews:
    """(SUP-03 findings, SUP-04 findings) of every skill, keyed by skill id."""
    global _SKILLS, _MAX_BYTES
    workers = _workers(len(skills)) if workers is None else workers
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return {s.id: (static_review(s, max_bytes), manifest_review(s)) for s in skills}
    _warm()
    _SKILLS, _MAX_BYTES = skills, max_bytes
    try:
        # many small chunks: a worker that drew big skills does not finish long after the rest
        step = -(-len(skills) // (workers * 16))
        chunks = [range(i, min(i + step, len(skills))) for i in range(0, len(skills), step)]
        with multiprocessing.get_context("fork").Pool(workers, _worker_signals) as pool:
            rows = [row for part in pool.map(_review, chunks) for row in part]
    finally:
        _SKILLS, _MAX_BYTES = (), 0
    return {sid: (sup03, sup04) for sid, sup03, sup04 in rows}
