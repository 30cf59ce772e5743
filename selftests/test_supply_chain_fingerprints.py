"""The registries' integrity recipes, recomputed: vectors produced by the recipes themselves.

The expected values come from (a) Hermes Agent 0.19.0's own `_content_digest` from
tools/skills_guard.py run on this tree, and (b) a Node re-implementation of ClawHub's
`buildSkillFingerprint` (dist/skills.js, clawhub 0.23.3) and OpenClaw's
`digestClawHubSkillTree` (openclaw 2026.9.6) using only Node's crypto, localeCompare and
JSON.stringify. Reproduce with the tree below.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from aiaudit.hostfs import HostFS
from aiaudit.supply_chain.collation import locale_compare_key
from aiaudit.supply_chain.discovery import read_tree
from aiaudit.supply_chain.fingerprints import (
    UnverifiableTree,
    clawhub_fingerprint,
    clawhub_listed_files,
    hermes_content_hash,
    hermes_digest,
    openclaw_tree_digest,
)

TREE = {
    "SKILL.md": "---\nname: demo\ndescription: Demo.\n---\n\nBody\n",
    "scripts/x.py": 'print("x")\n', "scripts/x10.py": "ten\n", "scripts/x9.py": "nine\n",
    "a-b.txt": "dash\n", "a/b.txt": "slash\n", "README.md": "upper\n", "readme.md": "lower\n",
    ".clawhub/origin.json": "{}\n", "node_modules/dep/index.js": "dep\n",
    "docs/Éclair.md": "accent\n", "docs/eclair.md": "plain\n", "_meta.json": "_\n",
}
CLAWHUB = "ddd9ac25d1f8540ecff2aac324e323e82272986374a75ee7597a63d99d9eecaa"
OPENCLAW = "sha256:14898ad722c009276f2a1f6d53c3f27f579c89c01fe9e967bf21da1db63f3072"
HERMES = "sha256:a5eb7338b451272d"
HERMES_FULL = "a5eb7338b451272d0ca4a471550201e83a05f9d048e75c409419a5f76dec0ac7"
NODE_ORDER = ["_meta.json", "a-b.txt", "a/b.txt", "docs/eclair.md", "docs/Éclair.md",
              "readme.md", "README.md", "scripts/x.py", "scripts/x10.py", "scripts/x9.py",
              "SKILL.md"]


@pytest.fixture
def files(tmp_path: Path) -> list:
    for rel, text in TREE.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    return read_tree(HostFS("local"), str(tmp_path), 1 << 20)


def test_clawhub_fingerprint_matches_the_recipe(files: list) -> None:
    assert [f.path for f in sorted(clawhub_listed_files(files),
                                   key=lambda f: locale_compare_key(f.path))] == NODE_ORDER
    assert clawhub_fingerprint(files) == CLAWHUB


def test_openclaw_tree_digest_matches_the_recipe(files: list) -> None:
    assert openclaw_tree_digest(files) == OPENCLAW


def test_hermes_content_hash_matches_skills_guard(files: list) -> None:
    assert hermes_content_hash(files) == HERMES
    assert hermes_digest(files) == HERMES_FULL


def test_one_changed_byte_changes_every_recipe(files: list) -> None:
    target = next(f for f in files if f.path == "scripts/x.py")
    target.data = b'print("y")\n'
    target.__dict__.pop("sha256", None)
    assert clawhub_fingerprint(files) != CLAWHUB
    assert openclaw_tree_digest(files) != OPENCLAW
    assert hermes_content_hash(files) != HERMES


def test_clawhubignore_patterns_leave_files_out(tmp_path: Path) -> None:
    for rel in ("SKILL.md", "build/out.js", "keep.log", "notes.log", "src/a.tmp"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / ".clawhubignore").write_text("build/\n*.log\n!keep.log\n*.tmp\n")
    listed = clawhub_listed_files(read_tree(HostFS("local"), str(tmp_path), 1 << 20))
    assert sorted(f.path for f in listed) == ["SKILL.md", "keep.log"]


def test_openclaw_refuses_trees_with_symlinks(tmp_path: Path) -> None:
    (tmp_path / "SKILL.md").write_text("x")
    (tmp_path / "link").symlink_to("/etc/passwd")
    with pytest.raises(UnverifiableTree, match="symlink"):
        openclaw_tree_digest(read_tree(HostFS("local"), str(tmp_path), 1 << 20))


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node for the reference order")
def test_ascii_path_order_matches_node_locale_compare() -> None:
    rng = random.Random(7)
    alphabet = "aAbBzZ09_-./ ~+@#"
    names = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
             for _ in range(400)]
    script = ("const n=JSON.parse(require('fs').readFileSync(0,'utf8'));"
              "console.log(JSON.stringify(n.sort((a,b)=>a.localeCompare(b))))")
    import json

    done = subprocess.run(["node", "-e", script], input=json.dumps(names), text=True,
                          capture_output=True, timeout=30, check=True)
    assert sorted(names, key=locale_compare_key) == json.loads(done.stdout)
