"""The exact-status check the real-framework e2e tests share: each control's cases that
belong to the audited state, rolled up, against the expected status in its toml file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiaudit.status import Status, rollup


def status_mismatches(doc: dict[str, Any], expected: dict[str, dict[str, str]],
                      mine: Callable[[dict[str, Any]], list[dict[str, Any]]]
                      ) -> dict[str, tuple[str, str, list[str]]]:
    """{control: (expected, got, its cases)} for every control whose rolled-up status over
    `mine(control)` differs from the expected one (NOT_RUN when it has no case)."""
    controls = {c["id"]: c for c in doc["controls"]}
    out = {}
    for cid, want in expected.items():
        cases = mine(controls[cid])
        got = rollup([Status(c["status"]) for c in cases]).value if cases else "NOT_RUN"
        if got != want["status"]:
            out[cid] = (want["status"], got,
                        [f"{c['case']}: {c['status']} {c['reason'][:300]}" for c in cases])
    return out
