"""Re-record selftests/fixtures/hermes/: files written by the real Hermes Agent 0.19.0 CLI
(`hermes config set`, `hermes mcp add`, `hermes secrets onepassword set`,
`hermes skills install <url>`), for the unit tests of aiaudit.products.hermes and the
areas that read Hermes. No model is needed: no chat turn is recorded here (the end-to-end
test builds states with one). Keys are fixed fakes so the files are stable.

    python3 selftests/record_hermes_fixtures.py

`--variants` records the Hermes home variants of aiaudit/lab/hermes_variants.py instead
(real chat turns against the lab model, so it needs llama-cpp-python and the lab model),
one tar.gz per variant under selftests/fixtures/hermes/variants/ (modes, the WAL and the
backup zip kept; the CLI log, hub caches and the skill source left out), for
selftests/test_hermes_variants.py; `--from ROOT` packs an earlier
`python3 -m aiaudit.lab.hermes_variants build ROOT` instead of building.

    python3 selftests/record_hermes_fixtures.py --variants [--from ROOT]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

from aiaudit.lab.hermes_states import PINNED_MCP, SKILL_MD, UNPINNED_MCP, Hermes, skill_server

OUT = Path(__file__).parent / "fixtures" / "hermes"
FAKE_CONFIG_KEY = "sk-proj-aiauditFakeKeyInConfigYamlRecordedByHermes0001"
FAKE_ENV_KEY = "sk-proj-aiauditFakeKeyInDotEnvRecordedByHermesCli00002"
FAKE_TOKEN = "ghp_aiauditFakeTokenRecordedByHermes0003"
LLM = "http://127.0.0.1:9/v1"  # never called: nothing here chats


def _keep(home: Path, dest: Path, names: tuple[str, ...]) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for name in names:
        src = home / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns(
                "index-cache", "quarantine", "scan-cache", "audit.log"))
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def record_vulnerable(work: Path) -> None:
    home = work / "v" / ".hermes"
    h = Hermes(work / "v", home, work / "v.log", {})
    for key, value in (("model.provider", "custom"), ("model.base_url", LLM),
                       ("model.default", "gemma-3-270m"), ("model.api_key", FAKE_CONFIG_KEY),
                       ("OPENAI_API_KEY", FAKE_ENV_KEY),
                       ("platforms.api_server.enabled", "true"),
                       ("platforms.api_server.extra.host", "0.0.0.0")):
        h.set(key, value)
    h("mcp", "add", "github", "--command", "npx", "--env",
      f"GITHUB_PERSONAL_ACCESS_TOKEN={FAKE_TOKEN}", "--args", "-y", UNPINNED_MCP,
      stdin="y\n", check=False)
    _keep(home, OUT / "vulnerable", ("config.yaml", ".env"))


def record_hardened(work: Path) -> None:
    home = work / "h" / ".hermes"
    h = Hermes(work / "h", home, work / "h.log", {})
    for key, value in (("model.provider", "custom"), ("model.base_url", LLM),
                       ("model.default", "gemma-3-270m"), ("model.api_key", "${OPENAI_API_KEY}"),
                       ("sessions.auto_prune", "true"), ("sessions.retention_days", "30"),
                       ("platforms.api_server.enabled", "true"),
                       ("platforms.api_server.extra.host", "127.0.0.1"),
                       ("terminal.backend", "docker")):
        h.set(key, value)
    h("secrets", "onepassword", "set", "OPENAI_API_KEY", "op://Private/hermes/openai-api-key")
    h("mcp", "add", "files", "--command", "npx", "--args", "-y", PINNED_MCP, "/srv/shared",
      stdin="y\n", check=False)
    source = work / "skill-source" / "meeting-notes"
    source.mkdir(parents=True)
    (source / "SKILL.md").write_text(SKILL_MD)
    with skill_server(work / "skill-source") as url:
        h.set("security.allow_private_urls", "true")
        h("skills", "install", f"{url}/meeting-notes/SKILL.md", "--yes", timeout=180)
        h.set("security.allow_private_urls", "false")
    _keep(home, OUT / "hardened", ("config.yaml", ".env", "skills"))


VARIANTS = OUT / "variants"
# not part of a deployment's state: the builder's own logs (they echo the planted keys),
# the hub's download caches and the loopback skill source
SKIP = ("hermes-cli.log", "llm.log", "skill-source", "index-cache", "quarantine",
        "scan-cache", "sandboxes", "audit-home.toml", "audit-user.toml")


def pack_variant(root: Path, name: str, variant: dict[str, str], recorded_at: float) -> Path:
    """One variant's directory as a tar.gz (modes, owners as root, WAL files kept)."""
    VARIANTS.mkdir(parents=True, exist_ok=True)
    out = VARIANTS / f"{name}.tar.gz"
    base = root / name

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if any(part in SKIP for part in Path(info.name).parts):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    meta = {"name": name, "recorded_at": recorded_at, "hermes_version": "0.19.0",
            "hermes_home": str(Path(variant["hermes_home"]).relative_to(base)),
            "home": str(Path(variant["home"]).relative_to(base)),
            "backup_dirs": [str(Path(b).relative_to(base)) for b in variant["backup_dirs"]],
            "managed_dir": str(Path(variant["managed_dir"]).relative_to(base))
            if variant.get("managed_dir") else "", "unit": variant.get("unit") or {}}
    with tarfile.open(out, "w:gz", compresslevel=9) as tar:
        tar.add(base, arcname=name, filter=keep)
        data = json.dumps(meta, indent=1).encode()
        info = tarfile.TarInfo(f"{name}/variant.json")
        info.size, info.mode, info.mtime = len(data), 0o644, int(recorded_at)
        tar.addfile(info, io.BytesIO(data))
    return out


def record_variants(source: Path | None) -> None:
    from aiaudit.lab import hermes_variants

    with tempfile.TemporaryDirectory(prefix="hermes-variants-") as tmp:
        root = source or Path(tmp)
        if source is None:
            built = hermes_variants.build(root, list(hermes_variants.BUILDERS))
            variants = {n: hermes_variants.describe(v) for n, v in built.items()}
        else:
            variants = json.loads((root / "variants.json").read_text())
        stamp = max(p.stat().st_mtime for p in root.rglob("state.db*")) if any(
            root.rglob("state.db*")) else time.time()
        for name, variant in sorted(variants.items()):
            out = pack_variant(root, name, variant, stamp)
            print(f"recorded {out.relative_to(OUT.parent.parent)} ({out.stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 selftests/record_hermes_fixtures.py")
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--from", dest="source", type=Path)
    args = parser.parse_args()
    if args.variants:
        record_variants(args.source)
        return
    with tempfile.TemporaryDirectory(prefix="hermes-record-") as tmp:
        record_vulnerable(Path(tmp))
        record_hardened(Path(tmp))
    print(f"recorded {sorted(str(p.relative_to(OUT)) for p in OUT.rglob('*') if p.is_file())}")


if __name__ == "__main__":
    main()
