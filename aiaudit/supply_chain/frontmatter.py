"""SKILL.md frontmatter as OpenClaw, Hermes and Agent Skills read it.

OpenClaw parses the block as YAML, falls back to a line parser, and reads `metadata` as
JSON5 (trailing commas, comments, unquoted keys); skills in the wild use all of these. A
manifest that none of the parsers accept is reported as a finding, never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from aiaudit.products.openclaw import loads as loads_json5  # the one JSON5 reader

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 20x faster
MAX_FRONTMATTER_CHARS = 256 * 1024  # YAML aliases can expand; real manifests are small
_OPEN = re.compile(r"^---[^\S\n]*\n")
_CLOSE = re.compile(r"(?:^|\n)---[^\S\n]*(?:\n|$)")
_TOP_KEY = re.compile(r"^([A-Za-z_][\w.-]*):[^\S\n]*(.*)$")
MANIFEST_KEYS = ("openclaw", "clawdbot", "clawdis")  # current first, then legacy names

@dataclass
class Manifest:
    """A parsed SKILL.md: frontmatter fields, body and where the body starts."""

    fields: dict[str, Any]
    body: str
    body_line: int  # 1-based line of the body's first line in the file
    syntax: str  # "yaml" | "yaml+json5" | "lines+json5" | "lines" | "none"
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        value = self.fields.get("name")
        return value if isinstance(value, str) else ""

    @property
    def description(self) -> str:
        value = self.fields.get("description")
        return value if isinstance(value, str) else ""

    def metadata(self) -> dict[str, Any]:
        value = self.fields.get("metadata")
        return value if isinstance(value, dict) else {}

    def openclaw(self) -> dict[str, Any]:
        """`metadata.openclaw` (or a legacy alias)."""
        meta = self.metadata()
        for key in MANIFEST_KEYS:
            if isinstance(meta.get(key), dict):
                return meta[key]
        return {}

    def hermes(self) -> dict[str, Any]:
        value = self.metadata().get("hermes")
        return value if isinstance(value, dict) else {}

    def declared_env(self) -> set[str]:
        """Environment variables the manifest declares (OpenClaw, Hermes, envVars)."""
        oc = self.openclaw()
        names: set[str] = set()
        requires = oc.get("requires") if isinstance(oc.get("requires"), dict) else {}
        names |= _names(requires.get("env"))
        names |= _names(oc.get("primaryEnv"))
        names |= _names(oc.get("envVars"))
        names |= _names(self.fields.get("required_environment_variables"))
        names |= _names(self.hermes().get("required_environment_variables"))
        names |= _names(self.fields.get("env"))
        names |= _names(self._prerequisites().get("env_vars"))
        return names

    def _prerequisites(self) -> dict[str, Any]:
        """Hermes' legacy `prerequisites: {env_vars: [...], commands: [...]}` (hermes-agent
        tools/skills_tool.py _collect_prerequisite_values): still read as requirements."""
        value = self.fields.get("prerequisites")
        return value if isinstance(value, dict) else {}

    def declared_bins(self) -> set[str]:
        oc = self.openclaw()
        requires = oc.get("requires") if isinstance(oc.get("requires"), dict) else {}
        bins = _names(requires.get("bins")) | _names(requires.get("anyBins"))
        for spec in oc.get("install") or []:
            if isinstance(spec, dict):
                bins |= _names(spec.get("bins"))
        return bins | _names(self._prerequisites().get("commands"))

    def install_specs(self) -> list[dict[str, Any]]:
        specs = self.openclaw().get("install")
        return [s for s in specs if isinstance(s, dict)] if isinstance(specs, list) else []

    def declares_network(self) -> bool:
        """An explicit statement that the skill uses the network."""
        for table in (self.fields, self.metadata(), self.openclaw(), self.hermes()):
            if table.get("network") not in (None, False, "none", "no", []):
                return True
        compat = self.fields.get("compatibility")
        if isinstance(compat, str) and re.search(r"(?i)\b(network|internet|online|https?)\b",
                                                 compat):
            return True
        tools = self.fields.get("allowed-tools")
        text = " ".join(tools) if isinstance(tools, list) else str(tools or "")
        return bool(re.search(r"\b(WebFetch|WebSearch|web_fetch|fetch)\b", text))


def _names(value: Any) -> set[str]:
    """Names from a string, a comma list, a list of strings or of {name: ...} tables."""
    if isinstance(value, str):
        return {v.strip() for v in value.split(",") if v.strip()}
    if isinstance(value, dict):
        name = value.get("name")
        return {name} if isinstance(name, str) else set()
    if isinstance(value, list):
        out: set[str] = set()
        for item in value:
            out |= _names(item)
        return out
    return set()


def _line_fields(block: str) -> dict[str, str]:
    """OpenClaw's fallback: top-level `key: value`, indented continuation lines appended."""
    fields: dict[str, str] = {}
    key = None
    for line in block.split("\n"):
        match = _TOP_KEY.match(line)
        if match and not line[:1].isspace():
            key = match.group(1)
            fields[key] = match.group(2).strip()
        elif key is not None and (line[:1].isspace() or not line.strip()):
            fields[key] = (fields[key] + "\n" + line).strip("\n")
    return {k: _unquote(v.strip()) for k, v in fields.items()}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _json5_metadata(fields: dict[str, Any], errors: list[str]) -> bool:
    """Replace a string `metadata` by its JSON5 value; True when JSON5 was needed."""
    raw = fields.get("metadata")
    if not isinstance(raw, str) or not raw.strip().startswith(("{", "[")):
        return False
    try:
        fields["metadata"] = loads_json5(raw)
        return True
    except Exception as exc:  # json5 raises ValueError and assorted others on bad input
        errors.append(f"metadata is neither YAML nor JSON5: {type(exc).__name__}: {exc}")
        return False


def parse_skill_md(text: str) -> Manifest:
    """Split and parse a SKILL.md; problems end up in `errors`, nothing is raised."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    opening = _OPEN.match(text)
    if not opening:
        return Manifest({}, text, 1, "none", ["no frontmatter (a SKILL.md starts with ---)"])
    tail = text[opening.end():]
    closing = _CLOSE.search(tail)
    if not closing:
        return Manifest({}, text, 1, "none", ["unterminated frontmatter (no closing ---)"])
    block = tail[: closing.start()]
    body = tail[closing.end():]
    body_line = text[: opening.end() + closing.end()].count("\n") + 1
    errors: list[str] = []
    if len(block) > MAX_FRONTMATTER_CHARS:
        return Manifest({}, body, body_line, "none",
                        [f"frontmatter is {len(block)} characters; refusing to parse"])
    try:
        loaded = yaml.load(block, Loader=_LOADER) if block.strip() else {}  # noqa: S506
    except yaml.YAMLError as exc:
        loaded, yaml_error = None, " ".join(str(exc).split())
    else:
        yaml_error = None
    if isinstance(loaded, dict):
        fields = {str(k).strip(): v for k, v in loaded.items()}
        syntax = "yaml+json5" if _json5_metadata(fields, errors) else "yaml"
        return Manifest(fields, body, body_line, syntax, errors)
    fields = dict(_line_fields(block))
    if loaded is not None:
        errors.append("frontmatter is not a mapping of keys to values")
        return Manifest(fields, body, body_line, "none", errors)
    if _json5_metadata(fields, errors):
        return Manifest(fields, body, body_line, "lines+json5", errors)
    if "metadata" in fields and isinstance(fields["metadata"], str) and fields["metadata"]:
        errors.append(f"YAML error: {yaml_error}")
    elif not fields:
        errors.append(f"YAML error: {yaml_error}")
    return Manifest(fields, body, body_line, "lines", errors)
