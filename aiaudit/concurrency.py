"""Fan-out that never holds an interrupted audit hostage.

``ThreadPoolExecutor`` joins its workers on exit and again at interpreter shutdown, so a
SIGINT during discovery waited for every probe in flight (minutes on a drip host). Here
the workers are daemon threads and the caller polls for results: when the caller is
interrupted it leaves at once and the abandoned workers die with the process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_POLL_S = 0.1  # how often the waiting thread wakes up (so signals are handled promptly)


def parallel_map(fn: Callable[[T], R], items: Iterable[T], max_workers: int = 8) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``max_workers`` daemon threads, in order.

    The first exception a call raised is re-raised once all calls are done.
    """
    todo = list(items)
    if not todo:
        return []
    results: list[R | None] = [None] * len(todo)
    errors: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()
    state = {"next": 0, "left": len(todo)}

    def worker() -> None:
        while True:
            with lock:
                index = state["next"]
                if index >= len(todo):
                    return
                state["next"] += 1
            try:
                results[index] = fn(todo[index])
            except BaseException as exc:  # handed to the caller, never lost in a thread
                with lock:
                    errors.append(exc)
            with lock:
                state["left"] -= 1
                if state["left"] == 0:
                    done.set()

    for _ in range(max(1, min(max_workers, len(todo)))):
        threading.Thread(target=worker, daemon=True, name="aiaudit-probe").start()
    while not done.wait(_POLL_S):
        pass
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]
