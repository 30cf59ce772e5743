"""Case ids: readable, markup-free, and never naming another dir when long."""

from aiaudit.resources import safe_id, unique_ids


def test_a_long_path_keeps_its_last_part_and_stays_unique():
    a = "hermes:/tmp/pytest-of-root/pytest-1000/popen-gw0/test_change_shows_as_new_then_0/state"
    assert safe_id(a) == a  # 86 characters: whole
    long_a, long_b = a * 3, a * 3 + "x"
    cut_a, cut_b = safe_id(long_a), safe_id(long_b)
    assert len(cut_a) == 200 and cut_a.startswith(a)  # the head keeps the product and dir
    assert "/state" in cut_a[-20:] and cut_a != cut_b  # the tail and a hash tell them apart
    assert safe_id(a, 60).split("~")[0].endswith("_0/state")  # was cut to the parent dir


def test_markup_never_reaches_an_id():
    assert safe_id("<script>alert(1)</script>") == "script_alert_1_/script"
    assert unique_ids(["x", "x"]) == ["x", "x#2"]
