"""Roll-up of case statuses, waivers, verdicts and secret redaction."""

import datetime as dt

import pytest

from aiaudit.catalog import load_catalog
from aiaudit.config import AuditConfig, Waiver
from aiaudit.redact import mask, redact, redact_obj
from aiaudit.results import CaseResult, checklist_status, control_result, summarize
from aiaudit.status import Status, rollup

S = Status


@pytest.mark.parametrize("cases, expected", [
    ([], S.NOT_RUN),
    ([S.PASS, S.PASS], S.PASS),
    ([S.PASS, S.NOT_APPLICABLE], S.PASS),
    ([S.NOT_APPLICABLE], S.NOT_APPLICABLE),
    ([S.PASS, S.ERROR], S.ERROR),
    ([S.ERROR, S.FAIL, S.PASS], S.FAIL),
    ([S.PASS, S.MANUAL], S.MANUAL),
])
def test_rollup_never_lets_could_not_check_pass(cases, expected):
    assert rollup(cases) == expected


def case(status, reason=""):
    return CaseResult("n", "EXP-04", "c", status, reason)


def test_valid_waiver_turns_fail_into_waived_and_expired_one_does_not():
    control = load_catalog().get("EXP-04")
    cfg = AuditConfig(waivers=[Waiver("EXP-04", "upstream firewall", dt.date(2026, 12, 31))])
    waived = control_result(control, [case(S.FAIL, "policy accept")], cfg, dt.date(2026, 11, 1))
    assert waived.status == S.WAIVED and "upstream firewall" in waived.reason
    expired = control_result(control, [case(S.FAIL, "policy accept")], cfg, dt.date(2027, 1, 2))
    assert expired.status == S.FAIL and "waiver expired on 2026-12-31" in expired.reason


def test_waiver_does_not_hide_an_error():
    control = load_catalog().get("EXP-04")
    cfg = AuditConfig(waivers=[Waiver("EXP-04", "x", dt.date(2099, 1, 1))])
    assert control_result(control, [case(S.ERROR, "timeout")], cfg).status == S.ERROR


def test_summary_lists_every_catalog_control_and_the_verdict():
    cases = [CaseResult("n1", "EXP-01", "a", S.PASS)]
    summary = summarize(load_catalog(), cases, AuditConfig())
    assert len(summary.controls) == 27
    assert summary.counts["PASS"] == 1 and summary.counts["NOT_RUN"] == 26
    assert summary.verdict == "INCOMPLETE" and not summary.exit_nonzero
    failing = summarize(load_catalog(), [CaseResult("n", "STO-01", "db", S.FAIL)], AuditConfig())
    assert failing.verdict == "NOT COMPLIANT" and failing.exit_nonzero
    assert failing.failed_by_severity == {"high": 1}


def test_checklist_item_needs_all_its_controls():
    assert checklist_status([S.PASS, S.FAIL]) == S.FAIL
    assert checklist_status([S.PASS, S.NOT_RUN]) == S.NOT_RUN
    assert checklist_status([S.PASS, S.ERROR]) == S.ERROR
    assert checklist_status([S.PASS, S.PASS]) == S.PASS


@pytest.mark.parametrize("secret", [
    "sk-proj-" + "Ab3" * 15,
    "sk-ant-api03-" + "x9Y" * 10,
    "ghp_" + "a1B2" * 9,
    "github_pat_" + "11ABCD" * 8,
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "xoxb-1234567890-abcdefghij",
    "hf_" + "abcdefghij" * 3 + "xy",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
])
def test_secret_shapes_are_redacted(secret):
    out = redact(f"found {secret} in history")
    assert secret not in out and mask(secret) in out


def test_mask_shows_little_of_short_secrets():
    assert mask("abcd").startswith("a…[4]#")
    assert mask("sk-proj-" + "x" * 40).startswith("sk-p…[48]#")


def test_redact_obj_walks_structures():
    secret = "ghp_" + "Zz09" * 9
    doc = redact_obj({"a": [secret, {"b": secret}], "n": 3})
    assert secret not in str(doc) and doc["n"] == 3


def test_plain_english_is_left_alone():
    text = "The model listens on 0.0.0.0:8000 and answered HTTP 200 in 0.12 s."
    assert redact(text) == text
