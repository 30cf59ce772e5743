"""Docker publications on recorded real answers of the Docker lab (docker.io 20.10 from
Debian; selftests/record_docker_fixtures.py re-records them): port bindings from
`docker inspect`, DNAT rules and DOCKER-USER from `iptables-save`, docker-proxy argv."""

from __future__ import annotations

import json
from pathlib import Path

from aiaudit.exposure import dockercases, dockerhost
from aiaudit.exposure.listeners import Listener, parse_ss

FIX = Path(__file__).parent / "fixtures" / "exposure" / "docker"


def _facts() -> dockerhost.DockerFacts:
    rules = (FIX / "iptables-save.txt").read_text()
    return dockerhost.DockerFacts(
        containers=dockerhost.parse_inspect((FIX / "inspect.json").read_text()),
        dnat=dockerhost.parse_dnat(rules), user_rules=dockerhost.docker_user_rules(rules),
        iptables_read=True)


def _proxies() -> list[Listener]:
    cmd = dict(line.split("\t", 1) for line in
               (FIX / "docker-proxy-cmdlines.txt").read_text().splitlines())
    return [Listener(s.address, s.port, s.pid, s.process, cmd.get(str(s.pid), "").strip())
            for s in parse_ss((FIX / "ss.txt").read_text()) if s.process == "docker-proxy"]


def test_inspect_gives_publications_images_and_addresses():
    facts = _facts()
    open_, hard = facts.container("aa-llm-open9"), facts.container("aa-llm-hard9")
    assert open_.image == hard.image == "aiaudit-lab/bookworm-python3:1"
    assert open_.ips == ("10.77.94.2",) and hard.ips == ("10.77.94.3",)
    assert "llama_cpp.server" in open_.command
    assert sorted(p.binding for p in open_.publications) == [
        "0.0.0.0:5001 -> 5001/tcp", "[::]:5001 -> 5001/tcp"]
    assert all(p.all_interfaces and not p.loopback for p in open_.publications)
    [pub] = hard.publications
    assert pub.binding == "127.0.0.1:5002 -> 5001/tcp" and pub.loopback


def test_stopped_container_falls_back_to_port_bindings():
    doc = json.loads((FIX / "inspect.json").read_text())[0]
    doc["NetworkSettings"]["Ports"] = {}
    [container] = dockerhost.parse_inspect(json.dumps([doc]))
    assert [(p.host_ip, p.host_port) for p in container.publications] == [("", 5001)]
    assert container.publications[0].all_interfaces


def test_dnat_rules_map_host_ports_to_containers():
    facts = _facts()
    by_port = {(d.host_ip, d.host_port): (d.dest_ip, d.dest_port) for d in facts.dnat}
    assert by_port == {("", 5001): ("10.77.94.2", 5001),
                       ("127.0.0.1", 5002): ("10.77.94.3", 5001)}
    hard = facts.container("aa-llm-hard9").publications[0]
    assert [d.rule for d in facts.dnat_for(hard)] == [
        "-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 5002 -j DNAT "
        "--to-destination 10.77.94.3:5001"]


def test_docker_proxy_argv_names_the_container_address():
    targets = sorted(dockerhost.proxy_target(p.cmdline) for p in _proxies())
    assert targets == [("0.0.0.0", 5001, "10.77.94.2", 5001), ("127.0.0.1", 5002,
                                                               "10.77.94.3", 5001),
                       ("::", 5001, "10.77.94.2", 5001)]
    assert dockerhost.proxy_target("/usr/bin/python3 -m llama_cpp.server") is None


def test_publications_fail_on_all_interfaces_and_pass_on_loopback():
    facts = _facts()
    found = dockercases.ai_publications(facts, [], {}, _proxies())
    assert {f.service for f in found} == {"llama-cpp-python server"}
    cases = {b.case_id: b for b in dockercases.publication_bindings(facts, found, _proxies())}
    assert {k: b.ok for k, b in cases.items()} == {
        "docker:aa-llm-open9:0.0.0.0:5001 -> 5001/tcp": False,
        "docker:aa-llm-open9:[::]:5001 -> 5001/tcp": False,
        "docker:aa-llm-hard9:127.0.0.1:5002 -> 5001/tcp": True}
    open_ = cases["docker:aa-llm-open9:0.0.0.0:5001 -> 5001/tcp"]
    assert "all interfaces" in open_.problem
    assert "pid 8128" in open_.evidence["docker-proxy"]
    assert "10.77.94.2:5001" in open_.evidence["DNAT rule"]
    assert open_.evidence["image"] == "aiaudit-lab/bookworm-python3:1"


def test_unknown_docker_proxy_is_still_a_case_when_docker_cannot_be_read():
    found = dockercases.ai_publications(dockerhost.DockerFacts(), [], {5001: "KoboldCpp"},
                                        _proxies())
    # without the container's command only its port identifies it (KoboldCpp's default)
    assert sorted((f.pub.container, f.pub.binding, f.service) for f in found) == [
        ("(container at 10.77.94.2)", "0.0.0.0:5001 -> 5001/tcp", "KoboldCpp"),
        ("(container at 10.77.94.2)", "[::]:5001 -> 5001/tcp", "KoboldCpp"),
        ("(container at 10.77.94.3)", "127.0.0.1:5002 -> 5001/tcp", "KoboldCpp")]
    assert all("default port 5001" in f.identified_by for f in found)


def test_docker_user_decides_for_forwarded_ports():
    facts = _facts()
    verdicts = {f.case_id: f.verdict for f in
                dockercases.filters(facts, dockercases.ai_publications(facts, [], {}))}
    hard = verdicts["docker:aa-llm-hard9:127.0.0.1:5002 -> 5001/tcp"]
    assert hard.dropped and hard.rule == "-A DOCKER-USER -d 10.77.94.3/32 -i aa-dock9-t -j DROP"
    assert hard.rules_read == 2
    for key in ("docker:aa-llm-open9:0.0.0.0:5001 -> 5001/tcp",
                "docker:aa-llm-open9:[::]:5001 -> 5001/tcp"):
        assert not verdicts[key].dropped and verdicts[key].rule == "-A DOCKER-USER -j RETURN"


def test_docker_user_rule_shapes():
    pub = dockerhost.Publication("c", "i", "172.17.0.2", 11434, "tcp", "0.0.0.0", 11434)

    def verdict(*rules: str) -> bool:
        return dockerhost.docker_user_verdict(list(rules), pub).dropped

    assert verdict("-A DOCKER-USER -i eth0 -j DROP")
    assert verdict("-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 11434 -j REJECT")
    assert verdict("-A DOCKER-USER -p tcp -m tcp --dport 11434 -j DROP")
    assert not verdict("-A DOCKER-USER -p tcp -m tcp --dport 8080 -j DROP")
    assert not verdict("-A DOCKER-USER -i docker0 -j DROP")  # from the containers
    assert not verdict("-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    assert not verdict("-A DOCKER-USER -s 10.0.0.0/8 -j DROP")  # part of the network only
    assert not verdict("-A DOCKER-USER -j ACCEPT", "-A DOCKER-USER -j DROP")
    assert not dockerhost.docker_user_verdict(None, pub).dropped


def test_probe_plan_reaches_published_ports_and_container_addresses():
    facts = _facts()
    assert dockercases.probe_plan(facts, "local", "127.0.0.1") == {"127.0.0.1": [5001, 5001,
                                                                                 5002]}
    assert dockercases.probe_plan(facts, "ssh", "10.0.0.5") == {"10.0.0.5": [5001, 5001]}
    only = dockerhost.DockerFacts(containers=[facts.container("aa-llm-hard9")])
    assert dockercases.probe_plan(only, "docker", "aa-llm-hard9") == {
        "127.0.0.1": [5002], "10.77.94.3": [5001]}
