"""--target parsing and the audit config loader (errors name file, line and key)."""

import datetime as dt

import pytest

from aiaudit.config import ConfigError, load_config
from aiaudit.redact import redact
from aiaudit.target import TargetError, parse_target


@pytest.mark.parametrize("spec, kind, address, host_access", [
    ("local", "local", "127.0.0.1", True),
    ("ssh://admin@staging:2222", "ssh", "staging", True),
    ("ssh://10.0.0.5", "ssh", "10.0.0.5", True),
    ("docker://ollama-1", "docker", "ollama-1", True),
    ("192.168.1.20", "network", "192.168.1.20", False),
    ("gpu-box.internal", "network", "gpu-box.internal", False),
])
def test_valid_targets(spec, kind, address, host_access):
    target = parse_target(spec)
    assert (target.kind, target.address, target.host_access) == (kind, address, host_access)


def test_ssh_spec_round_trips_to_testinfra():
    assert parse_target("ssh://admin@staging:2222").testinfra_spec() == "ssh://admin@staging:2222"
    assert parse_target("10.0.0.1").testinfra_spec() is None


@pytest.mark.parametrize("spec, words", [
    (None, "required"), ("", "required"), ("ssh://", "needs a host"),
    ("ssh://a@", "needs a host"), ("ssh://h:70000", "invalid port"),
    ("http://x", "unsupported scheme"), ("two words", "not a host name"),
    ("docker://", "container name"), ("<script>", "not a host name"),
])
def test_invalid_targets_give_one_line_usage(spec, words):
    with pytest.raises(TargetError) as err:
        parse_target(spec)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_slug_is_file_safe():
    assert parse_target("ssh://root@10.77.1.2:22").slug == "ssh-root-10.77.1.2-22"


def write(tmp_path, text):
    path = tmp_path / "audit.toml"
    path.write_text(text)
    return str(path)


def test_full_config_loads_with_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_KEY", "s3cret-value-123")
    secret_file = tmp_path / "tok"
    secret_file.write_text("bob-token-abcdef\n")
    cfg = load_config(write(tmp_path, f"""
[ssh]
config_file = "/etc/ssh_config"

[canary]
value = "CANARY-1"

[[endpoints]]
name = "chat"
url = "http://10.0.0.2:8080/v1/chat/completions"
auth_env = "LAB_KEY"

[[users]]
name = "bob"
token_file = "{secret_file}"

[policy]
retention_days = 60

[[waivers]]
control = "EXP-04"
justification = "firewall managed upstream"
expires = 2099-01-01
"""))
    assert cfg.policy["retention_days"] == 60 and cfg.policy["backup_max_age_days"] == 7
    assert cfg.endpoints[0].auth_headers() == {"Authorization": "Bearer s3cret-value-123"}
    assert cfg.users[0].credential.value() == "bob-token-abcdef"
    assert cfg.waiver_for("EXP-04").valid(dt.date(2026, 1, 1))
    # secrets the config resolved are redacted from any output from now on
    assert "s3cret-value-123" not in redact("header was Bearer s3cret-value-123")
    assert "bob-token-abcdef" not in redact("token bob-token-abcdef")


@pytest.mark.parametrize("text, expected", [
    ('[policy]\nretention_days = "ninety"\n', ":2: policy.retention_days: expected int"),
    ("[policy\n", "invalid TOML"),
    ('[[endpoints]]\nname = "x"\nurl = "http://a"\napi_key = "sk-1"\n',
     ":4: endpoints.api_key: literal secrets are not allowed"),
    ('[[endpoints]]\nname = "x"\n', "endpoints.url: is required"),
    ('[[endpoints]]\nname = "x"\nurl = "ftp://a"\n', ":3: endpoints.url: must be an http(s) URL"),
    ('[[endpoints]]\nname = "x"\nurl = "http://a"\napi = "soap"\n', ":4: endpoints.api"),
    ("[colour]\nx = 1\n", ":1: colour: unknown section"),
    ('[policy]\nretention_dayz = 5\n', ":2: policy.retention_dayz: unknown key"),
    ('[[waivers]]\ncontrol = "EXP-01"\njustification = "j"\nexpires = "soon"\n',
     ":4: waivers.expires: must be a date"),
    ("[exposure]\nextra_ports = [0]\n", "exposure.extra_ports"),
    # area sections are validated at load time by the areas' own parsers
    ('[storage]\nbackup_dir = ["/b"]\n', ":2: storage.backup_dir: unknown key"),
    ('[storage]\nsearch_homes = 1\n', ":2: storage.search_homes: expected bool"),
    ('[supply_chain]\nhome_dir = ["/h"]\n', ":2: supply_chain.home_dir: unknown key"),
    ('[supply_chain]\n\nallowlist = ["too few"]\n', ":3: supply_chain.allowlist"),
    ('[injection]\natempts = 5\n', ":2: injection.atempts: unknown key"),
    # [deployment] (aiaudit.scope): one usage line naming the key
    ('[deployment]\nhome = ["/h"]\n', ":2: deployment.home: unknown key"),
    ('[deployment]\n\nhomes = ["relative/dir"]\n', ":3: deployment.homes: must be a list of "
     "absolute paths"),
    ('[deployment]\nports = [70000]\n', ":2: deployment.ports: must be a list of port numbers"),
    ('[deployment]\nunits = ["a b"]\n', ":2: deployment.units: must be a list of systemd"),
    ('[deployment]\nhomes = []\n', "deployment.homes: the section names nothing"),
    ('[injection]\nmax_tokens = 0\n', ":2: injection.max_tokens: must be positive"),
])
def test_bad_config_names_line_and_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(path)
    assert expected in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read audit config"):
        load_config(str(tmp_path / "nope.toml"))
