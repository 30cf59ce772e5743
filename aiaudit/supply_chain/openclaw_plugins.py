"""OpenClaw plugins as supply-chain items.

A plugin (`openclaw plugins install SPEC`, copied to `<state>/extensions/<id>`) is code the
gateway loads into its own process, outside any agent sandbox. It need not hold a SKILL.md,
so the skill split alone never saw it: each plugin dir becomes a `Skill` whose files are
the plugin's own (skills it ships stay items of their own), with the install record of
OpenClaw's plugin index (products.openclaw.read_plugin_installs). SUP-01/02 judge that
record (provenance.py), SUP-03/04 scan the code like any skill's.
"""

from __future__ import annotations

import posixpath
from typing import Any

from aiaudit.products import openclaw
from aiaudit.supply_chain.frontmatter import Manifest
from aiaudit.supply_chain.model import Skill, SkillFile, SkillRoot

RECORD = "openclaw-plugin"
MANIFEST = "openclaw.plugin.json"


def is_plugin_root(root: SkillRoot) -> bool:
    return (root.framework == "openclaw"
            and posixpath.basename(posixpath.dirname(root.path)) == "extensions")


def _json(entries: list[SkillFile], path: str) -> dict[str, Any]:
    """The JSON object of one of the plugin's files ({} when absent, invalid or no object),
    read as discovery reads a skill's records."""
    from aiaudit.supply_chain.discovery import json_record  # discovery imports this module

    doc = json_record(entries, path)
    return doc if isinstance(doc, dict) and "_error" not in doc else {}


def plugin_item(root: SkillRoot, entries: list[SkillFile], skills: list[Skill],
                install: openclaw.PluginInstall | None) -> Skill | None:
    """The plugin in `root` as an item, or None when the dir holds no plugin (no
    openclaw.plugin.json and no package.json) or is itself a skill (then the skill carries
    the install record)."""
    record = {"install": install.record if install else None,
              "entry": install.entry if install else {},
              "where": install.where if install else None,
              "plugin_id": install.plugin_id if install else posixpath.basename(root.path)}
    top = next((s for s in skills if s.rel == ""), None)
    if top is not None:
        top.records[RECORD] = record
        return None
    names = {f.path for f in entries if f.kind == "file"}
    if MANIFEST not in names and "package.json" not in names:
        return None
    manifest = _json(entries, MANIFEST)
    package = _json(entries, "package.json")
    fields = {"name": str(manifest.get("name") or manifest.get("id") or package.get("name")
                          or record["plugin_id"]),
              "description": str(manifest.get("description") or package.get("description")
                                 or ""),
              "version": str(package.get("version") or "")}
    item = Skill(f"openclaw:plugin/{record['plugin_id']}", root, "", entries,
                 Manifest(fields, "", 1, MANIFEST), tuple(s.rel for s in skills))
    item.records[RECORD] = record
    return item
