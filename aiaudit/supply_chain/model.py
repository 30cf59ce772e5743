"""Facts about skills as found on the target: files, manifest and provenance records."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from aiaudit.supply_chain.frontmatter import Manifest


@dataclass
class SkillFile:
    """One entry below a skill directory, with its bytes for regular files."""

    path: str  # relative to the skill directory, posix
    kind: str  # "file" | "dir" | "symlink" | "hardlink" | "other"
    size: int = 0
    mode: int = 0o644
    data: bytes | None = None  # None for non-files and for files over the size cap
    linkname: str = ""

    def __repr__(self) -> str:  # pytest shows test arguments on failure: never the bytes
        return f"SkillFile({self.path!r}, {self.kind!r}, {self.size})"

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest()

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(self.path.split("/"))


@dataclass(frozen=True)
class SkillRoot:
    """A directory an agent loads skills from."""

    framework: str  # openclaw | hermes | agents | claude | extra
    path: str  # absolute on the target
    label: str  # readable prefix of the skill ids below it, e.g. "workspace/skills"
    lock_dir: str | None = None  # where a ClawHub .clawhub/lock.json would be (workdir)


@dataclass
class Skill:
    """A skill directory (it holds SKILL.md) and everything below it."""

    id: str
    root: SkillRoot
    rel: str  # directory relative to the root ("" when the root is the skill)
    files: list[SkillFile]
    manifest: Manifest
    nested: tuple[str, ...] = ()  # sub-directories that are skills of their own
    records: dict[str, Any] = field(default_factory=dict)  # provenance files, parsed
    denied: list[str] = field(default_factory=list)  # files below it the audit could not read
    digest: str = ""  # the content sha256 approvals bind to, when not the tree digest below

    def __repr__(self) -> str:  # a failing case's traceback repr()s it: keep it one line
        return f"Skill({self.id!r}, {len(self.files)} files)"

    @property
    def framework(self) -> str:
        return self.root.framework

    @property
    def path(self) -> str:
        return posixpath.join(self.root.path, self.rel) if self.rel else self.root.path

    @property
    def name(self) -> str:
        return self.manifest.name or posixpath.basename(self.path)

    def own_files(self) -> list[SkillFile]:
        """Files that belong to this skill and not to a nested one (what is scanned)."""
        if not self.nested:
            return list(self.files)
        return [f for f in self.files
                if not any(f.path == n or f.path.startswith(n + "/") for n in self.nested)]

    def file(self, path: str) -> SkillFile | None:
        return next((f for f in self.files if f.path == path), None)

    def text_of(self, path: str) -> str | None:
        entry = self.file(path)
        if entry is None or entry.data is None:
            if path == "SKILL.md" and self.records.get("plugin-doc"):
                return self.records["plugin-doc"]  # a plugin's manifest and README say it
            return None
        return entry.data.decode("utf-8", "replace")

    @cached_property
    def content_sha256(self) -> str:
        """Full-length Hermes-recipe digest of the tree: what operator approvals bind to
        (an Open WebUI tool or function: the sha256 of its stored code, `digest`)."""
        from aiaudit.supply_chain.fingerprints import hermes_digest

        return self.digest or hermes_digest(self.files)
