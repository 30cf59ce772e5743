"""AuditContext.cached: one lock per key (computations of different keys overlap, the same
key is computed once however many threads ask), a self-dependent key raises instead of
deadlocking, errors are remembered, an interrupt is not; and the prefetch's reading of
which providers a run's test files name."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from aiaudit import prefetch
from aiaudit.config import AuditConfig
from aiaudit.context import AuditContext
from aiaudit.target import parse_target

ROOT = Path(__file__).resolve().parent.parent


def ctx() -> AuditContext:
    return AuditContext(parse_target("127.0.0.1"), AuditConfig())


def test_different_keys_compute_side_by_side():
    c, both = ctx(), threading.Barrier(2, timeout=5)

    def compute(name: str) -> str:
        both.wait()  # only passes when the other key's computation runs at the same time
        return name

    out: dict[str, str] = {}
    threads = [threading.Thread(target=lambda k=k: out.update({k: c.cached(k, lambda: compute(k))}))
               for k in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == {"a": "a", "b": "b"}


def test_one_key_is_computed_once_for_concurrent_askers():
    c, calls, started = ctx(), [], threading.Event()

    def slow() -> int:
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return 42

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(c.cached("k", slow)))
    first.start()
    assert started.wait(5)
    results.append(c.cached("k", slow))  # waits for the first thread's computation
    first.join(5)
    assert results == [42, 42] and len(calls) == 1


def test_nested_keys_are_fine_and_a_self_dependent_key_raises():
    c = ctx()
    assert c.cached("outer", lambda: c.cached("inner", lambda: 1) + 1) == 2
    with pytest.raises(RuntimeError, match="'loop'.*depends on itself"):
        c.cached("loop", lambda: c.cached("loop", lambda: 0))


def test_computed_tells_without_computing():
    c = ctx()
    assert not c.computed("context:client")
    assert c.client is c.client and c.computed("context:client")


def test_an_error_is_remembered_and_reraised_to_every_asker():
    c, calls = ctx(), []

    def boom() -> None:
        calls.append(1)
        raise ValueError("unreadable")

    for _ in range(2):
        with pytest.raises(ValueError, match="unreadable"):
            c.cached("k", boom)
    assert len(calls) == 1


def test_an_interrupt_is_not_remembered():
    c = ctx()

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        c.cached("k", interrupted)
    assert c.cached("k", lambda: "recomputed") == "recomputed"


def test_a_waiter_recomputes_when_the_computing_thread_is_interrupted():
    c, started, release = ctx(), threading.Event(), threading.Event()

    def interrupted() -> None:
        started.set()
        release.wait(5)
        raise KeyboardInterrupt

    def first() -> None:
        with pytest.raises(KeyboardInterrupt):
            c.cached("k", interrupted)

    t = threading.Thread(target=first)
    t.start()
    assert started.wait(5)
    threading.Timer(0.2, release.set).start()
    assert c.cached("k", lambda: "mine") == "mine"
    t.join(5)


def test_prefetch_names_the_providers_of_the_selected_test_files():
    everything = prefetch.provider_names(prefetch.test_files(ROOT, [str(ROOT)]))
    assert everything[:3] == ["exposure_bindings", "ai_endpoints", "firewall"]
    assert {"skills", "storage_at_rest", "injection_channels"} <= set(everything)
    assert "storage_file_stores" not in everything  # registered, but no test names it
    one = prefetch.test_files(ROOT, [str(ROOT / "tests_exposure/test_exp04_firewall.py")
                                     + "::test_x"])
    assert [f.name for f in one] == ["test_exp04_firewall.py"]
    assert prefetch.provider_names(one) == ["firewall"]
    area = prefetch.provider_names(prefetch.test_files(ROOT, [str(ROOT / "tests_storage")]))
    assert area and all(n.startswith("storage_") for n in area)


def test_prefetch_stores_results_and_errors_where_collection_asks():
    from aiaudit.providers import provider_spec

    c = ctx()  # network-only target: host-side providers raise NoHostAccess
    for t in prefetch.start(c, ["firewall", "storage_state_dirs"]):
        t.join(30)
    spec = provider_spec("firewall")
    with pytest.raises(Exception) as first:
        c.cached("provider:firewall", lambda: spec.func(c))
    with pytest.raises(Exception) as again:
        c.cached("provider:firewall", lambda: pytest.fail("recomputed"))
    assert first.value is again.value
    assert type(first.value).__name__ == "NoHostAccess"


# Keys computed in more than one place on purpose: an accumulator every client joins, and a
# command-line option the plugin stores at configure (before any provider runs) that a
# provider outside an audit run reads with its default.
_SHARED_KEYS = {"http:extra_clients", "pytest:mcp_list_stdio"}


def _literal_cache_calls() -> dict[str, set[str]]:
    import ast

    computes: dict[str, set[str]] = {}
    for path in sorted((ROOT / "aiaudit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "cached" and len(node.args) == 2
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                computes.setdefault(node.args[0].value, set()).add(where)
    return computes


def test_each_cache_key_is_computed_in_one_place():
    """Two computations of one key race: whichever thread asks first decides the value for
    the run. storage's history APIs computed "exposure:ai_listeners" with an older call
    (`ai_listeners(host, ...)`, whose first argument had become the socket list): when its
    prefetch thread won, EXP-01's whole discovery was an internal error (the flaky
    test_deployment_scope_host failure)."""
    calls = _literal_cache_calls()
    assert "exposure:ai_listeners" in calls  # the scan sees the calls it is about
    twice = {key: sorted(places) for key, places in calls.items()
             if len(places) > 1 and key not in _SHARED_KEYS}
    assert not twice, twice
