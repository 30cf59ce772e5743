"""Open WebUI's Tools, Functions and Skills as supply-chain items.

They are not directories: Open WebUI keeps them as rows of webui.db (aiaudit.products.
open_webui reads the tables), so each row becomes a `Skill` whose files are the stored code
(`<id>.py`) or the skill's `data.files`, read from the storage area's private copy of the
store and never run. SUP-01/02 judge what the row records (provenance.py), SUP-03/04 scan
the code like any skill's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from aiaudit.products import open_webui
from aiaudit.status import CouldNotCheck
from aiaudit.supply_chain.frontmatter import Manifest, parse_skill_md
from aiaudit.supply_chain.model import Skill, SkillFile, SkillRoot

FRAMEWORK = open_webui.APP


@dataclass
class WebUIPlugins:
    """Plugin rows of every webui.db in scope, with proof of what was read."""

    skills: list[Skill] = field(default_factory=list)
    read: list[str] = field(default_factory=list)  # "<db>: tool 0 row(s), ..."
    unreadable: list[str] = field(default_factory=list)
    # what the operator must supply first (a PostgreSQL password): MANUAL, never PASS
    manual: list[str] = field(default_factory=list)


def _manifest(plugin: open_webui.Plugin) -> Manifest:
    """A skill row's SKILL.md; a tool's or function's docstring frontmatter with Open
    WebUI's own name and description of the row."""
    if plugin.kind == "skill":
        return parse_skill_md(plugin.content)
    fields: dict[str, Any] = {k: v for k, v in plugin.manifest.items() if isinstance(k, str)}
    fields["name"] = plugin.name
    fields["description"] = plugin.description or str(fields.get("description") or "")
    # the frontmatter's own links (author_url, funding_url, git_url) are what it documents
    fields["homepage"] = " ".join(str(v) for k, v in plugin.manifest.items()
                                  if isinstance(k, str) and k.endswith("_url"))
    return Manifest(fields, "", 1, "open-webui frontmatter")


def record(plugin: open_webui.Plugin, db: str) -> dict[str, Any]:
    """What the row records about itself (SUP-01/02 read only this)."""
    return {"db": db, "table": plugin.kind, "id": plugin.id, "user_id": plugin.user_id,
            "manifest": {k: plugin.manifest[k] for k in open_webui.manifest_keys()
                         if plugin.manifest.get(k)},
            "meta_keys": sorted(k for k in plugin.meta if k not in open_webui.meta_own_keys()),
            "version_id": plugin.version_id, "production": plugin.production,
            "history": plugin.history, "is_active": plugin.is_active,
            "is_global": plugin.is_global, "requirements": plugin.requirements()}


def to_skill(plugin: open_webui.Plugin, db: str) -> Skill:
    root = SkillRoot(FRAMEWORK, f"{db}#{plugin.kind}", f"{db}#{plugin.kind}")
    files = [SkillFile(path, "file", len(data), 0o644, data) for path, data in plugin.files]
    digest = ("" if plugin.kind == "skill"
              else hashlib.sha256(plugin.content.encode("utf-8")).hexdigest())
    # the row first: a case id over 200 characters keeps only its head and tail
    return Skill(f"{FRAMEWORK}:{plugin.kind}/{plugin.id}@{db}", root, plugin.id, files,
                 _manifest(plugin), records={FRAMEWORK: record(plugin, db)}, digest=digest)


def webui_plugins(ctx: Any) -> WebUIPlugins:
    """Tools, Functions and Skills of every Open WebUI webui.db the storage area located in
    the deployment scope, from its private copy (an encrypted or unreadable store is named
    in `unreadable`: its plugins can be neither reviewed nor ruled out)."""
    from aiaudit.storage.locate import locate_all
    from aiaudit.storage.snapshot import opened_copy

    out = WebUIPlugins()
    try:
        located = locate_all(ctx)
    except CouldNotCheck as exc:  # the other skills are still judged; this is not ruled out
        out.unreadable.append(f"{exc}; Open WebUI Tools, Functions and Skills (webui.db) "
                              "cannot be ruled out")
        return out
    for app, access, _ in located.unreadable:
        if app == FRAMEWORK:
            out.unreadable.append(f"{access.reason()}; Open WebUI Tools, Functions and Skills "
                                  "in its webui.db cannot be reviewed")
    for store in located.stores:
        if store.app == FRAMEWORK and store.kind == "postgresql":
            _from_postgres(ctx, store, out)
            continue
        if store.app != FRAMEWORK or store.kind != "sqlite" or not open_webui.is_db(store.path):
            continue
        try:
            with opened_copy(ctx, store) as opened:
                tables = open_webui.read_plugins(opened.conn)
        except CouldNotCheck as exc:
            out.unreadable.append(f"{exc}; its Tools, Functions and Skills cannot be reviewed")
            continue
        out.read.append(f"{store.path}: {tables.describe()}")
        out.skills += [to_skill(p, store.path) for p in tables.plugins]
    return out


def _from_postgres(ctx: Any, store: Any, out: WebUIPlugins) -> None:
    """The plugin rows of Open WebUI's PostgreSQL database (DATABASE_URL=postgresql://),
    read through read-only SQL into a private SQLite copy of the same tables and read by
    the same reader as webui.db's; a database that cannot be read is named, never skipped."""
    from aiaudit.storage.pgread import PgUnavailable
    from aiaudit.storage.pgstores import schema_tables, sqlite_copy

    try:
        have = schema_tables(ctx, store)
        names = [*open_webui.plugin_tables(), *(h.split(".", 1)[0] for h in
                                                open_webui.product_data()["plugins"]["history"])]
        mem = sqlite_copy(ctx, store, {t: sorted(have[t]) for t in names if t in have},
                          max_rows=10_000)
    except PgUnavailable as exc:  # no password or no psql: the storage cases say MANUAL too
        out.manual.append(f"{exc.reason}; its Tools, Functions and Skills cannot be reviewed")
        return
    except CouldNotCheck as exc:
        out.unreadable.append(f"{exc}; its Tools, Functions and Skills cannot be reviewed")
        return
    try:
        tables = open_webui.read_plugins(mem)
    finally:
        mem.close()
    out.read.append(f"{store.path}: {tables.describe()}")
    out.skills += [to_skill(p, store.path) for p in tables.plugins]
