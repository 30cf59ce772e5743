"""Re-record selftests/fixtures/hermes/: files written by the real Hermes Agent 0.19.0 CLI
(`hermes config set`, `hermes mcp add`, `hermes secrets onepassword set`,
`hermes skills install <url>`), for the unit tests of aiaudit.products.hermes and the
areas that read Hermes. No model is needed: no chat turn is recorded here (the end-to-end
test builds states with one). Keys are fixed fakes so the files are stable.

    python3 selftests/record_hermes_fixtures.py
"""

from __future__ import annotations

import shutil
import tempfile
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


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hermes-record-") as tmp:
        record_vulnerable(Path(tmp))
        record_hardened(Path(tmp))
    print(f"recorded {sorted(str(p.relative_to(OUT)) for p in OUT.rglob('*') if p.is_file())}")


if __name__ == "__main__":
    main()
