"""The registries' own integrity recipes, recomputed from the installed files.

Each function mirrors one recipe read in the registry's source, so a match means the files
are byte-for-byte what was recorded at install time:
- ClawHub CLI (`clawhub` on npm, dist/skills.js `buildSkillFingerprint`): sha256 over the
  lines `path:sha256(file)` joined by "\\n", sorted with `localeCompare`; files as
  `listSkillFiles` lists them (no dot-path segment, no node_modules, no symlinks, minus
  `.gitignore`/`.clawhubignore` patterns).
- OpenClaw's installer (`openclaw` on npm, skill-tree-digest `digestClawHubSkillTree`):
  `sha256:` + sha256 of the compact JSON array of a depth-first walk, names in code-unit
  order, top-level `.clawhub`/`.clawdhub` skipped; symlinks make the tree invalid.
- Hermes Agent (`hermes-agent` on PyPI, tools/skills_guard.py `content_hash`): one sha256
  over, for every regular file in `sorted(skill_dir.rglob("*"))`, its posix relative path,
  NUL, its bytes; `sha256:` + the first 16 hex digits.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from fnmatch import translate

from aiaudit.supply_chain.collation import locale_compare_key, utf16_key
from aiaudit.supply_chain.model import SkillFile

CLAWHUB_IGNORE_FILES = (".gitignore", ".clawhubignore", ".clawdhubignore")
_DEFAULT_IGNORES = (".git/", "node_modules/", ".clawhub/", ".clawdhub/")


class UnverifiableTree(ValueError):
    """The tree cannot be digested with this recipe (the registry would refuse it too)."""


def _hermes_order(files: Iterable[SkillFile]) -> list[SkillFile]:
    # pathlib orders paths by their parts, not by the joined string ("a/b" < "a-c").
    return sorted((f for f in files if f.kind == "file"), key=lambda f: f.parts)


def hermes_digest(files: Iterable[SkillFile]) -> str:
    """Hermes' full canonical digest (hex): the basis of `content_hash`."""
    h = hashlib.sha256()
    for f in _hermes_order(files):
        if f.data is None:
            raise UnverifiableTree(f"{f.path} was too large to read")
        h.update(f.path.encode("utf-8") + b"\x00")
        h.update(f.data)
    return h.hexdigest()


def hermes_content_hash(files: Iterable[SkillFile]) -> str:
    """`sha256:<16 hex>` as Hermes records it in skills/.hub/lock.json."""
    return f"sha256:{hermes_digest(files)[:16]}"


class _GitIgnore:
    """The subset of gitignore matching the `ignore` npm package applies to skill trees."""

    def __init__(self, lines: Iterable[str]):
        self.rules: list[tuple[re.Pattern[str], bool, bool]] = []
        for raw in lines:
            line = raw.rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            line = line[1:] if negate else line
            dir_only = line.endswith("/")
            line = line.rstrip("/")
            anchored = "/" in line
            line = line.lstrip("/")
            body = translate(line).removesuffix(r"\Z").replace(".*", "[^/]*")
            body = body.replace("[^/]*[^/]*", ".*")  # "**" spans directories
            prefix = "" if anchored else r"(?:.*/)?"
            self.rules.append((re.compile(rf"^{prefix}{body}(?:/.*)?$"
                                          if not dir_only else rf"^{prefix}{body}/.*$"),
                               negate, dir_only))

    def ignores(self, path: str) -> bool:
        ignored = False
        for pattern, negate, _dir_only in self.rules:
            if pattern.match(path):
                ignored = not negate
        return ignored


def clawhub_listed_files(files: Iterable[SkillFile]) -> list[SkillFile]:
    """The files `clawhub` would list for a skill directory."""
    files = list(files)
    patterns: list[str] = list(_DEFAULT_IGNORES)
    for name in CLAWHUB_IGNORE_FILES:
        entry = next((f for f in files if f.path == name and f.data is not None), None)
        if entry is not None:
            patterns += entry.data.decode("utf-8", "replace").splitlines()
    ignore = _GitIgnore(patterns)
    listed = []
    for f in files:
        if f.kind != "file" or any(p.startswith(".") or p == "node_modules" for p in f.parts):
            continue
        if ignore.ignores(f.path):
            continue
        listed.append(f)
    return listed


def clawhub_fingerprint(files: Iterable[SkillFile]) -> str:
    """ClawHub's skill fingerprint (hex), as stored in `.clawhub/origin.json`."""
    listed = clawhub_listed_files(files)
    for f in listed:
        if f.data is None:
            raise UnverifiableTree(f"{f.path} was too large to read")
    lines = sorted(((f.path, f.sha256) for f in listed),
                   key=lambda item: locale_compare_key(item[0]))
    payload = "\n".join(f"{path}:{sha}" for path, sha in lines)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def openclaw_tree_digest(files: Iterable[SkillFile]) -> str:
    """OpenClaw's `fileTreeSha256` (`sha256:<hex>`)."""
    by_parent: dict[str, list[SkillFile]] = {}
    for f in files:
        if f.parts[0] in (".clawhub", ".clawdhub"):
            continue
        if f.kind not in ("file", "dir"):
            raise UnverifiableTree(f"{f.path} is a {f.kind}; OpenClaw refuses such trees")
        if f.kind == "file" and f.data is None:
            raise UnverifiableTree(f"{f.path} was too large to read")
        parent = f.path.rsplit("/", 1)[0] if "/" in f.path else ""
        by_parent.setdefault(parent, []).append(f)

    entries: list[dict[str, str]] = []

    def walk(parent: str) -> None:
        children = by_parent.get(parent, [])
        for f in sorted(children, key=lambda c: utf16_key(c.parts[-1])):
            if f.kind == "dir":
                entries.append({"path": f.path, "type": "directory"})
                walk(f.path)
            else:
                entries.append({"path": f.path, "type": "file", "sha256": f.sha256})

    walk("")
    payload = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()
