"""The access check over thousands of paths: a deployment scope with many homes asks about
thousands of candidate files, which in one script is longer than one argv string may be
(Linux MAX_ARG_STRLEN, 128 KiB; over SSH the whole script is one `sh -c` argument)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from aiaudit.access import SCRIPT_LIMIT, access_script, access_scripts, check_access, parse_access
from aiaudit.hostfs import HostFS


class CountingFS(HostFS):
    """The local target, counting round trips and the longest script it was handed."""

    def __init__(self) -> None:
        super().__init__("local")
        self.calls: list[int] = []

    def run(self, command: str, timeout: float = 60.0) -> tuple[int, str, str]:
        self.calls.append(len(command.encode()))
        return super().run(command, timeout)


def test_5000_paths_are_checked_in_batches_under_the_argv_limit(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    present = []
    for i in range(50):
        f = deep / f"present-{i}.json"
        f.write_text("{}")
        present.append(str(f))
    missing = [str(deep / f"candidate-{i:05d}" / "openclaw.json") for i in range(4950)]
    paths = present + missing
    assert len(access_script(paths).encode()) > 128 * 1024  # one script would not run
    fs = CountingFS()
    got = check_access(fs, paths)
    assert len(got) == 5000
    assert all(got[p].state == "ok" for p in present)
    assert all(got[p].state == "missing" for p in missing)
    assert max(fs.calls) <= SCRIPT_LIMIT
    assert len(fs.calls) == len(access_scripts(paths)) < 20  # one round trip per batch


def test_nearest_ancestor_is_found_as_dirname_would(tmp_path):
    """Trailing slashes, doubled slashes and relative paths reach the same ancestor as the
    `dirname` walk did; an unsearchable ancestor is named as the blocker."""
    (tmp_path / "a").mkdir()
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    paths = [f"{tmp_path}/a/x/y/", f"{tmp_path}//a//x", f"{tmp_path}/a/x//", "no-such-rel/x"]
    got = check_access(HostFS("local"), paths)
    assert [got[p].state for p in paths] == ["missing"] * 4
    closed.chmod(0)
    shut = [f"{closed}/x/y", f"{closed}/x/z", f"{tmp_path}/a/q"]
    argv = ["sh", "-c", access_script(shut)]
    if os.geteuid() == 0:  # root searches every dir unless its DAC capabilities are dropped
        if shutil.which("capsh") is None:
            pytest.skip("capsh (libcap2-bin) missing")
        argv = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", *argv[1:]]
    try:
        got = parse_access(subprocess.run(argv, capture_output=True, text=True,
                                          check=True).stdout)
    finally:
        closed.chmod(0o700)
    assert [got[p].state for p in shut] == ["hidden", "hidden", "missing"]
    assert got[shut[0]].blocker == got[shut[1]].blocker == str(closed)


def test_a_path_longer_than_a_script_is_refused_in_one_line():
    with pytest.raises(ValueError, match="path too long"):
        access_scripts(["/" + "x" * SCRIPT_LIMIT])
