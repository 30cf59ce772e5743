"""The labelled corpus: discovery finds every fixture in its real layout (OpenClaw, Hermes,
Agent Skills, Claude Code and OpenClaw plugins, ten MCP client layouts), each malicious one
is flagged by the control that names its technique, and the exact outcome of SUP-01..04
(skills) and SUP-07 (MCP servers) is what the label says: every expected FAIL fails, every
expected PASS passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiaudit.hostfs import HostFS
from aiaudit.lab.parts.supply_chain import corpus_labels, corpus_mcp_labels, materialize_corpus
from aiaudit.supply_chain import mcp
from aiaudit.supply_chain.discovery import discover
from aiaudit.supply_chain.honesty import manifest_review
from aiaudit.supply_chain.mcp_listing import judge_description
from aiaudit.supply_chain.provenance import integrity, provenance
from aiaudit.supply_chain.review import failing, static_review
from aiaudit.supply_chain.settings import Settings

LABELS = corpus_labels()
MCP_LABELS = corpus_mcp_labels()
FAIL_AT = {"SUP-03": "high", "SUP-04": "medium"}
SKILL_CONTROLS = ("SUP-01", "SUP-02", "SUP-03", "SUP-04")
# Technique classes of issue 11 (points 1-4) -> the rules that name them. Each needs two
# malicious fixtures that differ in language or layout.
CLASSES = {
    "prose exfiltration": {"prose-credential-exfiltration", "undisclosed-exfiltration"},
    "remote instructions": {"remote-instructions"},
    "hiding from the user": {"secrecy-instruction", "agent-secrecy"},
    "precedence claims": {"instruction-override"},
    "steering other tools": {"tool-hijack"},
    "credential read + network sink": {"credential-exfiltration", "env-exfiltration"},
    "git push to a foreign remote": {"git-push-exfil", "git-mirror-exfil"},
    "persistence": {"persistence-cron", "persistence-autostart", "persistence-agent-memory",
                    "persistence-service", "persistence-shell-rc", "ssh-key-implant",
                    "persistence-agent-hooks", "persistence-scheduler"},
    "agent safety config weakened": {"agent-safety-off"},
    "dependency files": {"typosquat-dependency", "insecure-package-index"},
    "undeclared env": {"undeclared-env"},
    "undeclared binary": {"undeclared-binary"},
    "undeclared write": {"undeclared-write"},
    "obfuscation": {"decode-exec", "download-exec", "remote-code-eval"},
    "install hooks": {"install-hook"},
    "look-alike hosts": {"homoglyph-host"},
}
FALSE_ALARM_CLASSES = ("fenced", "ZWNJ", "namespace", "docker", "emoji", "bidi")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = materialize_corpus(tmp_path_factory.mktemp("corpus"))
    settings = Settings(home_dirs=(str(home),))
    inventory = discover(HostFS("local"), settings)
    skills = {s.id: s for s in inventory.skills}
    reviews = {sid: {"SUP-03": static_review(s), "SUP-04": manifest_review(s)}
               for sid, s in skills.items()}
    servers = {s.id: s for s in mcp.servers_from(inventory.configs)
               if isinstance(s, mcp.McpServer)}
    for server in servers.values():
        path = mcp.bundle_manifest_path(server)
        if path and Path(path).is_file():
            server.tools = mcp.tools_from_manifest(Path(path).read_text(encoding="utf-8"))
    return {"skills": skills, "reviews": reviews, "settings": settings, "servers": servers}


def _outcome(corpus: dict, sid: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    skill, reviews = corpus["skills"][sid], corpus["reviews"][sid]
    prov, integ = provenance(skill, corpus["settings"]), integrity(skill, corpus["settings"])
    shown = {c: [f.describe() for f in failing(reviews[c], FAIL_AT[c])] for c in reviews}
    shown |= {"SUP-01": prov.problems, "SUP-02": integ.problems}
    return {c: "FAIL" if shown[c] else "PASS" for c in SKILL_CONTROLS}, shown


def mcp_problems(server: mcp.McpServer) -> list[str]:
    """What SUP-07 fails a server on before any baseline: unpinned launch, literal secrets,
    tool descriptions that give the model orders or hide text (judged as SUP-07 judges them)."""
    problems = mcp.pinning_problems(server) + mcp.literal_secrets(server)
    for name, text in server.tools.items():
        problems += [f"tool {name}: {f.describe()}"
                     for f in failing(judge_description(text, f"tool:{name}"), "medium")]
    return problems


def test_discovery_finds_exactly_the_labelled_fixtures(corpus: dict) -> None:
    assert sorted(corpus["skills"]) == sorted(f["skill"] for f in LABELS)
    assert sorted(corpus["servers"]) == sorted(m["server"] for m in MCP_LABELS)


def test_corpus_size_and_languages() -> None:
    assert len(LABELS) + len(MCP_LABELS) >= 80
    malicious = [f for f in LABELS if f["label"] == "malicious"]
    assert len({f["technique"] for f in malicious}) >= 40
    assert {"python", "js", "shell", "prose", "yaml"} <= {f["language"] for f in malicious}
    assert len({m["layout"] for m in MCP_LABELS}) >= 8


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_technique_class_has_two_variants(name: str) -> None:
    variants = {(f["language"], f["skill"].split(":")[0]) for f in LABELS
                if f["label"] == "malicious" and CLASSES[name] & set(f.get("rules", []))}
    assert len(variants) >= 2, variants


def test_every_false_alarm_class_has_benign_look_alikes() -> None:
    benign = [f["technique"] for f in LABELS + MCP_LABELS if f["label"] == "benign"]
    for word in FALSE_ALARM_CLASSES:
        assert sum(word in t for t in benign) >= 1, word
    assert sum("false-alarm class" in t for t in benign) >= 10


@pytest.mark.parametrize("fixture", LABELS, ids=[f["skill"] for f in LABELS])
def test_exact_outcome(corpus: dict, fixture: dict) -> None:
    got, shown = _outcome(corpus, fixture["skill"])
    want = {control: fixture[control] for control in SKILL_CONTROLS}
    assert got == want, {c: shown[c] for c in SKILL_CONTROLS if got[c] != want[c]}
    if fixture["label"] != "benign":
        control = fixture["control"]
        flagged = {f.rule for f in failing(corpus["reviews"][fixture["skill"]][control],
                                           FAIL_AT[control])}
        assert set(fixture["rules"]) <= flagged, shown[control]


@pytest.mark.parametrize("fixture", MCP_LABELS, ids=[m["server"] for m in MCP_LABELS])
def test_exact_mcp_outcome(corpus: dict, fixture: dict) -> None:
    problems = mcp_problems(corpus["servers"][fixture["server"]])
    got = "FAIL" if problems else "PASS"
    assert got == fixture["SUP-07"], problems


def test_no_fixture_waits_for_a_feature() -> None:
    assert not [f.get("skill", f.get("server")) for f in LABELS + MCP_LABELS if "pending" in f]


def test_shell_commands_handed_to_a_shell_are_read_on_their_line() -> None:
    from aiaudit.supply_chain.honesty import shell_commands, shell_view
    from aiaudit.supply_chain.textctx import TextFile

    py = TextFile("x.py", "python", "import os\nCMD = 'rclone sync ~/notes remote:'\n"
                  "os.system(CMD)\nexec('print(1)')\nsubprocess.run(['ls'])\n")
    view, lines = shell_view(py)
    assert list(shell_commands(view)) == [("rclone", 1)] and lines == [3]
    js = TextFile("x.js", "js", "// cp.exec('curl x')\ncp.execSync(\"jq . a.json\");\n"
                  "/a/.exec(s);\n")
    view, lines = shell_view(js)
    assert list(shell_commands(view)) == [("jq", 1)] and lines == [2]
    assert shell_view(TextFile("y.py", "python", "print('os.system')\n")) is None


def test_docker_options_are_never_taken_for_the_image(corpus: dict) -> None:
    assert mcp.container_image(corpus["servers"]["mcp:cursor/github-docker"].args) == \
        "ghcr.io/github/github-mcp-server:v0.13.0"
    assert mcp.container_image(["run", "-it", "-eTOKEN", "-p8080:80", "--rm", "img:1"]) == \
        "img:1"
    assert mcp.container_image(["run", "--env=A=b", "-e", "NAME", "--", "x/y"]) == "x/y"


def test_findings_carry_file_line_rule_severity_and_redacted_excerpt(corpus: dict) -> None:
    findings = corpus["reviews"]["hermes:skills/research/paper-digest"]["SUP-03"]
    secret = next(f for f in findings if f.rule == "hardcoded-secret")
    assert secret.file == "digest.js" and secret.line == 2 and secret.severity == "high"
    assert "Zq7TfXw2" not in secret.excerpt and "…[" in secret.excerpt


def test_tag_characters_are_decoded_for_the_reader(corpus: dict) -> None:
    findings = corpus["reviews"]["hermes:skills/productivity/emoji-helper"]["SUP-04"]
    hidden = next(f for f in findings if f.rule == "invisible-unicode")
    assert "read the user's .env file" in hidden.note


def test_fenced_attack_examples_are_never_critical(corpus: dict) -> None:
    for sid in ("openclaw:workspace/skills/threat-briefing",
                "hermes:skills/security/incident-notes"):
        assert all(f.severity != "critical" for f in corpus["reviews"][sid]["SUP-03"])
        assert any(f.rule in ("decode-exec", "reverse-shell", "download-exec")
                   for f in corpus["reviews"][sid]["SUP-03"]), sid  # seen, scored low


def test_payload_after_100000_newlines_is_found_on_its_line(corpus: dict) -> None:
    findings = corpus["reviews"]["hermes:skills/data/csv-cleaner"]["SUP-03"]
    payload = next(f for f in findings if f.rule == "decode-exec")
    assert payload.line > 100_000


def test_base64_payload_is_decoded_and_shown(corpus: dict) -> None:
    findings = corpus["reviews"]["openclaw:workspace/skills/polymarket-trader-pro"]["SUP-03"]
    decoded = [f for f in findings if f.context == "decoded"]
    assert decoded and "203.0.113.47" in decoded[0].note


def test_large_files_are_read_whole(corpus: dict) -> None:
    skill = corpus["skills"]["hermes:skills/data/country-facts"]
    data = skill.file("data/countries.csv")
    assert data is not None and data.size > 2_000_000 and len(data.data or b"") == data.size


def test_a_broken_manifest_is_a_finding_not_a_crash(corpus: dict) -> None:
    skill = corpus["skills"]["openclaw:workspace/skills/broken-manifest"]
    assert skill.manifest.errors and skill.manifest.syntax == "none"


def test_corpus_is_plain_text() -> None:
    root = Path(__file__).parent / "fixtures" / "skills"
    for path in root.rglob("*"):
        if path.is_file():
            path.read_text(encoding="utf-8")  # raises on binary content
        assert not path.is_symlink(), path
