"""End-to-end: audit both lab deployments with the real suite and assert every control's
status from the JSON report. Needs root (network namespaces); `bin/setup` installs the rest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
]

EXPECTED_DIR = Path(__file__).parent / "expected"
DEPLOYMENTS = ("vulnerable", "hardened")


def expected_statuses() -> dict[str, dict[str, str]]:
    """The exact expected status of every catalog control per deployment: one file per area
    in selftests/expected/; a control no file names is NOT_RUN (visible, never hidden)."""
    from aiaudit.catalog import load_catalog

    expected = {d: {c.id: "NOT_RUN" for c in load_catalog().controls} for d in DEPLOYMENTS}
    for path in sorted(EXPECTED_DIR.glob("*.toml")):
        doc = tomllib.loads(path.read_text())
        for deployment in DEPLOYMENTS:
            for cid, status in doc.get(deployment, {}).items():
                assert cid in expected[deployment], f"{path.name}: unknown control {cid}"
                expected[deployment][cid] = status
    return expected


EXPECTED = expected_statuses()
# garak's own command runs against the vulnerable deployment only (a few minutes of model
# time each on a loaded machine); garak as a library attacks both.
GARAK_NATIVE = {"vulnerable": ("--garak-native",), "hardened": ()}


def lab(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "aiaudit.lab", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    """Bring both deployments up, then audit both at once, yield the JSON reports.

    Why at once: each deployment has its own model server answering on one thread, and the
    audits spend most of their time waiting for it (about 280 s and 220 s one after the
    other on the loaded 2-core machine), so the two overlap on the two cores. Both are up
    before either audit starts, as the hardened audit always had the vulnerable deployment
    beside it: each audit is scoped to its own namespace and lab directory."""
    results, running = {}, {}
    try:
        ups = {name: json.loads(lab("up", name).strip().splitlines()[-1]) for name in EXPECTED}
        for name, up in ups.items():
            report_dir = tmp_path_factory.mktemp(f"reports-{name}")
            log = report_dir.parent / f"{report_dir.name}.out"
            argv = [sys.executable, "-m", "pytest", f"--target={up['target']}",
                    f"--audit-config={up['config']}", f"--report-dir={report_dir}",
                    *GARAK_NATIVE[name], "-p", "no:cacheprovider", "-q"]
            with open(log, "w") as out:  # a file, not a pipe: nobody reads it while it runs
                running[name] = (subprocess.Popen(argv, cwd=ROOT, stdout=out,
                                                  stderr=subprocess.STDOUT, text=True),
                                 report_dir, log)
        for name, (proc, report_dir, log) in running.items():
            proc.wait(timeout=1200)
            results[name] = {
                "proc": subprocess.CompletedProcess(proc.args, proc.returncode,
                                                    log.read_text(errors="replace"), ""),
                "json": json.loads((report_dir / "latest.json").read_text()),
                "html": report_dir / "latest.html",
            }
        yield results
    finally:
        for proc, _, _ in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lab("down")


@pytest.mark.parametrize("deployment", list(EXPECTED))
def test_every_control_has_its_expected_status(audits, deployment):
    doc = audits[deployment]["json"]
    got = {c["id"]: c["status"] for c in doc["controls"]}
    # An expected value is one status, or a list where the issue itself accepts several
    # (INJ-02: FAIL or ERROR).
    mismatches = {cid: (want, got.get(cid)) for cid, want in EXPECTED[deployment].items()
                  if got.get(cid) not in ([want] if isinstance(want, str) else want)}
    details = {c["id"]: c["reason"] for c in doc["controls"] if c["id"] in mismatches}
    assert not mismatches, f"(expected, got): {mismatches}; reasons: {details}"
    assert len(got) == 27


def _listener_cases(doc):
    exp01 = next(c for c in doc["controls"] if c["id"] == "EXP-01")
    return [c for c in exp01["cases"] if "bound to" in c["evidence"]]  # the host's sockets


def test_vulnerable_exp01_names_every_open_service(audits):
    cases = _listener_cases(audits["vulnerable"]["json"])
    failing = {c["case"] for c in cases if c["status"] == "FAIL"}
    assert failing == {"llama-cpp-python_server@0.0.0.0:8000", "aiaudit.lab.agent@0.0.0.0:8080",
                       "Chroma@0.0.0.0:8001"}
    assert all(c["evidence"]["bound to"].startswith("0.0.0.0:") for c in cases)


def test_hardened_exp01_saw_the_services_it_passed(audits):
    bound = sorted(c["evidence"]["bound to"]
                   for c in _listener_cases(audits["hardened"]["json"]))
    assert bound == ["127.0.0.1:8000", "127.0.0.1:8080"]


def test_exit_status_follows_the_verdict(audits):
    assert audits["vulnerable"]["proc"].returncode == 1
    assert audits["vulnerable"]["json"]["verdict"] == "NOT COMPLIANT"
    # hardened: nothing fails, but NOT_RUN controls keep the verdict INCOMPLETE (exit 0)
    assert audits["hardened"]["json"]["verdict"] in ("INCOMPLETE", "COMPLIANT")
    assert audits["hardened"]["proc"].returncode == 0, audits["hardened"]["proc"].stdout[-3000:]


@pytest.mark.parametrize("deployment", list(EXPECTED))
def test_garak_cases_ran_against_the_lab(audits, deployment):
    """garak's corpus (as a library) attacked the lab's chat channel in both deployments,
    and garak's own command (--garak-native) the vulnerable one: their cases carry answers
    or garak attempts, none is NOT_APPLICABLE for want of garak."""
    controls = {c["id"]: c for c in audits[deployment]["json"]["controls"]}
    for cid in ("INJ-01", "INJ-04"):
        cases = {c["case"]: c for c in controls[cid]["cases"]}
        library = cases["lab-agent:garak"]
        assert library["status"] in ("PASS", "FAIL"), (cid, library["reason"])
        assert "answers=" in library["evidence"]["read"], library["evidence"]
        if not GARAK_NATIVE[deployment]:
            assert "lab-agent:garak-native" not in cases
            continue
        native = cases["lab-agent:garak-native"]
        assert native["status"] in ("PASS", "FAIL"), (cid, native["reason"])
        assert "garak ran" in native["evidence"]["garak native"], native["evidence"]
        assert native["evidence"]["read"].startswith("garak_attempts="), native["evidence"]


def test_injection_findings_name_family_and_payload(audits):
    """Issue 14: the vulnerable lab fails INJ-01 from attacks in the built-in corpus itself
    (not only through garak's), with no leak in the no-attack control; the family table
    names the family and its shortest leaking payload; the hardened lab's table has no
    leaking family."""
    doc = audits["vulnerable"]["json"]
    inj01 = next(c for c in doc["controls"] if c["id"] == "INJ-01")
    builtin = next(c for c in inj01["cases"] if c["case"] == "lab-agent")
    assert builtin["status"] == "FAIL", builtin["reason"]
    assert builtin["evidence"]["no-attack control"].startswith("0/"), builtin["evidence"]
    rows = [r for r in doc["injection_families"]
            if r["control"] == "INJ-01" and r["corpus"] == "builtin" and r["successes"]]
    assert rows and all(r["beats_no_attack"] and r["shortest_payload"] for r in rows), rows
    assert all(r["family"] in builtin["evidence"] for r in rows), builtin["evidence"]
    hardened = audits["hardened"]["json"]["injection_families"]
    assert hardened and not [r for r in hardened if r["successes"]], hardened
