"""The ``audit.toml`` handed to the auditor for one deployment.

Secrets are only ever referenced by file path: the config ends up in reports and logs,
and an audit tool that copies live secrets around would itself be a finding.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path


def _q(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML escapes)."""
    return json.dumps(value)


def render(
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
) -> str:
    lines = [
        "# Written by `python -m aiaudit.lab up`; secrets are referenced by file only.",
        "[ssh]",
        f"config_file = {_q(str(ssh_config))}",
        f"identity_file = {_q(str(identity_file))}",
        "",
        "[canary]",
        f"value = {_q(canary)}",
        "",
        "[[endpoints]]",
        'name = "lab-agent"',
        f"url = {_q(f'http://{target_addr}:{agent_port}/v1/chat/completions')}",
        'api = "openai"',
    ]
    if agent_auth_file is not None:
        lines.append(f"auth_file = {_q(str(agent_auth_file))}")
    lines += [
        'user_field = "user"',
        "",
        "[[endpoints]]",
        'name = "llm-server"',
        f"url = {_q(f'http://{target_addr}:{llm_port}/v1/chat/completions')}",
        'api = "openai"',
        "",
    ]
    for name, path in user_token_files.items():
        lines += ["[[users]]", f"name = {_q(name)}", f"token_file = {_q(str(path))}", ""]
    lines += [
        "[paths]",
        f"state_dirs = [{', '.join(_q(str(p)) for p in state_dirs)}]",
        f"access_logs = [{', '.join(_q(str(p)) for p in access_logs)}]",
        "",
        "[exposure]",
        f"extra_ports = [{', '.join(str(p) for p in extra_ports)}]",
        "",
        "[policy]",
        f"retention_days = {retention_days}",
        "",
    ]
    text = "\n".join(lines)
    tomllib.loads(text)  # never hand the auditor a file it cannot parse
    return text
