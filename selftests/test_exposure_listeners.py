"""EXP-01 facts from real `ss -H -ltnp` output captured on the lab deployments."""

from pathlib import Path

from aiaudit.exposure.listeners import Listener, identify, parse_ss

FIXTURES = Path(__file__).parent / "fixtures" / "exposure"


def test_parse_real_ss_output():
    socks = parse_ss((FIXTURES / "ss_vulnerable.txt").read_text())
    endpoints = sorted((s.endpoint, s.process) for s in socks)
    assert endpoints == [("0.0.0.0:8000", "python"), ("0.0.0.0:8080", "python"),
                         ("10.77.1.2:22", "sshd")]
    assert all(s.pid for s in socks)


def test_parse_ipv6_zone_and_no_process_info():
    socks = parse_ss("LISTEN 0 4096 [::]:11434 [::]:*\n"
                     "LISTEN 0 4096 127.0.0.53%lo:53 0.0.0.0:* users:((\"r\",pid=9,fd=3))\n")
    assert (socks[0].address, socks[0].port, socks[0].pid) == ("::", 11434, None)
    assert socks[0].is_wildcard and not socks[0].is_loopback
    assert (socks[1].address, socks[1].is_loopback) == ("127.0.0.53", True)


def test_identify_by_process_before_port():
    llm = Listener("0.0.0.0", 9999, 1, "python",
                   "python -m llama_cpp.server --model m.gguf --host 0.0.0.0")
    ai = identify(llm, extra_ports=[])
    assert ai and ai.service == "llama-cpp-python server" and "llama_cpp" in ai.identified_by


def test_proxy_and_sshd_are_not_ai_services():
    assert identify(Listener("0.0.0.0", 443, 2, "caddy", "/usr/bin/caddy run"), []) is None
    assert identify(Listener("10.0.0.2", 22, 3, "sshd", "sshd: /usr/sbin/sshd -D"), []) is None


def test_configured_extra_port_names_the_module():
    agent = Listener("0.0.0.0", 8080, 4, "python", "python -m aiaudit.lab.agent --config a")
    ai = identify(agent, extra_ports=[8080])
    assert ai and ai.service == "aiaudit.lab.agent" and "extra_ports" in ai.identified_by
    assert identify(agent, extra_ports=[]) is None


def test_default_port_only_when_process_unknown():
    anon = Listener("0.0.0.0", 11434, None, "")
    ai = identify(anon, [])
    assert ai and ai.service == "Ollama" and "no process info" in ai.identified_by
