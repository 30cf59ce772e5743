"""The control catalog: controls and framework mappings are data, validated on load.

Keeping metadata beside (not inside) the test code lets auditors read and diff it, and
lets a meta-test prove that catalog and tests stay in step.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

AREAS = ("exposure", "supply_chain", "injection", "storage")
AREA_TITLES = {
    "exposure": "Exposed LLM API endpoints",
    "supply_chain": "Skill and plugin supply chain",
    "injection": "Prompt injection",
    "storage": "Conversation history leakage",
}
SEVERITIES = ("critical", "high", "medium", "low", "info")
ID_PATTERN = re.compile(r"^(EXP|SUP|INJ|STO)-\d{2}$")
AREA_PREFIX = {"EXP": "exposure", "SUP": "supply_chain", "INJ": "injection", "STO": "storage"}


class CatalogError(ValueError):
    """The catalog data does not match its schema."""


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    area: str
    severity: str
    owasp: tuple[str, ...]
    rationale: str
    remediation: str
    time_to_fix: str
    automated: bool = True
    checklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChecklistItem:
    item: str
    text: str
    controls: tuple[str, ...]


@dataclass(frozen=True)
class Catalog:
    version: str
    controls: tuple[Control, ...]
    checklist: tuple[ChecklistItem, ...]
    owasp_titles: dict[str, str]

    def by_id(self) -> dict[str, Control]:
        return {c.id: c for c in self.controls}

    def get(self, control_id: str) -> Control:
        try:
            return self.by_id()[control_id]
        except KeyError:
            raise CatalogError(f"unknown control id {control_id!r}") from None


_REQUIRED = {
    "id": str,
    "title": str,
    "area": str,
    "severity": str,
    "owasp": list,
    "rationale": str,
    "remediation": str,
    "time_to_fix": str,
}


def _validate_control(raw: dict, owasp_ids: set[str]) -> None:
    cid = raw.get("id", "<missing id>")
    unknown = set(raw) - set(_REQUIRED) - {"automated"}
    if unknown:
        raise CatalogError(f"{cid}: unknown keys {sorted(unknown)}")
    for key, kind in _REQUIRED.items():
        if not isinstance(raw.get(key), kind) or not raw.get(key):
            raise CatalogError(f"{cid}: {key!r} must be a non-empty {kind.__name__}")
    if not ID_PATTERN.match(cid):
        raise CatalogError(f"{cid}: id must look like EXP-01")
    if raw["area"] not in AREAS or AREA_PREFIX[cid[:3]] != raw["area"]:
        raise CatalogError(f"{cid}: area {raw['area']!r} does not match the id prefix")
    if raw["severity"] not in SEVERITIES:
        raise CatalogError(f"{cid}: severity must be one of {SEVERITIES}")
    bad = [o for o in raw["owasp"] if o not in owasp_ids]
    if bad:
        raise CatalogError(f"{cid}: unknown OWASP ids {bad}")
    if "automated" in raw and not isinstance(raw["automated"], bool):
        raise CatalogError(f"{cid}: 'automated' must be true or false")


def parse_catalog(controls_doc: dict, frameworks_doc: dict) -> Catalog:
    """Validate the two TOML documents and build the catalog."""
    owasp = frameworks_doc.get("owasp_llm_2025", {}).get("items", {})
    raw_controls = controls_doc.get("control", [])
    seen: set[str] = set()
    for raw in raw_controls:
        _validate_control(raw, set(owasp))
        if raw["id"] in seen:
            raise CatalogError(f"{raw['id']}: duplicate id")
        seen.add(raw["id"])
    checklist = []
    for raw in frameworks_doc.get("checklist", []):
        missing = [c for c in raw.get("controls", []) if c not in seen]
        if missing or not raw.get("controls"):
            raise CatalogError(f"checklist {raw.get('item')}: unknown controls {missing}")
        checklist.append(ChecklistItem(raw["item"], raw["text"], tuple(raw["controls"])))
    item_of: dict[str, list[str]] = {}
    for item in checklist:
        for cid in item.controls:
            item_of.setdefault(cid, []).append(item.item)
    controls = tuple(
        Control(
            id=r["id"],
            title=r["title"],
            area=r["area"],
            severity=r["severity"],
            owasp=tuple(r["owasp"]),
            rationale=r["rationale"],
            remediation=r["remediation"],
            time_to_fix=r["time_to_fix"],
            automated=r.get("automated", True),
            checklist=tuple(item_of.get(r["id"], ())),
        )
        for r in raw_controls
    )
    version = controls_doc.get("catalog_version")
    if not isinstance(version, str):
        raise CatalogError("catalog_version missing")
    return Catalog(version, controls, tuple(checklist), dict(owasp))


@cache
def load_catalog() -> Catalog:
    """The catalog shipped with the package."""
    data = resources.files("aiaudit") / "data"
    controls = tomllib.loads((data / "controls.toml").read_text(encoding="utf-8"))
    frameworks = tomllib.loads((data / "frameworks.toml").read_text(encoding="utf-8"))
    return parse_catalog(controls, frameworks)
