"""Stable identity of a case across runs: what baselines, diffs and SARIF fingerprints key on.

A case is named by its control, the target and the resource it is about (the readable
parametrize id: a service address, a store path, a skill). Test order, timings and unrelated
changes do not move it, so "new since yesterday" means new.
"""

from __future__ import annotations

import hashlib
import json

KEY_VERSION = "aiaudit/v1"


def case_key(control: str, target: str, resource: str) -> str:
    """The readable key: `CONTROL|TARGET|RESOURCE` (resource empty for unparametrized tests)."""
    return f"{control}|{target}|{resource}"


def fingerprint(key: str) -> str:
    """A short stable hash of a case key (SARIF partialFingerprints, history rows)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


def evidence_hash(evidence: dict[str, str]) -> str:
    """Hash of a case's (redacted) evidence: a different model list or a new secret
    fingerprint changes it, so a diff can show "changed evidence" on an unchanged status."""
    text = json.dumps(evidence, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
