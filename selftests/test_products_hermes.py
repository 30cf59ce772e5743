"""aiaudit.products.hermes and the areas that read Hermes, on files the real Hermes Agent
0.19.0 CLI wrote (selftests/fixtures/hermes/, re-recorded by record_hermes_fixtures.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aiaudit.config import AuditConfig
from aiaudit.context import AuditContext
from aiaudit.exposure.hostside import hermes_intents
from aiaudit.hostfs import HostFS
from aiaudit.products import hermes
from aiaudit.storage.configsecrets import config_facts
from aiaudit.storage.permissions import Entry, judge
from aiaudit.storage.retention import hermes_knob
from aiaudit.supply_chain.discovery import ConfigFile, discover
from aiaudit.supply_chain.provenance import integrity, provenance
from aiaudit.supply_chain.sandbox import hermes_runtime
from aiaudit.supply_chain.settings import Settings
from aiaudit.target import parse_target

FIX = Path(__file__).parent / "fixtures" / "hermes"


def cfg_of(state: str) -> hermes.HermesConfig:
    home = FIX / state
    return hermes.parse_config(str(home), (home / "config.yaml").read_text(),
                               (home / ".env").read_text())


def test_unset_keys_take_hermes_defaults_not_false():
    vuln = cfg_of("vulnerable")
    auto = vuln.get("sessions.auto_prune")
    assert auto.value is False and auto.is_default and "unset" in auto.describe()
    ret = hermes.retention(vuln)
    assert not ret.enabled and ret.days == 90
    backend = hermes.terminal_backend(vuln)
    assert backend.value == "local" and backend.is_default
    hard = cfg_of("hardened")
    assert hermes.retention(hard).enabled and hermes.retention(hard).days == 30
    assert hermes.terminal_backend(hard).value == "docker"
    assert hermes.is_reference(hard.raw("model.api_key"))


def test_api_server_intent_follows_hermes_precedence():
    vuln = hermes.api_server(cfg_of("vulnerable"))
    assert vuln.enabled and vuln.host == "0.0.0.0" and vuln.key.startswith("none")
    hard = hermes.api_server(cfg_of("hardened"))
    assert hard.enabled and hard.host == "127.0.0.1"
    # a block without `enabled` is off (PlatformConfig.enabled defaults to False) ...
    off = hermes.api_server(hermes.parse_config("/h", "platforms:\n  api_server:\n    extra:\n"
                                                "      host: 0.0.0.0\n", None))
    assert not off.enabled
    # ... an API_SERVER_KEY alone enables it, and env API_SERVER_HOST beats extra.host
    on = hermes.api_server(hermes.parse_config(
        "/h", "platforms:\n  api_server:\n    extra:\n      host: 127.0.0.1\n",
        "API_SERVER_KEY=0123456789abcdef0123\nAPI_SERVER_HOST=0.0.0.0\n"))
    assert on.enabled and on.host == "0.0.0.0" and on.key.startswith("set literally")
    # config.yaml top-level scalars are bridged to the environment (gateway/run.py)
    bridged = hermes.api_server(hermes.parse_config(
        "/h", "API_SERVER_ENABLED: true\nAPI_SERVER_HOST: 0.0.0.0\n", None))
    assert bridged.enabled and bridged.host == "0.0.0.0" and "bridged" in bridged.detail


def test_exp01_intent_from_recorded_homes():
    files = {f"{FIX}/{s}/{n}": (FIX / s / n).read_text()
             for s in ("vulnerable", "hardened") for n in ("config.yaml", ".env")}
    intents = {i.source.split("/")[-2]: i for i in hermes_intents(files)}
    assert not intents["vulnerable"].loopback_only
    assert intents["hardened"].loopback_only


def test_retention_knob_of_recorded_configs():
    vuln = hermes_knob((FIX / "vulnerable" / "config.yaml").read_text(), "/x/config.yaml")
    assert not vuln.enabled and "unset" in vuln.detail
    assert hermes_knob(None, "/x/config.yaml").detail.startswith("/x/config.yaml missing")
    hard = hermes_knob((FIX / "hardened" / "config.yaml").read_text(), "/x/config.yaml")
    assert hard.enabled and hard.days == 30


def test_sandbox_from_recorded_configs():
    for state, gaps in (("vulnerable", 1), ("hardened", 0)):
        path = FIX / state / "config.yaml"
        cfg = ConfigFile("hermes", str(path), "yaml", cfg_of(state).doc)
        assert len(hermes_runtime(cfg).gaps) == gaps


def _ctx(tmp_path: Path) -> AuditContext:
    return AuditContext(parse_target("local"), AuditConfig(
        state_dirs=[str(tmp_path)], areas={"storage": {"search_homes": False}}))


@pytest.mark.parametrize("state,literal", [("vulnerable", True), ("hardened", False)])
def test_sto04_on_recorded_homes(tmp_path, state, literal):
    home = tmp_path / ".hermes"
    shutil.copytree(FIX / state, home)
    facts = config_facts(_ctx(tmp_path), "hermes", str(home))
    assert len(facts.files) == 2
    rules = {f.location.rsplit("/", 1)[-1] for f in facts.findings}
    if literal:
        assert rules == {".env", "config.yaml"}
        assert len(facts.findings) >= 3  # .env key, model.api_key, the MCP env token
    else:
        assert facts.findings == [] and any("api_key" in r for r in facts.references)


def test_hub_install_provenance_and_integrity(tmp_path):
    home = tmp_path / ".hermes"
    shutil.copytree(FIX / "hardened", home)
    settings = Settings(home_dirs=(), hermes_homes=(str(home),),
                        allowed_registries=("url:127.0.0.1",))
    inv = discover(HostFS("local"), settings)
    [skill] = inv.skills
    prov = provenance(skill, settings)
    assert prov.source == "hermes" and prov.registry == "url:127.0.0.1" and not prov.problems
    result = integrity(skill, settings)
    assert result.checks and not result.problems
    (home / "skills" / "meeting-notes" / "SKILL.md").write_text("changed\n")
    changed = discover(HostFS("local"), settings).skills[0]
    assert integrity(changed, settings).problems


def test_files_left_at_the_umask_below_a_private_home_are_not_exposed():
    me = "hermes"
    entries = [Entry("d", 0o700, me, "/h/.hermes", ""),
               Entry("f", 0o644, me, "/h/.hermes/state.db", ""),
               Entry("d", 0o755, me, "/h/.hermes/skills", ""),
               Entry("d", 0o755, me, "/h/.hermes/skills/x", ""),
               Entry("f", 0o644, me, "/h/.hermes/skills/x/SKILL.md", "")]
    facts = judge("/h/.hermes", entries, me, "test")
    assert facts.problems == [] and len(facts.shielded) == 4
    entries[0] = Entry("d", 0o755, me, "/h/.hermes", "")
    assert len(judge("/h/.hermes", entries, me, "test").problems) == 5


def test_real_home_modes_after_hermes_cli(tmp_path):
    """What the CLI leaves: a 0700 home (its _secure_dir) whatever the files' modes."""
    from aiaudit.lab.hermes_states import Hermes

    h = Hermes(tmp_path, tmp_path / ".hermes", tmp_path / "cli.log", {})
    h.set("model.provider", "custom")
    h("sessions", "list", check=False)
    assert os.stat(tmp_path / ".hermes").st_mode & 0o777 == 0o700


def test_product_links_to_its_catalog_entry_and_cites_its_defaults():
    from aiaudit.services import by_name

    entry = by_name(hermes.service_name())
    assert entry is not None and 8642 in entry.ports
    assert hermes.defaults()["platforms.api_server.extra.port"] == 8642
    text = hermes.DATA.path.read_text()
    for key in hermes.defaults():
        line = next(ln for ln in text.splitlines() if ln.startswith(f'"{key}"'))
        before = text[:text.index(line)].rsplit("\n\n", 1)[-1]
        assert ".py" in before, f"{key}: no source file cited above it"


def test_managed_scope_wins_per_leaf_as_hermes_merges_it(tmp_path):
    """hermes_cli/managed_scope.py: the managed config.yaml is deep-merged over the home's
    per leaf (siblings stay the user's), its .env beats the home's .env; an unreadable
    managed file is no "none": reading it raises, naming the path."""
    from aiaudit.status import CouldNotCheck

    home = hermes.parse_config("/h/.hermes", "terminal:\n  backend: local\n  cwd: /srv\n"
                               "sessions:\n  auto_prune: true\n",
                               "API_SERVER_HOST=127.0.0.1\n")
    managed = tmp_path / "etc-hermes"
    managed.mkdir()
    (managed / "config.yaml").write_text("terminal:\n  backend: docker\n"
                                         "sessions:\n  retention_days: 365\n")
    (managed / ".env").write_text("API_SERVER_HOST=0.0.0.0\n")
    m = hermes.read_managed(HostFS("local"), str(managed))
    cfg = hermes.overlay(home, m)
    assert hermes.terminal_backend(cfg).value == "docker"
    assert "managed scope" in hermes.terminal_backend(cfg).source
    assert cfg.raw("terminal.cwd") == "/srv"  # the user's sibling key stays
    ret = hermes.retention(cfg)
    assert ret.enabled and ret.days == 365
    assert cfg.env_var("API_SERVER_HOST").value == "0.0.0.0"
    assert hermes.overlay(home, hermes.read_managed(HostFS("local"), str(tmp_path / "no")))\
        is home  # no managed dir: the home as it is
    if os.geteuid() == 0:
        return  # root reads a 0000 file: the unreadable case needs another account
    (managed / ".env").chmod(0)
    with pytest.raises(CouldNotCheck, match=str(managed / ".env")):
        hermes.read_managed(HostFS("local"), str(managed))


def _variant_home(tmp_path: Path, name: str) -> Path:
    import json
    import tarfile

    with tarfile.open(FIX / "variants" / f"{name}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="tar")
    meta = json.loads((tmp_path / name / "variant.json").read_text())
    return tmp_path / name / meta["hermes_home"]


@pytest.mark.parametrize("name,backend,gap", [
    ("env-only-docker", "docker", None),
    ("env-only-docker-sock", "docker", "/var/run/docker.sock"),
    ("env-docker-terminal-section", "local", "'local': commands run on the host"),
])
def test_backend_left_in_dotenv_as_each_entry_point_takes_it(tmp_path, name, backend, gap):
    """`hermes config set terminal.backend docker` then `hermes config unset terminal` leaves
    TERMINAL_ENV (and TERMINAL_DOCKER_VOLUMES, escaped by python-dotenv rules) in .env
    only: the gateway and the CLI run docker; a later terminal section without backend
    makes cli.py export its default `local` over it (checked by importing cli /
    gateway.run on the recorded homes when they were built)."""
    import yaml

    home = _variant_home(tmp_path, name)
    text = (home / "config.yaml").read_text()
    cfg = ConfigFile("hermes", str(home / "config.yaml"), "yaml", yaml.safe_load(text))
    rt = hermes_runtime(cfg, None, (home / ".env").read_text())
    assert str(rt.facts["terminal.backend"]).startswith(f"terminal.backend={backend}")
    if backend == "local":  # the evidence says which entry point runs on the host
        assert "what the cli runs with (the other entry points: gateway docker, serve " \
            "docker)" in \
            rt.facts["terminal.backend"]
    assert rt.read["env_files"] == 1
    if gap is None:
        assert rt.gaps == []
    else:
        assert any(gap in g for g in rt.gaps), rt.gaps
    without_env = hermes_runtime(cfg, None, None)  # what SUP-05 read before: config only
    assert "local" in str(without_env.facts["terminal.backend"])


def test_exp01_intent_takes_each_homes_own_managed_scope():
    """EXP-01's intent reader gets the managed scope per home (the one HERMES_MANAGED_DIR
    names for that home's processes): a policy that pins the API server's host to
    loopback hardens only the home whose gateway loads it."""
    home_a, home_b = "/srv/a/.hermes", "/srv/b/.hermes"
    text = "platforms:\n  api_server:\n    enabled: true\n    extra:\n      host: 0.0.0.0\n" \
           "      key: ${API_SERVER_KEY}\n"
    files = {f"{home_a}/config.yaml": text, f"{home_b}/config.yaml": text}
    policy = hermes.Managed("/srv/policy", "platforms:\n  api_server:\n    extra:\n"
                            "      host: 127.0.0.1\n", None)
    none = hermes.Managed("/etc/hermes")
    intents = hermes_intents(files, lambda home: policy if home == home_a else none)
    hosts = {i.source.split("/.hermes")[0]: i.bind for i in intents}
    assert hosts == {"/srv/a": "127.0.0.1", "/srv/b": "0.0.0.0"}, intents


@pytest.mark.parametrize("name,serve", [("managed-hardens", "local"),
                                        ("managed-weakens", "docker")])
def test_serve_entry_point_is_judged_with_its_own_order(tmp_path, name, serve):
    """`hermes serve` / desktop / ACP keep a TERMINAL_ENV already in the environment over
    config.yaml (tools/terminal_tool.py _ensure_terminal_env_bridged): a managed docker
    pin confines the gateway and the CLI, but the TERMINAL_ENV=local the user's
    `hermes config set terminal.backend local` left in .env runs serve on the host (checked
    with Hermes' own load_hermes_dotenv + terminal_tool._get_env_config on the recorded
    home). SUP-05 fails naming the entry point."""
    import yaml

    home = _variant_home(tmp_path, name)
    etc = home.parents[1] / "etc" / "hermes"
    managed = hermes.read_managed(HostFS("local"), str(etc))
    cfg = ConfigFile("hermes", str(home / "config.yaml"), "yaml",
                     yaml.safe_load((home / "config.yaml").read_text()))
    rt = hermes_runtime(cfg, managed, (home / ".env").read_text())
    conf = hermes.overlay(hermes.parse_config(str(home), (home / "config.yaml").read_text(),
                                              (home / ".env").read_text()), managed)
    assert dict(hermes.terminal_backends(conf))["serve"].value == serve
    assert any("'local': commands run on the host" in g for g in rt.gaps), rt.gaps
    if serve == "local":
        assert "what the serve runs with" in rt.facts["terminal.backend"]


def test_managed_dir_in_the_homes_own_env_wins(tmp_path):
    """HERMES_MANAGED_DIR in <home>/.env: load_hermes_dotenv loads it override=True before
    get_managed_dir reads the variable, so it names the managed dir over the unit's; an
    empty value falls back to /etc/hermes; no .env, no say."""
    home = _variant_home(tmp_path, "managed-dir-env-over-unit")
    ctx = _ctx(tmp_path)
    directory, why = hermes.managed_dir_for(ctx, str(home))
    assert directory == "/etc/hermes-lax" and str(home / ".env") in why
    (home / ".env").write_text("HERMES_MANAGED_DIR=\n")
    assert hermes.managed_dir_for(_ctx(tmp_path), str(home))[0] == "/etc/hermes"
    (home / ".env").unlink()
    assert hermes._managed_dir_in_home_env(_ctx(tmp_path), str(home)) is None


def test_unit_terminal_env_reaches_only_the_entry_point_it_starts(tmp_path):
    """A unit's Environment=TERMINAL_ENV is the environment of the entry point its
    ExecStart runs, for its HERMES_HOME; the .env files are loaded over it
    (load_hermes_dotenv override=True), config.yaml's backend beats it for the gateway
    and the CLI, and `hermes serve` keeps it (_ensure_terminal_env_bridged): recorded
    unit-serve-env-local (config docker, no TERMINAL_ENV in .env)."""
    import yaml

    home = _variant_home(tmp_path, "unit-serve-env-local")
    settings = [("hermes-serve", "HERMES_HOME", str(home)),
                ("hermes-serve", "TERMINAL_ENV", "local"),
                ("hermes-serve", "ExecStart", "/opt/h/bin/hermes serve"),
                ("other", "HERMES_HOME", "/srv/else/.hermes"),
                ("other", "TERMINAL_ENV", "local"),
                ("other", "ExecStart", "/opt/h/bin/hermes gateway run")]
    unit_env = hermes.unit_terminal_envs(settings, str(home))
    assert list(unit_env) == ["serve"] and unit_env["serve"].value == "local"
    assert hermes.unit_entry("/usr/bin/python3 /opt/h/bin/hermes gateway run") == "gateway"
    assert hermes.unit_entry("/usr/bin/nginx -g daemon off;") is None
    assert hermes.unit_entry("/usr/bin/python3 -m hermes_cli.main serve") == "serve"
    cfg = ConfigFile("hermes", str(home / "config.yaml"), "yaml",
                     yaml.safe_load((home / "config.yaml").read_text()))
    env_text = (home / ".env").read_text()
    assert hermes_runtime(cfg, None, env_text).gaps == []
    rt = hermes_runtime(cfg, None, env_text, unit_env=unit_env)
    assert any("'local'" in g for g in rt.gaps) and "serve" in rt.facts["terminal.backend"]
    # the same unit under a .env that sets TERMINAL_ENV: the .env wins (override=True)
    assert hermes_runtime(cfg, None, env_text + "TERMINAL_ENV=docker\n",
                          unit_env=unit_env).gaps == []


def test_api_server_host_precedence_as_the_gateway_applies_it(tmp_path):
    """gateway/config.py _apply_env_overrides puts API_SERVER_HOST over extra.host only
    with API_SERVER_ENABLED/API_SERVER_KEY in the environment; api_server.py otherwise
    takes extra["host"] before the environment's host (recorded env-host-config-host,
    checked with Hermes' load_gateway_config); a gateway unit's environment counts below
    the .env files (recorded unit-api-host-public)."""
    home = _variant_home(tmp_path / "a", "env-host-config-host")
    cfg = hermes.parse_config(str(home), (home / "config.yaml").read_text(),
                              (home / ".env").read_text())
    assert hermes.api_server(cfg).host == "127.0.0.1"
    with_key = hermes.parse_config(str(home), (home / "config.yaml").read_text(),
                                   (home / ".env").read_text() + "API_SERVER_KEY=k\n")
    assert hermes.api_server(with_key).host == "0.0.0.0"
    home = _variant_home(tmp_path / "b", "unit-api-host-public")
    settings = [("hermes-gateway", "HERMES_HOME", str(home)),
                ("hermes-gateway", "API_SERVER_HOST", "0.0.0.0"),
                ("hermes-gateway", "ExecStart", "/opt/h/bin/hermes gateway run")]
    cfg = hermes.parse_config(str(home), (home / "config.yaml").read_text(),
                              (home / ".env").read_text())
    assert hermes.api_server(cfg).host == "127.0.0.1"
    intents = hermes_intents({f"{home}/config.yaml": (home / "config.yaml").read_text(),
                              f"{home}/.env": (home / ".env").read_text()}, None,
                             lambda h: hermes.unit_envs(settings, h, "gateway"))
    assert [i.bind for i in intents] == ["0.0.0.0"], intents
    assert "unit hermes-gateway" in intents[0].detail
