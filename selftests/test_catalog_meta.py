"""Meta-tests: the catalog validates, and catalog and audit tests stay in step."""

import ast
import copy
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from aiaudit.catalog import CatalogError, load_catalog, parse_catalog

ROOT = Path(__file__).resolve().parent.parent
AUDIT_DIRS = ["tests_exposure", "tests_injection", "tests_storage", "tests_supply_chain"]
EXPECTED_IDS = (
    [f"EXP-0{i}" for i in range(1, 8)]
    + [f"SUP-0{i}" for i in range(1, 8)]
    + [f"INJ-0{i}" for i in range(1, 6)]
    + [f"STO-0{i}" for i in range(1, 9)]
)


def _docs():
    data = resources.files("aiaudit") / "data"
    return (tomllib.loads((data / "controls.toml").read_text()),
            tomllib.loads((data / "frameworks.toml").read_text()))


def test_catalog_has_the_27_stable_ids():
    assert [c.id for c in load_catalog().controls] == EXPECTED_IDS


def test_every_control_is_complete():
    for c in load_catalog().controls:
        assert c.title and c.remediation and c.time_to_fix and c.owasp, c.id


def test_checklist_covers_the_11_items_with_the_agreed_mapping():
    mapping = {i.text: i.controls for i in load_catalog().checklist}
    assert len(mapping) == 11
    assert mapping["LLM API bound to 127.0.0.1 only"] == ("EXP-01",)
    skills = mapping["Skills only from the official registry, source reviewed"]
    assert skills == ("SUP-01", "SUP-03")
    assert mapping["Backups tested and stored off-site"] == ("STO-07",)


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["control"][0].update(severity="urgent"), "severity"),
    (lambda c: c["control"][0].update(area="storage"), "area"),
    (lambda c: c["control"][0].update(owasp=["LLM99"]), "OWASP"),
    (lambda c: c["control"][0].pop("remediation"), "remediation"),
    (lambda c: c["control"][1].update(id="EXP-01"), "duplicate"),
    (lambda c: c["control"][0].update(id="EXP1"), "id must look like"),
    (lambda c: c["control"][0].update(colour="red"), "unknown keys"),
], ids=["severity", "area", "owasp", "missing-remediation", "duplicate", "id-shape", "unknown-key"])
def test_schema_rejects_broken_catalogs(mutate, message):
    controls, frameworks = _docs()
    broken = copy.deepcopy(controls)
    mutate(broken)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(broken, frameworks)


def _audit_tests():
    """(file, function name, control ids) for every test function in tests_*."""
    for directory in AUDIT_DIRS:
        for path in sorted((ROOT / directory).rglob("test_*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                    ids = [
                        d.args[0].value
                        for d in node.decorator_list
                        if isinstance(d, ast.Call)
                        and ast.unparse(d.func).endswith("mark.control")
                        and d.args and isinstance(d.args[0], ast.Constant)
                    ]
                    yield path.relative_to(ROOT), node.name, ids


def test_every_audit_test_names_exactly_one_catalog_control():
    known = {c.id for c in load_catalog().controls}
    tests = list(_audit_tests())
    assert tests, "no audit tests found"
    for path, name, ids in tests:
        assert len(ids) == 1, f"{path}::{name} has control markers {ids}"
        assert ids[0] in known, f"{path}::{name} names unknown control {ids[0]}"
        assert ids[0].split("-")[0] == {
            "tests_exposure": "EXP", "tests_injection": "INJ",
            "tests_storage": "STO", "tests_supply_chain": "SUP"}[path.parts[0]], (
            f"{path}::{name}: {ids[0]} belongs in another area directory")


def test_each_control_has_at_most_one_test_function():
    seen: dict[str, str] = {}
    for path, name, ids in _audit_tests():
        for cid in ids:
            assert cid not in seen, f"{cid} is implemented twice: {seen[cid]} and {path}::{name}"
            seen[cid] = f"{path}::{name}"
