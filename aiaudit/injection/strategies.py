"""Hypothesis strategies that compose attacks, and a driver that spends a fixed budget.

The driver uses Hypothesis to *draw* a reproducible, diverse sample (seeded, no example
database) and never asserts inside it: an attack success rate needs every attempt of the
budget, not the first failure, and a model that answers differently on replay must not
turn the audit into a `Flaky` crash. Shrinking is done afterwards by `minimise`, within
its own small budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from aiaudit.injection.attacks import (
    DELIMITERS,
    ENCODERS,
    FRAMINGS,
    LANGUAGES,
    Attack,
    compose,
)

T = TypeVar("T")
URLFactory = Callable[[], tuple[str, str]]  # -> (token, url)


def attacks(goal: str, make_url: URLFactory | None = None,
            framings: tuple[str, ...] = FRAMINGS,
            obfuscations: tuple[str, ...] | None = None) -> st.SearchStrategy[Attack]:
    """goal x framing x obfuscation x delimiter x language, simplest values first."""

    def build(framing: str, obfuscation: str, delimiter: str, language: str) -> Attack:
        token, url = make_url() if make_url else ("", "")
        return compose(goal, framing, obfuscation, delimiter, language, url=url, token=token)

    return st.builds(build, st.sampled_from(framings),
                     st.sampled_from(obfuscations or tuple(ENCODERS)),
                     st.sampled_from(DELIMITERS), st.sampled_from(LANGUAGES))


def draw(strategy: st.SearchStrategy[T], n: int, seed_value: int,
         visit: Callable[[T], bool], key: Callable[[T], Any] = repr) -> str | None:
    """Feed up to `n` distinct examples to `visit` (which returns False to stop early).

    Returns a note when Hypothesis itself gave up (e.g. a tiny search space), else None.
    An exception raised by `visit` stops the draw and is re-raised unchanged.
    """
    if n <= 0:
        return None
    seen: set[Any] = set()
    state: dict[str, Any] = {"sent": 0, "stop": False, "error": None}

    @settings(max_examples=n * 5, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              derandomize=False, print_blob=False)
    @seed(seed_value)
    @given(strategy)
    def run(example: T) -> None:
        if state["stop"] or state["sent"] >= n:
            return
        k = key(example)
        if k in seen:
            return
        seen.add(k)
        state["sent"] += 1
        try:
            if visit(example) is False:
                state["stop"] = True
        except Exception as exc:  # re-raised below: Hypothesis must not replay a live call
            state["error"], state["stop"] = exc, True

    note = None
    try:
        run()
    except HypothesisException as exc:  # Flaky, Unsatisfiable...: keep what was collected
        note = f"hypothesis stopped early: {type(exc).__name__}"
    if state["error"] is not None:
        raise state["error"]
    return note
