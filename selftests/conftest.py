"""Self-tests under pytest-xdist (bin/selftest runs them on 2 workers, `--dist loadfile`).

Why: the lab's model server answers on one thread, so a lab audit keeps one core busy while
the other waits; a second worker fills it. Two things make that safe and worth it:

- each worker brings its labs up in a lab slot of its own (AIAUDIT_LAB_SLOT: namespaces,
  subnets and lab root differ per slot), so the workers never tear down each other's
  deployments. AIAUDIT_SELFTEST_SLOTS names the slots, one per worker (default "8,9": apart
  from a developer's usual slot 0 and from the fleet hosts' own slots 9-20, which are
  numbered and addressed apart, aiaudit/lab/fleethosts.py);
- the slowest files are handed out first (`--dist loadfile` gives whole files to workers in
  collection order), so no worker starts a 7-minute end-to-end file while the other has
  nothing left. The order inside a file never changes, and a run without workers keeps the
  plain order.
"""

from __future__ import annotations

import os

import pytest

# The slowest files, slowest first (selftests/file_durations.py prints the current figures
# at the end of every bin/selftest run; CI dry run of 2026-12-03: 449, 181, 117, 108, 108,
# 91, 56, 55, 51 s).
SLOWEST_FIRST = (
    "test_e2e_lab.py", "test_real_openclaw.py", "test_e2e_hermes.py",
    "test_hermes_variants.py", "test_exposure_real_servers.py", "test_openclaw_variants.py",
    "test_supply_chain_scanner.py", "test_fleet_lab.py", "test_open_webui_variants.py",
    "test_nothing_unread.py", "test_storage_pg.py", "test_audit_run.py",
    "test_supply_chain_real_benign.py",
)
DEFAULT_SLOTS = "8,9"


def worker_slot(worker: str, slots: str) -> str:
    """The lab slot of xdist worker `gwN`: the N-th of the comma-separated `slots`."""
    chosen = [s.strip() for s in slots.split(",") if s.strip()]
    index = int(worker.removeprefix("gw"))
    if index >= len(chosen):
        raise pytest.UsageError(f"AIAUDIT_SELFTEST_SLOTS={slots!r} names {len(chosen)} lab "
                                f"slots, not one for xdist worker {worker}")
    return chosen[index]


_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:  # before any test module imports aiaudit.lab.deploy (it reads the slot once)
    os.environ["AIAUDIT_LAB_SLOT"] = worker_slot(
        _WORKER, os.environ.get("AIAUDIT_SELFTEST_SLOTS") or DEFAULT_SLOTS)


def _rank(item: pytest.Item) -> int:
    name = item.path.name
    return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the slowest files first (a stable sort: each file keeps its order)."""
    if _WORKER:
        items.sort(key=_rank)
