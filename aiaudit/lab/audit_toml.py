"""The ``audit.toml`` handed to the auditor for one deployment.

Secrets are only ever referenced by file path: the config ends up in reports and logs,
and an audit tool that copies live secrets around would itself be a finding.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any


def _q(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(value)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str | Path):
        return _q(str(value))
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to audit.toml")


def dumps(doc: dict[str, Any]) -> str:
    """A TOML writer for what audit.toml holds: tables and arrays of flat tables."""
    lines = ["# Written by `python -m aiaudit.lab up`; secrets are referenced by file only."]
    for section, body in doc.items():
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            for key, value in table.items():
                if value is not None:
                    lines.append(f"{key} = {_value(value)}")
            lines.append("")
    text = "\n".join(lines)
    tomllib.loads(text)  # never hand the auditor a file it cannot parse
    return text


def build(
    *,
    ssh_config: Path,
    identity_file: Path,
    canary: str,
    target_addr: str,
    agent_port: int,
    llm_port: int,
    agent_auth_file: Path | None,
    user_token_files: dict[str, Path],
    state_dirs: list[Path],
    access_logs: list[Path],
    extra_ports: list[int],
    retention_days: int = 90,
) -> dict[str, Any]:
    """The base deployment's audit.toml as a document that lab parts can extend."""
    agent: dict[str, Any] = {
        "name": "lab-agent",
        "url": f"http://{target_addr}:{agent_port}/v1/chat/completions",
        "api": "openai",
        "auth_file": str(agent_auth_file) if agent_auth_file is not None else None,
        "user_field": "user",
    }
    return {
        "ssh": {"config_file": str(ssh_config), "identity_file": str(identity_file)},
        "canary": {"value": canary},
        "endpoints": [
            agent,
            {"name": "llm-server", "api": "openai",
             "url": f"http://{target_addr}:{llm_port}/v1/chat/completions"},
        ],
        "users": [{"name": n, "token_file": str(p)} for n, p in user_token_files.items()],
        "paths": {"state_dirs": [str(p) for p in state_dirs],
                  "access_logs": [str(p) for p in access_logs]},
        "exposure": {"extra_ports": list(extra_ports)},
        "policy": {"retention_days": retention_days},
    }


def render(**kwargs: Any) -> str:
    return dumps(build(**kwargs))
