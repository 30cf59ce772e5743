"""SUP-01 and SUP-02 facts: where a skill came from, and whether it is still what came.

Records read: ClawHub's per-skill `.clawhub/origin.json` (CLI shape with `fingerprint`, or
OpenClaw's installer shape with `fileTreeSha256`/`skillFile`) plus the workdir's
`.clawhub/lock.json`; Hermes' `skills/.hub/lock.json`; OpenClaw's `.openclaw/source-origin.json`
(local path or git installs: no registry); the operator's `approved_skills`; for an Open
WebUI Tool, Function or Skill, its webui.db row (webui_plugins.py).
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiaudit.supply_chain.fingerprints import (
    UnverifiableTree,
    clawhub_fingerprint,
    hermes_content_hash,
    openclaw_tree_digest,
)
from aiaudit.supply_chain.model import Skill
from aiaudit.supply_chain.settings import Settings

EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_HOMOGLYPHS = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t",
                             "i": "l", "_": "", "-": "", ".": ""})


@dataclass
class Provenance:
    """What the records say about one skill (SUP-01)."""

    source: str = "none"  # clawhub | openclaw-installer | hermes | operator | local | none
    registry: str | None = None  # registry id compared with allowed_registries
    owner: str | None = None
    slug: str | None = None
    version: str | None = None
    record_paths: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why SUP-01 fails
    notes: list[str] = field(default_factory=list)


@dataclass
class Integrity:
    """Recorded versus recomputed fingerprints and the version pin (SUP-02)."""

    checks: list[tuple[str, str, str]] = field(default_factory=list)  # recipe, recorded, now
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _registry_host(url: str) -> str:
    url = url.strip()
    host = urlsplit(url if "://" in url else f"https://{url}").hostname or url
    return host.lower().removeprefix("www.")


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def lookalike_of(owner: str, popular: tuple[str, ...]) -> str | None:
    """The popular publisher an owner handle imitates, if any (never the handle itself)."""
    handle = owner.lower()
    skeleton = handle.translate(_HOMOGLYPHS).replace("rn", "m").replace("vv", "w")
    for name in popular:
        name = name.lower()
        if handle == name:
            return None
    for name in popular:
        name = name.lower()
        target = name.translate(_HOMOGLYPHS).replace("rn", "m").replace("vv", "w")
        if skeleton == target:
            return name
        if len(name) >= 5 and _edit_distance(handle, name) <= (2 if len(name) >= 8 else 1):
            return name
        for affix in ("official", "team", "dev", "labs", "hq", "real", "app"):
            if handle in (f"{name}{affix}", f"{name}-{affix}", f"{affix}-{name}",
                          f"{affix}{name}", f"{name}_{affix}"):
                return name
    return None


def _hermes_entry(skill: Skill) -> tuple[str, dict[str, Any]] | None:
    from aiaudit.products import hermes

    lock = hermes.hub_lock(skill.records.get("hermes-lock"))
    return lock.entry_for(skill.rel) if lock is not None else None


def _clawhub_origin(skill: Skill) -> tuple[str, dict[str, Any]] | None:
    for path in (".clawhub/origin.json", ".clawdhub/origin.json"):
        record = skill.records.get(path)
        if isinstance(record, dict):
            return path, record
    return None


def _lock_entry(skill: Skill, slug: str) -> dict[str, Any] | None:
    lock = skill.records.get("clawhub-lock")
    skills = lock.get("skills") if isinstance(lock, dict) else None
    entry = skills.get(slug) if isinstance(skills, dict) else None
    return entry if isinstance(entry, dict) else None


def _approval(skill: Skill, settings: Settings):
    for approved in settings.approved_skills:
        if approved.path in (skill.id, skill.path, skill.path.rstrip("/")):
            return approved
    return None


def allowed(value: str, patterns: tuple[str, ...]) -> bool:
    """Whether a registry id or owner matches an allowlist entry; entries are exact names or
    shell-style patterns (`github:openai/*`, `*.clawhub.ai`), compared without case."""
    value = value.lower()
    return any(fnmatch.fnmatchcase(value, p.lower()) for p in patterns)


def _check_registry(prov: Provenance, settings: Settings) -> None:
    if prov.registry and not allowed(prov.registry, settings.allowed_registries):
        prov.problems.append(f"registry {prov.registry} is not in allowed_registries "
                             f"({', '.join(settings.allowed_registries)})")
    if prov.owner:
        imitated = lookalike_of(prov.owner, settings.popular_owners)
        if imitated:
            prov.problems.append(f"owner {prov.owner!r} looks like the popular publisher "
                                 f"{imitated!r}")
        if settings.allowed_owners and not allowed(prov.owner, settings.allowed_owners):
            prov.problems.append(f"owner {prov.owner!r} is not in allowed_owners")


def _webui_provenance(skill: Skill, record: dict[str, Any], settings: Settings) -> Provenance:
    """An Open WebUI row records no source (no URL, registry or hash: routers/tools.py keeps
    only the code and the frontmatter the code declares about itself), so only the
    operator's approval of its content gives it a provenance; what the row says is noted."""
    prov = Provenance(source="open-webui row", slug=str(record.get("id")))
    prov.record_paths.append(f"{record['db']}#{record['table']} row {record['id']}")
    manifest = record.get("manifest") or {}
    prov.owner = str(manifest["author"]) if manifest.get("author") else None
    prov.version = str(manifest["version"]) if manifest.get("version") else None
    said = ", ".join(f"{k}={v}" for k, v in manifest.items()) or "no frontmatter"
    prov.notes.append(f"the code's own docstring says: {said} (self-declared, not a record "
                      f"of where it came from); saved by user {record.get('user_id') or '?'}")
    if record.get("meta_keys"):
        prov.notes.append(f"other meta keys: {', '.join(record['meta_keys'])}")
    approval = _approval(skill, settings)
    if approval is not None:
        prov.source = "operator"
        prov.notes.append(f"approved in the audit config: {approval.reason or 'no reason given'}")
        return prov
    prov.problems.append(f"Open WebUI records no source for this {record['table']} (no URL, "
                         "registry or content hash in its row): review it and record its "
                         "content sha256 in [supply_chain] approved_skills")
    return prov


def _plugin_provenance(skill: Skill, plugin: dict[str, Any], settings: Settings) -> Provenance:
    """An OpenClaw plugin against its install record (the state store's plugin index).
    OpenClaw trusts `clawhub:` installs; every other source (a local path or archive, git,
    a marketplace, npm outside its official catalog) it installs only with --force after
    warning that the source "is outside ClawHub review and trust metadata"
    (src/plugins/install-provenance.ts formatNonClawHubInstallWarning)."""
    from aiaudit.products.openclaw import PLUGIN_SOURCE_LABELS

    prov = Provenance(source="openclaw-plugin", slug=str(plugin.get("plugin_id")))
    record = plugin.get("install")
    approval = _approval(skill, settings)
    if isinstance(record, dict):
        prov.record_paths.append(f"{plugin.get('where')}#installRecords.{prov.slug}")
        prov.version = str(record.get("resolvedVersion") or record.get("version") or "") or None
    if approval is not None:
        prov.source = "operator"
        prov.notes.append(f"approved in the audit config: {approval.reason or 'no reason given'}")
        return prov
    if not isinstance(record, dict):
        prov.problems.append(f"no install record for plugin {prov.slug!r} in OpenClaw's plugin "
                             "index (state/openclaw.sqlite plugins.installedIndex): a manual "
                             "drop-in in extensions/")
        return prov
    source = str(record.get("source") or "")
    where = str(record.get("spec") or record.get("sourcePath") or record.get("gitUrl") or "")
    for key in ("clawhubTrustDisposition", "clawhubTrustScanStatus",
                "clawhubTrustModerationState"):
        if record.get(key):
            prov.notes.append(f"{key}: {record[key]}")
    if source == "clawhub":
        prov.source = "clawhub"
        prov.registry = _registry_host(str(record.get("clawhubUrl") or "clawhub.ai"))
        prov.owner = (str(record["clawhubPackage"]).lstrip("@").split("/")[0]
                      if "/" in str(record.get("clawhubPackage") or "") else None)
        _check_registry(prov, settings)
        return prov
    label = PLUGIN_SOURCE_LABELS.get(source, source or "an unnamed source")
    prov.source = source or "none"
    prov.problems.append(f"installed from {label} {where!r}: outside ClawHub review and trust "
                         "metadata (OpenClaw's own install warning; it installs this only "
                         "with --force)")
    return prov


def provenance(skill: Skill, settings: Settings) -> Provenance:
    """SUP-01 facts for one skill."""
    plugin = skill.records.get("openclaw-plugin")
    if isinstance(plugin, dict):
        return _plugin_provenance(skill, plugin, settings)
    webui = skill.records.get("open-webui")
    if isinstance(webui, dict):
        return _webui_provenance(skill, webui, settings)
    prov = Provenance()
    origin = _clawhub_origin(skill)
    hermes = _hermes_entry(skill)
    approval = _approval(skill, settings)
    if origin is not None:
        path, record = origin
        prov.record_paths.append(f"{skill.path}/{path}")
        if "_error" in record:
            prov.problems.append(record["_error"])
            return prov
        prov.source = "openclaw-installer" if "fileTreeSha256" in record else "clawhub"
        prov.slug = record.get("slug") if isinstance(record.get("slug"), str) else None
        missing = [k for k in ("registry", "slug", "installedVersion") if not record.get(k)]
        if record.get("version") != 1 or missing or not isinstance(record.get("installedAt"),
                                                                   int | float):
            prov.problems.append(f"{path} is not a valid version-1 origin record "
                                 f"(missing: {', '.join(missing) or 'version/installedAt'})")
        if record.get("registry"):
            prov.registry = _registry_host(str(record["registry"]))
        entry = _lock_entry(skill, prov.slug or "")
        if entry is None:
            prov.problems.append(f"no entry for {prov.slug!r} in the workdir's .clawhub/lock.json")
        prov.owner = record.get("ownerHandle") or (entry or {}).get("ownerHandle")
        prov.version = record.get("installedVersion")
        for key in ("clawhubScan", "trustLabel", "trustState"):
            if record.get(key):
                prov.notes.append(f"{key}: {record[key]}")
    elif hermes is not None:
        name, entry = hermes
        prov.source = "hermes"
        prov.record_paths.append(f"{skill.root.path}/.hub/lock.json#{name}")
        from aiaudit.products import hermes as hermes_product

        source = str(entry.get("source") or "")
        prov.slug = name
        prov.registry = hermes_product.registry_of(entry)
        if prov.registry and prov.registry.startswith("github:"):
            prov.owner = prov.registry.split(":", 1)[1].split("/")[0]
        if not source:
            prov.problems.append("the Hermes lock entry names no source")
        if entry.get("scan_verdict") in ("dangerous", "caution"):
            prov.problems.append(f"Hermes' own scan verdict was {entry['scan_verdict']!r}")
        prov.notes.append(f"trust_level: {entry.get('trust_level')}")
    elif approval is not None:
        prov.source = "operator"
        prov.notes.append(f"approved in the audit config: {approval.reason or 'no reason given'}")
        return prov
    elif ".openclaw/source-origin.json" in skill.records:
        prov.source = "local"
        prov.record_paths.append(f"{skill.path}/.openclaw/source-origin.json")
        prov.problems.append("installed from a local path or git, not from a registry "
                             "(.openclaw/source-origin.json)")
        return prov
    else:
        prov.problems.append("no provenance record: a manual drop-in (no ClawHub origin.json, "
                             "no Hermes lock entry, no operator approval)")
        return prov
    _check_registry(prov, settings)
    return prov


def _recompute(label: str, recorded: str, compute, integrity: Integrity) -> None:
    try:
        now = compute()
    except UnverifiableTree as exc:
        integrity.problems.append(f"{label}: cannot recompute ({exc})")
        return
    integrity.checks.append((label, recorded, now))
    if now.removeprefix("sha256:") != recorded.removeprefix("sha256:").lower():
        integrity.problems.append(f"{label}: recorded {recorded}, files now give {now}")


def _install_pins(skill: Skill, integrity: Integrity) -> None:
    """Installer specs in the manifest must be pinned (download sha256, exact packages)."""
    for spec in skill.manifest.install_specs():
        kind = spec.get("kind")
        if kind == "download" and not spec.get("sha256"):
            integrity.problems.append(f"download installer {spec.get('url')} has no sha256")
        elif kind == "node" and not re.search(r".@\d+\.\d+\.\d+$", str(spec.get("package", ""))):
            integrity.problems.append(f"node installer {spec.get('package')!r} is not pinned "
                                      "to an exact version")
        elif kind == "uv" and "==" not in str(spec.get("package", "")):
            integrity.problems.append(f"uv installer {spec.get('package')!r} is not pinned "
                                      "with ==")
        elif kind == "go" and not re.search(r"@v\d", str(spec.get("module", ""))):
            integrity.problems.append(f"go installer {spec.get('module')!r} has no @version")


def _operator_pin(skill: Skill, approval: Any, result: Integrity, missing: str) -> None:
    """The operator's approved content sha256 recomputed, or `missing` (its `{sha}`: the
    sha256 to approve) when the audit config approves nothing."""
    if approval is not None:
        _recompute("operator-approved content sha256", approval.content_sha256,
                   lambda: skill.content_sha256, result)
    else:
        result.problems.append(missing.format(sha=skill.content_sha256))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _webui_integrity(skill: Skill, record: dict[str, Any], settings: Settings) -> Integrity:
    """An Open WebUI row against what pins it: the operator's approved content sha256, the
    production version its `version_id` names in <table>_history (every save through the
    API writes one), and `==` pins on the frontmatter requirements Open WebUI pip-installs
    (utils/plugin.py install_frontmatter_requirements)."""
    result = Integrity()
    table = record["table"]
    main = "SKILL.md" if table == "skill" else f"{record['id']}.py"
    content = skill.text_of(main) or ""
    _operator_pin(skill, _approval(skill, settings), result,
                  "no approved content sha256 to verify against ([supply_chain] approved_skills;"
                  " content sha256 now: {sha})")
    if record.get("version_id") and record.get("production") is not None:
        _recompute(f"{table}_history {record['version_id']} (production) content sha256",
                   _sha(record["production"]), lambda: _sha(content), result)
    elif record.get("version_id"):
        result.problems.append(f"version_id {record['version_id']} names no {table}_history "
                               "entry: the stored code has no saved version to compare with")
    else:
        result.notes.append(f"no version_id: saved before {table}_history existed")
    for req in record.get("requirements") or ():
        if not re.search(r"==\s*[\w.]+|@\s*\S+#sha256=", req):
            result.problems.append(f"requirement {req!r} is not pinned with == (Open WebUI "
                                   "pip-installs it when the code is saved and at start-up)")
    if record.get("is_active") is False:
        result.notes.append("inactive (is_active false): not run until switched on")
    if record.get("is_global"):
        result.notes.append("global (is_global): applied to every chat")
    result.notes.append(f"{record.get('history', 0)} saved version(s)")
    return result


def _plugin_integrity(skill: Skill, plugin: dict[str, Any], settings: Settings) -> Integrity:
    """An OpenClaw plugin's files against what its index recorded: the manifest's and
    package.json's sha256 (plugins[].manifestHash, packageJson.hash); OpenClaw records no
    hash of the code itself for a path install, so the code is pinned only by a registry
    artifact hash (npm integrity/shasum, clawpack sha256) or the operator's approval."""
    result = Integrity()
    entry = plugin.get("entry") or {}
    record = plugin.get("install") if isinstance(plugin.get("install"), dict) else {}
    for path, recorded in (("openclaw.plugin.json", entry.get("manifestHash")),
                           ("package.json", (entry.get("packageJson") or {}).get("hash"))):
        if isinstance(recorded, str) and recorded:
            entry = skill.file(path)
            now = (hashlib.sha256(entry.data).hexdigest() if entry and entry.data is not None
                   else "missing")
            _recompute(f"plugin index sha256 of {path}", recorded, lambda now=now: now, result)
    pins = [k for k in ("integrity", "npmIntegrity", "shasum", "npmShasum", "clawpackSha256",
                        "gitCommit") if record.get(k)]
    if pins:
        result.notes.append("registry artifact pinned at install: " + ", ".join(
            f"{k}={record[k]}" for k in pins) + " (of the downloaded artifact: not "
            "recomputable from the installed files)")
        version = record.get("resolvedVersion") or record.get("version")
        if not isinstance(version, str) or not EXACT_VERSION.match(version):
            result.problems.append(f"installed version {version!r} is not an exact version")
        approval = _approval(skill, settings)
        if approval is not None:
            _operator_pin(skill, approval, result, "")
        return result
    _operator_pin(skill, _approval(skill, settings), result,
                  "OpenClaw records no hash of this plugin's code (a "
                  f"{record.get('source') or 'manual'} install: only its manifest and "
                  "package.json are hashed): approve its content sha256 {sha} in "
                  "[supply_chain] approved_skills")
    return result


def integrity(skill: Skill, settings: Settings) -> Integrity:
    """SUP-02 facts for one skill."""
    plugin = skill.records.get("openclaw-plugin")
    if isinstance(plugin, dict):
        return _plugin_integrity(skill, plugin, settings)
    webui = skill.records.get("open-webui")
    if isinstance(webui, dict):
        result = _webui_integrity(skill, webui, settings)
        if webui["table"] == "skill":
            _install_pins(skill, result)
        return result
    result = Integrity()
    origin = _clawhub_origin(skill)
    hermes = _hermes_entry(skill)
    approval = _approval(skill, settings)
    files = skill.files
    if origin is not None and "_error" not in origin[1]:
        record = origin[1]
        if isinstance(record.get("fingerprint"), str):
            _recompute("ClawHub fingerprint", record["fingerprint"],
                       lambda: clawhub_fingerprint(files), result)
        if isinstance(record.get("fileTreeSha256"), str):
            _recompute("OpenClaw fileTreeSha256", record["fileTreeSha256"],
                       lambda: openclaw_tree_digest(files), result)
        skill_file = record.get("skillFile")
        if isinstance(skill_file, dict) and isinstance(skill_file.get("path"), str):
            entry = skill.file(skill_file["path"])
            now = hashlib.sha256(entry.data).hexdigest() if entry and entry.data else "missing"
            _recompute(f"skillFile {skill_file['path']}", str(skill_file.get("sha256")),
                       lambda: now, result)
        if not result.checks and not result.problems:
            result.problems.append("the origin record holds no fingerprint to verify")
        version = record.get("installedVersion")
        entry = _lock_entry(skill, str(record.get("slug")))
        locked = (entry or {}).get("version")
        if not isinstance(version, str) or not EXACT_VERSION.match(version):
            result.problems.append(f"installed version {version!r} is not an exact version")
        elif locked != version:
            result.problems.append(f"lock.json pins {locked!r} but {version!r} is installed")
        elif "fingerprint" in record and not (entry or {}).get("pinned"):
            # ClawHub's CLI lock entry: unpinned, `clawhub update --all` replaces the files.
            # OpenClaw's own installer has no pin flag; its lock entry carries the
            # fileTreeSha256 recomputed above.
            result.problems.append("the .clawhub/lock.json entry is not pinned "
                                   "(`clawhub update --all` would replace the reviewed files)")
    elif hermes is not None:
        recorded = hermes[1].get("content_hash")
        if isinstance(recorded, str) and recorded:
            _recompute("Hermes content_hash", recorded, lambda: hermes_content_hash(files),
                       result)
        else:
            result.problems.append("the Hermes lock entry has no content_hash")
        version = skill.manifest.fields.get("version")
        result.notes.append(f"pinned by content hash; manifest version {version!r}")
    else:
        _operator_pin(skill, approval, result,
                      "no recorded fingerprint or content hash to verify against (content sha256 "
                      "now: {sha})")
    _install_pins(skill, result)
    return result
