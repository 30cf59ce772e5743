"""SUP-07: MCP servers are pinned, hold no literal secrets, and MCP tool descriptions and
skills are unchanged since the approved baseline."""

import pytest

from aiaudit.status import could_not_check, manual
from aiaudit.supply_chain import baseline
from aiaudit.supply_chain.mcp import McpConfigProblem, McpServer, literal_secrets, pinning_problems
from aiaudit.supply_chain.mcp_listing import judge_description
from aiaudit.supply_chain.review import failing
from aiaudit.supply_chain.settings import settings_for


@pytest.mark.control("SUP-07")
@pytest.mark.resources(subject="supply_chain_baselined")
def test_mcp_and_skills_are_pinned_and_unchanged_since_approval(subject, audit, evidence,
                                                                 pytestconfig):
    if isinstance(subject, McpConfigProblem):
        could_not_check(subject.error)
    problems = []
    if isinstance(subject, McpServer):
        evidence.add("config", f"{subject.client}: {subject.config_path}")
        evidence.add("launch", subject.url or " ".join([subject.command, *subject.args]))
        if subject.enabled is False:
            evidence.add("enabled", "false in the config: not started now, but the launch and "
                         "its secrets are still there to be enabled")
        problems += pinning_problems(subject)
        problems += [f"literal secret {s}" for s in literal_secrets(subject)]
        if getattr(subject, "list_error", None):
            could_not_check(f"listing the server's tools failed: {subject.list_error}")
        for name, text in subject.tools.items():
            problems += [f"tool {name}: {f.describe()}"
                         for f in failing(judge_description(text, f"tool:{name}"), "medium")]
        evidence.add("tool descriptions", f"{len(subject.tools)} from "
                     f"{subject.tools_source or 'no bundle manifest'}")
        evidence.read(config_entries=1, tool_descriptions=len(subject.tools))
    else:
        evidence.read(files=sum(1 for f in subject.files if f.data is not None))
        evidence.unreadable(subject.denied)
    path = baseline.baseline_path(settings_for(audit).baseline_file,
                                  pytestconfig.getoption("report_dir"))
    evidence.add("baseline", str(path))
    if pytestconfig.getoption("approve_baseline"):
        baseline.approve(path, subject.id, subject)
        evidence.add("approved", "recorded as approved in this run (--approve-baseline)")
    else:
        try:
            doc = baseline.load(path)
        except ValueError as exc:
            could_not_check(str(exc))
        section, _ = baseline.state_of(subject)
        if doc is None and not problems:
            manual(f"no approved baseline at {path}: review the MCP servers and skills, then "
                   "run with --approve-baseline")
        approved = (doc or {}).get(section, {}).get(subject.id)
        if doc is not None and approved is None:
            problems.append("not in the approved baseline: added since approval")
        elif approved is not None:
            evidence.add("approved at", approved.get("approved_at", "?"))
            diff = baseline.changes(approved, subject)
            if diff:
                evidence.add("changed since approval", "\n".join(diff))
                problems.append("changed since approval: " + "; ".join(diff[:4]))
    assert not problems, "; ".join(problems)
    if not isinstance(subject, McpServer) and subject.denied:
        could_not_check("; ".join(subject.denied[:3]))
