"""The deployment scope (aiaudit.scope): `[deployment]` resolved once, from a user home or a
framework dir alike, with the old keys as aliases that never duplicate a finding.

Homes hold files recorded from real Hermes Agent 0.19.0, OpenClaw 2026.9.6 and Open WebUI
0.12.4 states (selftests/fixtures/{hermes,openclaw,open_webui}); a Hermes state.db is
created by Hermes' own `hermes_state.SessionDB` when hermes-agent is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from aiaudit.config import load_config
from aiaudit.context import AuditContext
from aiaudit.hostfs import HostFS
from aiaudit.scope import ProcessInfo, resolve, scope_for
from aiaudit.target import parse_target

FIX = Path(__file__).parent / "fixtures"
HERMES_PY = Path(os.environ.get("AIAUDIT_HERMES_VENV", "/opt/aiaudit-fw/hermes")) / "bin/python3"


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


def _webui_data(tmp_path: Path, name: str = "data") -> Path:
    """An Open WebUI DATA_DIR: the webui.db the real 0.12.4 server wrote (recorded dump)."""
    import contextlib
    import sqlite3

    data = tmp_path / name
    data.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(data / "webui.db")) as conn:
        conn.executescript((FIX / "open_webui" / "hardened" / "webui.sql").read_text())
    return data


def test_an_open_webui_data_dir_is_told_by_its_webui_db(tmp_path):
    data = _webui_data(tmp_path, "srv/open-webui-data")
    for text in (f'[deployment]\nhomes = ["{data}"]\n', f'[paths]\nstate_dirs = ["{data}/"]\n'):
        scope = _scope(tmp_path, text)
        assert [(r.product, r.path) for r in scope.roots] == [("open-webui", str(data))]
    assert _scope(tmp_path, f'[deployment]\nhomes = ["{data}"]\n').homes == ()
    # DATA_DIR has no default below a home: a home holding a data dir under another name
    # is not searched for one
    assert _scope(tmp_path, f'[deployment]\nhomes = ["{tmp_path / "srv"}"]\n').roots == ()


def test_a_process_names_its_open_webui_data_dir():
    from aiaudit.scope import parse_processes

    line = "\t".join(["42", "webui", "open-webui.service", "1",
                      "HOME=/home/webui\x01DATA_DIR=/srv/owui/data\x01",
                      "/opt/owui/bin/open-webui serve"])
    (proc,) = parse_processes(line + "\n")
    assert "/srv/owui/data" in proc.state_dirs


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


def _session_db(hermes_home: Path) -> None:
    """state.db created by Hermes itself (its SessionDB schema)."""
    subprocess.run([str(HERMES_PY), "-c", "from hermes_state import SessionDB; SessionDB()"],
                   env={"HERMES_HOME": str(hermes_home), "PATH": os.environ["PATH"]},
                   check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(not HERMES_PY.exists(), reason="hermes-agent is not installed (bin/setup)")
def test_aliases_and_deployment_overlapping_give_one_finding(tmp_path):
    from aiaudit.storage.configsecrets import config_facts
    from aiaudit.storage.locate import locate_all
    from aiaudit.supply_chain.providers import inventory

    home = _home(tmp_path, "hardened")
    _session_db(home / ".hermes")
    (home / ".hermes" / ".env").write_text(  # a literal key: one STO-04 finding
        (FIX / "hermes" / "vulnerable" / ".env").read_text())
    cfg = tmp_path / "audit.toml"
    cfg.write_text(f'[deployment]\nhomes = ["{home}"]\n'
                   f'[paths]\nstate_dirs = ["{home}/.hermes", "{home}/.hermes/"]\n'
                   f'[supply_chain]\nhome_dirs = ["{home}"]\nhermes_homes = ["{home}/.hermes"]\n')
    ctx = AuditContext(parse_target("local"), load_config(str(cfg)))
    found = locate_all(ctx)
    assert [s.path for s in found.stores] == [f"{home}/.hermes/state.db"]
    assert [(d.app, d.path) for d in found.dirs] == [("hermes", f"{home}/.hermes")]
    inv = inventory(ctx)
    assert [c.path for c in inv.configs_of("hermes")] == [f"{home}/.hermes/config.yaml"]
    assert [s.id for s in inv.skills] == ["hermes:skills/meeting-notes"]
    facts = config_facts(ctx, "hermes", found.dirs[0].path)
    envs = [f for f in facts.findings if f.location.endswith("/.env")]
    assert len(envs) == 1, facts.findings
    assert scope_for(ctx).closed


def test_hermes_managed_dir_follows_the_processes_and_units_environment(tmp_path):
    """HERMES_MANAGED_DIR set only in a running gateway's environment or in its unit's
    `Environment=` replaces /etc/hermes for that home (hermes_cli/managed_scope.py
    get_managed_dir), its profiles included; other homes keep the default."""
    from aiaudit.config import AuditConfig
    from aiaudit.scope import Scope, _hermes_managed, parse_processes

    line = ("4242\thermes\t\t1\tHOME=/home/h\x01HERMES_MANAGED_DIR=/srv/policy\x01\t"
            "/opt/hermes/bin/python3 /opt/hermes/bin/hermes gateway run")
    (proc,) = parse_processes(line)
    assert proc.hermes_managed == "/srv/policy" and "/home/h/.hermes" in proc.state_dirs
    found = _hermes_managed([proc], HostFS("local"), ())
    scope = Scope(HostFS("local"), AuditConfig(), True, ("/home/h",), hermes_managed=found)
    assert scope.hermes_managed_dir("/home/h/.hermes")[0] == "/srv/policy"
    assert scope.hermes_managed_dir("/home/h/.hermes/profiles/work")[0] == "/srv/policy"
    assert "pid 4242" in scope.hermes_managed_dir("/home/h/.hermes")[1]
    assert scope.hermes_managed_dir("/home/x/.hermes") == ("/etc/hermes", "")
    empty = parse_processes(line.replace("/srv/policy", ""))
    assert _hermes_managed(empty, HostFS("local"), ()) == ()  # empty: unset, as Hermes strips it


def test_unit_environment_file_settings_follow_environment_lines(tmp_path):
    """EnvironmentFile= (what `openclaw gateway install` and most packaged units use) is
    read: its KEY=VALUE lines come after the unit's Environment= items (systemd.exec: they
    override them), a `-` prefix and a missing file are fine."""
    from aiaudit.config import AuditConfig
    from aiaudit.scope import Scope, _hermes_managed, unit_settings

    env = tmp_path / "hermes.env"
    env.write_text("# operator's settings\nHERMES_HOME=/srv/hermes\n"
                   'HERMES_MANAGED_DIR="/srv/policy"\n; old\n')
    unit_out = ("#/etc/systemd/system/hermes-gateway.service\n"
                "Environment=HERMES_MANAGED_DIR=/etc/other\n"
                f"EnvironmentFile=-{env}\n"
                f"EnvironmentFile=-{tmp_path}/missing.env\n"
                "ExecStart=/opt/hermes/bin/hermes gateway run\n")
    local = HostFS("local")

    class FS:
        def run(self, cmd: str, timeout: float = 0) -> tuple[int, str, str]:
            return (0, unit_out, "") if cmd.startswith("for f in /etc/systemd") \
                else local.run(cmd, timeout=timeout)

    got = unit_settings(FS(), ("hermes-gateway",))
    assert got == [("hermes-gateway", "HERMES_MANAGED_DIR", "/etc/other"),
                   ("hermes-gateway", "ExecStart", "/opt/hermes/bin/hermes gateway run"),
                   ("hermes-gateway", "HERMES_HOME", "/srv/hermes"),
                   ("hermes-gateway", "HERMES_MANAGED_DIR", "/srv/policy")]
    found = _hermes_managed([], FS(), ("hermes-gateway",))
    scope = Scope(local, AuditConfig(), True, (), hermes_managed=found)
    assert scope.hermes_managed_dir("/srv/hermes")[0] == "/srv/policy"  # the file wins
