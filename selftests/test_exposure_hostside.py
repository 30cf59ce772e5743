"""Host-side exposure facts from real tool output (nft -j / iptables-save captured in a
scratch namespace) and from the lab's real configuration files."""

import json
from pathlib import Path

from aiaudit.exposure.hostside import (
    Firewall,
    hermes_intents,
    openclaw_intent,
    parse_iptables,
    parse_nft,
    split_files,
    unit_intents,
)

FW = Path(__file__).parent / "fixtures" / "exposure" / "firewall"


def nft(name):
    fw = Firewall()
    parse_nft(json.loads((FW / name).read_text()), fw)
    return fw


def test_nft_default_drop_admits_only_ssh_and_proxy():
    fw = nft("nft_hardened.json")
    assert fw.default_deny and "policy drop" in fw.sources[0]
    assert fw.open_ports == {22, 443} and not fw.accept_all


def test_empty_rule_set_is_not_default_deny():
    fw = nft("nft_empty.json")
    parse_iptables((FW / "iptables_save_empty.txt").read_text(), fw)
    assert not fw.default_deny and not fw.open_ports


def test_iptables_drop_policy_with_an_open_ollama_port():
    fw = Firewall()
    parse_iptables((FW / "iptables_save_drop_open_ollama.txt").read_text(), fw)
    assert fw.default_deny and fw.open_ports == {22, 443, 11434}
    both = nft("nft_from_iptables_rules.json")  # the same rules as nftables shows them
    assert both.default_deny and 22 in both.open_ports


def test_unconditional_accept_is_reported():
    fw = Firewall()
    parse_iptables("*filter\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n", fw)
    assert fw.accept_all


def test_hermes_env_as_the_lab_writes_it():
    [vuln] = hermes_intents({"/x/.env": "OPENAI_API_KEY=sk-x\nAPI_SERVER_ENABLED=true\n"
                             "API_SERVER_HOST=0.0.0.0\nAPI_SERVER_PORT=8080\n"})
    assert not vuln.loopback_only and vuln.auth.startswith("none in the home's files")
    [hard] = hermes_intents({"/x/.env": "API_SERVER_ENABLED=true\nAPI_SERVER_HOST=127.0.0.1\n"})
    assert hard.loopback_only
    assert hermes_intents({"/x/.env": "API_SERVER_HOST=0.0.0.0\n"}) == []  # not enabled


def test_openclaw_bind_and_auth_mode():
    lan = openclaw_intent("/root/.openclaw/openclaw.json",
                          '{\n  // JSON5 comment\n  "gateway": {"bind": "lan", "auth": '
                          '{"mode": "none"},},\n}')
    assert lan and lan.bind == "0.0.0.0" and not lan.loopback_only and lan.auth == "none"
    default = openclaw_intent("/root/.openclaw/openclaw.json", '{"gateway": {"port": 18789}}')
    assert default and default.loopback_only
    # src/gateway/auth-resolve.ts: an unset auth mode is "token", never "none"
    assert default.auth == "token"
    # src/gateway/net.ts: in a container an unset bind is "auto", which listens on 0.0.0.0
    boxed = openclaw_intent("/root/.openclaw/openclaw.json", "{}", in_container=True)
    assert boxed and boxed.bind == "0.0.0.0" and not boxed.loopback_only
    custom = openclaw_intent("/x/openclaw.json", '{gateway: {bind: "custom", '
                             'customBindHost: "not-an-ip"}}')
    assert custom and custom.bind == "0.0.0.0"  # OpenClaw falls back to all interfaces
    assert openclaw_intent("/x/openclaw.json", "{broken") is None


def test_systemd_units_ollama_vllm_llama():
    ollama = unit_intents("/etc/systemd/system/ollama.service.d/override.conf",
                          '[Service]\nEnvironment="OLLAMA_HOST=0.0.0.0:11434"\n'
                          'Environment="OLLAMA_ORIGINS=*"\n')
    assert len(ollama) == 1 and ollama[0].bind == "0.0.0.0" and "ORIGINS=*" in ollama[0].detail
    vllm = unit_intents("/etc/systemd/system/vllm.service",
                        "[Service]\nExecStart=/opt/venv/bin/vllm serve Qwen/Qwen3-8B\n")
    assert vllm[0].service == "vLLM" and vllm[0].bind == "0.0.0.0"  # vLLM's default
    assert vllm[0].auth == "no API key"
    llama = unit_intents("/etc/systemd/system/llama.service",
                         "[Service]\nExecStart=/usr/local/bin/llama-server -m m.gguf "
                         "--host 127.0.0.1 --api-key-file /etc/llama/key\n")
    assert llama[0].loopback_only and llama[0].auth == "API key set"


def test_n8n_unit_intent_is_its_listen_address_or_every_address():
    """n8n 2.41.1 listens on N8N_LISTEN_ADDRESS, default `::` (@n8n/config GlobalConfig):
    a unit that starts it without the setting is configured for every address."""
    unit = "/etc/systemd/system/n8n.service"
    [open_] = unit_intents(unit, "[Service]\nExecStart=/usr/bin/n8n start\n")
    assert open_.service == "n8n" and open_.bind == "::" and not open_.loopback_only
    assert "N8N_LISTEN_ADDRESS unset" in open_.detail
    [local] = unit_intents(unit, "[Service]\nEnvironment=N8N_LISTEN_ADDRESS=127.0.0.1\n"
                           "ExecStart=/usr/bin/node /usr/lib/node_modules/n8n/bin/n8n\n")
    assert local.loopback_only and local.bind == "127.0.0.1"
    [drop_in] = unit_intents(unit + ".d/bind.conf",
                             '[Service]\nEnvironment="N8N_LISTEN_ADDRESS=0.0.0.0"\n')
    assert drop_in.bind == "0.0.0.0"
    assert unit_intents(unit, "[Service]\nExecStart=/usr/bin/n8n worker\n") == []


def test_split_files():
    out = "==> /a <==\nx\ny\n==> /b <==\nz\n"
    assert split_files(out) == {"/a": "x\ny\n", "/b": "z\n"}


def test_dump_script_reads_only_units_that_name_an_ai_server(tmp_path):
    """One grep -l over every globbed unit (a grep per file cost seconds over ~250 units):
    the matching ones are dumped whole, in glob order, names with spaces included; others,
    directories and globs matching nothing are not."""
    import subprocess

    from aiaudit.exposure.hostside import _dump_script, split_files

    (tmp_path / "a.service").write_text("[Service]\nExecStart=/usr/bin/ollama serve\n")
    (tmp_path / "b.service").write_text("[Service]\nExecStart=/bin/true\n")
    (tmp_path / "c.service").mkdir()
    (tmp_path / "d d.service").write_text("Environment=OLLAMA_HOST=0.0.0.0\n")
    whole = tmp_path / "whole.conf"
    whole.write_text("read = whole\n")
    script = _dump_script([str(whole)], [f"{tmp_path}/*.service", f"{tmp_path}/none/*.conf"])
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    files = split_files(out.stdout)
    assert list(files) == [str(whole), str(tmp_path / "a.service"), str(tmp_path / "d d.service")]
    assert "ollama serve" in files[str(tmp_path / "a.service")] and out.returncode == 0
    no_globs = subprocess.run(["sh", "-c", _dump_script([], [])], capture_output=True, text=True,
                              timeout=5, stdin=subprocess.DEVNULL)
    assert no_globs.stdout == "" and no_globs.returncode == 0
