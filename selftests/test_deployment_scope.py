"""The deployment scope (aiaudit.scope): `[deployment]` resolved once, from a user home or a
framework dir alike, with the old keys as aliases that never duplicate a finding.

Homes hold files recorded from real Hermes Agent 0.19.0 and OpenClaw 2026.9.6 states
(selftests/fixtures/{hermes,openclaw}); a Hermes state.db is created by Hermes' own
`hermes_state.SessionDB` when hermes-agent is installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aiaudit.config import load_config
from aiaudit.hostfs import HostFS
from aiaudit.scope import ProcessInfo, resolve

FIX = Path(__file__).parent / "fixtures"


def _home(tmp_path: Path, hermes: str | None = "vulnerable", openclaw: str | None = None,
          name: str = "u") -> Path:
    home = tmp_path / name
    home.mkdir()
    if hermes:
        shutil.copytree(FIX / "hermes" / hermes, home / ".hermes")
    if openclaw:
        shutil.copytree(FIX / "openclaw" / openclaw, home / ".openclaw")
    return home


def _scope(tmp_path: Path, text: str):
    cfg = tmp_path / "audit.toml"
    cfg.write_text(text)
    return resolve(load_config(str(cfg)), HostFS("local"))


def _shape(scope) -> tuple:
    return (sorted((r.product, r.path) for r in scope.roots), scope.homes, scope.closed)


def test_home_and_framework_dir_resolve_to_the_same_scope(tmp_path):
    home = _home(tmp_path)
    by_home = _scope(tmp_path, f'[deployment]\nhomes = ["{home}"]\n')
    by_dir = _scope(tmp_path, f'[deployment]\nhomes = ["{home}/.hermes/"]\n')
    assert _shape(by_home) == _shape(by_dir) == (
        [("hermes", f"{home}/.hermes")], (str(home),), True)


def test_a_home_finds_every_framework_dir_below_it(tmp_path):
    home = _home(tmp_path, "hardened", "hardened")
    scope = _scope(tmp_path, f'[deployment]\nhomes = ["{home}"]\n')
    assert sorted((r.product, r.path) for r in scope.roots) == [
        ("hermes", f"{home}/.hermes"), ("openclaw", f"{home}/.openclaw")]
    # a framework dir under any name is told by what it holds (OpenClaw: openclaw.json)
    srv = tmp_path / "srv-agent"
    shutil.copytree(FIX / "openclaw" / "hardened", srv)
    scope = _scope(tmp_path, f'[deployment]\nhomes = ["{srv}"]\n')
    assert [(r.product, r.path) for r in scope.roots] == [("openclaw", str(srv))]
    assert scope.homes == ()  # not a default-named dir: no user home above it in scope


def test_a_dir_that_holds_no_framework_stays_a_named_dir(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    scope = _scope(tmp_path, f'[deployment]\nhomes = ["{empty}"]\n')
    assert scope.roots == () and [n.path for n in scope.state_dirs] == [str(empty)]


def test_old_keys_feed_the_scope_without_closing_it(tmp_path):
    home = _home(tmp_path)
    scope = _scope(tmp_path, f'[paths]\nstate_dirs = ["{home}"]\n'
                   f'[supply_chain]\nhome_dirs = ["{home}"]\n')
    assert not scope.closed and scope.homes == (str(home),)
    assert [(r.product, r.path) for r in scope.roots] == [("hermes", f"{home}/.hermes")]
    assert "[paths] state_dirs" in scope.roots[0].found_by


def test_process_ownership():
    from aiaudit.config import AuditConfig, DeploymentConfig
    from aiaudit.scope import Root, Scope

    scope = Scope(HostFS("local"), AuditConfig(deployment=DeploymentConfig(units=("h.service",))),
                  True, ("/home/u",), (Root("hermes", "/home/u/.hermes", "x"),),
                  units=("h.service",))

    def proc(user="x", unit="", dirs=()):
        return ProcessInfo(1, user, unit, "hermes gateway run", tuple(dirs), True)

    assert scope.owns_process(proc(dirs=["/home/u/.hermes"]))
    assert scope.owns_process(proc(unit="h.service"))
    assert not scope.owns_process(proc(dirs=["/home/v/.hermes", "/home/u/.openclaw"]))
