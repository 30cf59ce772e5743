"""SUP-07's approved baseline: what every MCP server and skill looked like when a person
approved it, kept between runs. Any change since approval fails with the diff.

The file is JSON (`--approve-baseline` writes it; `[supply_chain] baseline_file` or
`<report-dir>/supply-chain-baseline.json` names it). It stores hashes and launch
definitions, never environment or header values.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from aiaudit.supply_chain.mcp import McpServer, description_digest
from aiaudit.supply_chain.model import Skill

SCHEMA = "aiaudit-supply-chain-baseline/1"
DEFAULT_NAME = "supply-chain-baseline.json"
_SHOWN = 300  # characters of a tool description kept so a diff can show what changed


def baseline_path(configured: str | None, report_dir: str) -> Path:
    return Path(configured) if configured else Path(report_dir) / DEFAULT_NAME


def state_of(subject: McpServer | Skill) -> tuple[str, dict[str, Any]]:
    """(section, state) of one subject as the baseline records it."""
    if isinstance(subject, McpServer):
        return "mcp", {
            "definition": subject.definition(),
            "tools": {n: description_digest(d) for n, d in sorted(subject.tools.items())},
            "tool_text": {n: d[:_SHOWN] for n, d in sorted(subject.tools.items())},
        }
    files = {}
    for f in subject.files:
        if f.kind == "file":
            files[f.path] = f.sha256 if f.data is not None else f"unread:{f.size}"
        elif f.kind == "symlink":
            files[f.path] = f"symlink:{f.linkname}"
    return "skills", {"content_sha256": subject.content_sha256,
                      "files": dict(sorted(files.items()))}


def load(path: Path) -> dict[str, Any] | None:
    """The stored baseline, None when there is none; ValueError when it is unusable."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"baseline {path} cannot be read: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"baseline {path} is not an aiaudit supply-chain baseline")
    return doc


def approve(path: Path, subject_id: str, subject: McpServer | Skill) -> None:
    """Record the subject's current state as approved (merged into the file, locked)."""
    section, state = state_of(subject)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = load(path) or {"schema": SCHEMA, "mcp": {}, "skills": {}}
        doc.setdefault(section, {})[subject_id] = dict(
            state, approved_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _diff_maps(label: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append(f"{label} {key}: removed")
        elif key not in old:
            out.append(f"{label} {key}: added")
        elif old[key] != new[key]:
            out.append(f"{label} {key}: changed")
    return out


_EXTRA_KEYS = ("#annotations", "#input", "#out")  # read since issue 11's second pass


def _unread_before(line: str, old_tools: dict[str, str]) -> bool:
    """An `added` entry of a kind the baseline's suite did not read yet (a tool's
    annotations or output schema, the server's instructions): not a change of the server."""
    if not line.endswith(": added"):
        return False
    key = line.removeprefix("tool ").rsplit(":", 1)[0]
    kind = next((k for k in _EXTRA_KEYS if k in key), "instructions" if key == "instructions"
                else None)
    return kind is not None and not any(kind in k for k in old_tools)


def changes(approved: dict[str, Any], subject: McpServer | Skill) -> list[str]:
    """What differs from the approved state, one readable line per difference."""
    _, now = state_of(subject)
    if isinstance(subject, McpServer):
        out = []
        old_def, new_def = approved.get("definition", {}), now["definition"]
        for key in sorted(set(old_def) | set(new_def)):
            if old_def.get(key) != new_def.get(key):
                out.append(f"launch {key}: {old_def.get(key)!r} -> {new_def.get(key)!r}")
        old_tools = approved.get("tools", {})
        out += [line for line in _diff_maps("tool", old_tools, now["tools"])
                if not _unread_before(line, old_tools)]
        for line in list(out):
            name = line.removeprefix("tool ").rsplit(":", 1)[0]  # keys hold ':' (prompt:X)
            if line.endswith(": changed"):
                before = approved.get("tool_text", {}).get(name, "")
                after = now["tool_text"].get(name, "")
                out[out.index(line)] = f"tool {name} description: {before!r} -> {after!r}"
        return out
    return _diff_maps("file", approved.get("files", {}), now["files"])
