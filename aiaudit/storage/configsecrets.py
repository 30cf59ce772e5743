"""STO-04 facts: literal secrets in a deployment's `.env`, `secrets.json` and config files.

A value passes when it references a secret kept elsewhere (`${VAR}`, `*_FILE=/run/secrets/…`,
`op://`, `vault:`, AWS/GCP secret manager names); it fails when the file holds the secret
itself, found either by the secret rules or as a literal assigned to a secret-named key.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.hostfs import HostFS
from aiaudit.redact import mask
from aiaudit.status import CouldNotCheck
from aiaudit.storage.headers import read_head
from aiaudit.storage.layouts import BY_APP
from aiaudit.storage.secrets.engine import Finding, scan_bytes

CONFIG_LIMIT = 1024 * 1024
GENERIC_CONFIGS = (".env", "*.env", ".env.*", "secrets.json", "secrets.yaml", "config.json",
                   "config.yaml", "config.yml", "settings.json", "auth.json", "*.toml")
ASSIGNMENT = re.compile(
    r"""(?im)^[ \t]*(?:export[ \t]+)?["']?(?P<k>[A-Za-z0-9_.\-]*?(?:api[_\-]?key|apikey|token|"""
    r"""secret|password|passwd|credentials?|private[_\-]?key)s?)["']?[ \t]*[:=][ \t]*"""
    r"""["']?(?P<v>[^"'\s#,}\]]+)"""
)
REFERENCE = re.compile(
    r"(?i)^(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|/run/secrets/|/var/run/secrets/|file:|env:|"
    r"op://|vault:|secretref|arn:aws:secretsmanager|projects/[^/]+/secrets/|sm://|"
    r"\{\{.*\}\}|<[^>]+>|!secret\b|null$|none$|true$|false$)"
)
REFERENCE_KEY = re.compile(r"(?i)(?:_file|_path|_env|_ref|_name|_id|_url|_command|_cmd)$")


@dataclass
class ConfigFacts:
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    references: list[str] = field(default_factory=list)


def literal_assignments(text: str, location: str) -> tuple[list[Finding], list[str]]:
    """Secret-named keys with literal values (findings) and with references (fine)."""
    findings, references = [], []
    for m in ASSIGNMENT.finditer(text):
        key, value = m.group("k"), m.group("v")
        if REFERENCE_KEY.search(key) or REFERENCE.match(value):
            references.append(f"{posixpath.basename(location)}: {key}")
            continue
        if len(value) < 8 or value.isdigit():
            continue  # e.g. max_tokens: 64
        raw = value.encode()
        findings.append(Finding("literal-secret-assignment", location, m.start("v"),
                                f"{key}={mask(value)}", len(raw),
                                hashlib.sha256(raw).hexdigest()[:12]))
    return findings, references


def config_files(fs: HostFS, app: str, state_dir: str) -> list[str]:
    globs = list(GENERIC_CONFIGS)
    layout = BY_APP.get(app)
    if layout:
        globs += [g for g in layout.config_files if g not in globs]
    root = shlex.quote(state_dir.rstrip("/"))
    script = "; ".join(f"for f in {root}/{g}; do [ -f \"$f\" ] && printf '%s\\n' \"$f\"; done"
                       for g in globs)
    _, out, _ = fs.run(script + "; true", timeout=30)
    seen: list[str] = []
    for line in out.splitlines():
        path = posixpath.normpath(line)
        if line and path not in seen:
            seen.append(path)
    return seen


def config_facts(ctx: Any, app: str, state_dir: str) -> ConfigFacts:
    fs = HostFS.for_context(ctx)
    facts = ConfigFacts()
    for path in config_files(fs, app, state_dir):
        try:
            data = read_head(fs, path, CONFIG_LIMIT)
        except CouldNotCheck:
            continue
        facts.files.append(path)
        found = scan_bytes(data, path)
        literal, refs = literal_assignments(data.decode("utf-8", "replace"), path)
        covered = {f.offset for f in found}
        found += [f for f in literal if not any(abs(f.offset - o) < 4 for o in covered)]
        facts.findings.extend(found)
        facts.references.extend(refs)
    return facts
