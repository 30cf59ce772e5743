"""SUP-03 and SUP-04 reviews of every skill at once, spread over the machine's cores.

The review is pure CPU work on bytes already read, so a deployment with hundreds of skills
is split between forked workers that inherit the skills (nothing is re-read or pickled on
the way in; only the findings come back). Small inventories, one core, or a platform
without fork run in this process: the results are the same either way.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import posixpath
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiaudit.supply_chain.findings import Finding
from aiaudit.supply_chain.honesty import manifest_review
from aiaudit.supply_chain.model import Skill
from aiaudit.supply_chain.review import static_review

MIN_PER_WORKER = 100  # below this a worker costs more than it saves


@dataclass(frozen=True)
class ReviewFailed:
    """One skill's review that stopped on an unexpected exception: that skill's case is an
    ERROR naming where, the other skills' reviews stand (a hostile file must not blank the
    whole inventory's SUP-03/04)."""

    reason: str


Outcome = list[Finding] | ReviewFailed
Reviews = dict[str, tuple[Outcome, Outcome]]  # skill id -> (SUP-03, SUP-04)

_SKILLS: Sequence[Skill] = ()
_MAX_BYTES = 0


def _guarded(control: str, review: Callable[[], list[Finding]]) -> Outcome:
    try:
        return review()
    except Exception as exc:  # noqa: BLE001 - one skill's failure is that skill's ERROR
        frame = traceback.extract_tb(exc.__traceback__)[-1:] or None
        where = f" at {posixpath.basename(frame[0].filename)}:{frame[0].lineno}" if frame else ""
        return ReviewFailed(f"internal error in the {control} review ({type(exc).__name__}"
                            f"{where}): this skill's files could not be judged")


def review_one(skill: Skill, max_bytes: int) -> tuple[Outcome, Outcome]:
    """(SUP-03, SUP-04) of one skill, each a finding list or the failure that stopped it."""
    return (_guarded("SUP-03", lambda: static_review(skill, max_bytes)),
            _guarded("SUP-04", lambda: manifest_review(skill)))


def _review(indices: range) -> list[tuple[str, Outcome, Outcome]]:
    return [(s.id, *review_one(s, _MAX_BYTES)) for s in (_SKILLS[i] for i in indices)]


def _warm() -> None:
    """Import the folding modules and build the rule index before forking: each worker
    would otherwise import and build them for itself (CPU spent once per worker). The
    sentence filter compiles on another thread meanwhile (Hyperscan releases the GIL while
    it compiles: on a machine without the compiled cache, two cores do it at once). The
    string-array and shell folders, the JavaScript grammar and the codecs the review looks
    up (rot13, punycode, UTF-16) were each loaded by every worker on first use."""
    import codecs

    from aiaudit.supply_chain import folded_review, jsfold, obfio, prose, pyfold, shfold  # noqa: F401
    from aiaudit.supply_chain.anchors import index

    jsfold._bindings()  # the grammar and its query
    for codec in ("rot13", "punycode", "utf-16-le"):
        codecs.lookup(codec)

    sentences = threading.Thread(target=prose.SENTENCES._database, daemon=True,
                                 name="aiaudit-rules-sentences")
    sentences.start()
    index()._database()
    sentences.join()


_WARMING: list[threading.Thread] = []


def warm_in_background() -> None:
    """Start loading (or compiling) the rule databases on a daemon thread, so that the
    work before the review (discovery, collection) overlaps it; review_all waits for it.
    Without the compiled cache that is about 1 s of CPU that need not wait its turn."""
    if not _WARMING:
        thread = threading.Thread(target=_warm, daemon=True, name="aiaudit-rules")
        _WARMING.append(thread)
        thread.start()


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
    return start_review_all(skills, max_bytes, workers).result()


class PendingReviews:
    """A review started by start_review_all; result() waits for it (once)."""

    def __init__(self, compute: Callable[[], Reviews], stop: Callable[[], None] = lambda: None):
        self._compute = compute
        self._stop = stop
        self._done: Reviews | None = None

    def close(self) -> None:
        """Stop the workers of a review nobody collected (a run stopped before SUP-03)."""
        if self._done is None:
            self._stop()

    def result(self) -> Reviews:
        if self._done is None:
            self._done = self._compute()
        return self._done


def start_review_all(skills: Sequence[Skill], max_bytes: int = 64 * 1024 * 1024,
                     workers: int | None = None) -> PendingReviews:
    """Start the review of every skill in forked workers and return at once: the caller
    goes on (an audit runs its first cases) while the workers review. Reviews that run in
    this process (small inventories, one core, no fork) run when the result is asked for.
    Call it from the main thread, with no other thread in the middle of an import."""
    global _SKILLS, _MAX_BYTES
    workers = _workers(len(skills)) if workers is None else workers
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return PendingReviews(lambda: {s.id: review_one(s, max_bytes) for s in skills})
    for thread in _WARMING:  # no thread may hold a rule lock or half a database at the fork
        thread.join()
    _warm()
    # many small chunks: a worker that drew big skills does not finish long after the rest
    step = -(-len(skills) // (workers * 16))
    chunks = [range(i, min(i + step, len(skills))) for i in range(0, len(skills), step)]
    _SKILLS, _MAX_BYTES = skills, max_bytes
    # frozen at the fork: the workers' collections skip the inherited heap, whose pages then
    # stay shared instead of each worker copying every page its collector walks
    gc.freeze()
    try:  # the workers are forked here and inherit the skills; nothing is pickled in
        pool = multiprocessing.get_context("fork").Pool(workers, _worker_signals)
    finally:
        _SKILLS, _MAX_BYTES = (), 0
        gc.unfreeze()  # the parent collects as before
    try:
        pending = pool.map_async(_review, chunks)
        pool.close()
    except BaseException:
        pool.terminate()
        raise

    def collect() -> Reviews:
        try:
            rows = [row for part in pending.get() for row in part]
        finally:
            pool.terminate()
        return {sid: (sup03, sup04) for sid, sup03, sup04 in rows}

    return PendingReviews(collect, pool.terminate)
