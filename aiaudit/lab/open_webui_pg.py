"""Open WebUI 0.12.4 on PostgreSQL, written by the real server (`DATABASE_URL=postgresql://`,
open_webui/env.py; its own migrations create the schema at start-up, open_webui/config.py
run_migrations), for the audit of conversation stores kept in a database server.

Two databases in one throwaway PostgreSQL 15 cluster (aiaudit/lab/pg_cluster.py), each
with its own role and a `open-webui serve` pointed at it; every row is written through
Open WebUI's own HTTP API:

* ``webui``: the admin (first sign-up), alice and bob added through the admin API, each
  with a chat of their own; alice pastes a provider key into hers; the admin's chat is
  archived and, as an old deployment's would be, moved back 200 days (the operator's
  back-dating of Open WebUI's own time columns, as the SQLite variants do); the admin
  pastes in the community-style Tool of the vulnerable SQLite state (it posts the server's
  environment to a remote host) through /api/v1/tools/create.
* ``webui_clean``: one admin and one chat without secrets, not back-dated.

Each database is recorded with `pg_dump --no-owner --no-privileges` (plain SQL) into
selftests/fixtures/pg/, with `meta.json` (recording time, planted key, users);
selftests/test_storage_pg.py restores them into a fresh cluster and audits them.

    python3 -m aiaudit.lab.open_webui_pg record [OUT_DIR]
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import pg_cluster
from .open_webui_states import VULN_TOOL
from .open_webui_variants import _admin, _new, _serve

FIXTURES = Path(__file__).resolve().parents[2] / "selftests" / "fixtures" / "pg"
BACKDATE_DAYS = 200
# what dates a conversation in Open WebUI's schema (models/chats.py, chat_messages.py,
# shared_chats.py): moved back together, and forward again when a fixture is restored
TIMES = {"chat": ("created_at", "updated_at", "last_read_at"),
         "chat_message": ("created_at", "updated_at"),
         "shared_chat": ("created_at", "updated_at")}
# the key alice pastes: visibly made up (the recorded dump is a stable file in git), with a
# digest tail so the secret engine does not take it for a placeholder
PLANTED_KEY = "sk-proj-aiauditFakeKeyPastedIntoPostgresChat" + "7q2mxw4kz9drt5"


def shift_sql(seconds: int, chat_ids: list[str] | None = None) -> str:
    """UPDATEs moving Open WebUI's conversation times by `seconds` (all rows, or the rows
    of the given chats)."""
    out = []
    for table, cols in TIMES.items():
        sets = ", ".join(f"{c} = {c} + {int(seconds)}" for c in cols)
        where = ""
        if chat_ids is not None:
            ids = ", ".join("'" + i.replace("'", "''") + "'" for i in chat_ids)
            where = f" WHERE {'id' if table == 'chat' else 'chat_id'} IN ({ids})"
        out.append(f"UPDATE {table} SET {sets}{where};")
    return "\n".join(out)


def _database(cluster: pg_cluster.Cluster, root: Path, name: str, clean: bool) -> dict:
    password = secrets.token_urlsafe(18)
    cluster.create_app_db(name, password, name)
    v = _new(root, name)
    v.env["DATABASE_URL"] = cluster.url(name, password, name)
    meta: dict = {"database": name, "users": [], "planted": {}}
    with _serve(v, None) as ui:
        _admin(ui)
        admin = ui.token
        if clean:
            ui.note_chat("List three colours.", "Red, green, blue.")
        else:
            old = ui.note_chat("Plan the sprint review.", "Agenda drafted.")
            ui.call("POST", f"/api/v1/chats/{old}/archive")
            for user in ("alice", "bob"):
                pw = secrets.token_urlsafe(12)
                ui.token = admin
                ui.add_user(user.title(), f"{user}@example.com", pw)
                ui.token = ui.signin(f"{user}@example.com", pw)
                text = (f"Keep this for the deploy script, my OpenAI key is {PLANTED_KEY} ."
                        if user == "alice" else "Bob's notes for the review.")
                ui.note_chat(text, "Noted.")
                meta["users"].append(user)
            meta["planted"]["alice's chat"] = PLANTED_KEY
            # a community-style Tool pasted in by the admin (routers/tools.py
            # create_new_tools): a `tool` row of the database, code Open WebUI exec()s
            ui.token = admin
            ui.create_plugin("tool", "web_helper_pro", "Web Helper Pro",
                             "Fetches web pages", VULN_TOOL)
            meta["planted"]["tool"] = "web_helper_pro"
            cluster.psql(shift_sql(-BACKDATE_DAYS * 86400, [old]), db=name, user=name,
                         password=password)
            meta["backdated_days"] = BACKDATE_DAYS
    return meta


def pg_dump(cluster: pg_cluster.Cluster, db: str, out: Path) -> None:
    argv = pg_cluster._as_pg(["pg_dump", "--no-owner", "--no-privileges", "-h",
                              str(cluster.sock), "-p", str(cluster.port), "-d", db])
    run = subprocess.run(argv, capture_output=True, timeout=300)
    if run.returncode != 0:
        raise SystemExit(f"pg_dump {db}: {run.stderr.decode()[-500:]}")
    out.write_bytes(run.stdout)


def record(out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="aiaudit-owpg-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # the cluster's dirs below it belong to the postgres account
        meta: dict = {"recorded_at": int(time.time()), "open_webui": "0.12.4",
                      "postgres": "15", "databases": {}}
        with pg_cluster.running(root / "cluster") as cluster:
            for name, clean in (("webui", False), ("webui_clean", True)):
                meta["databases"][name] = _database(cluster, root, name, clean)
                pg_dump(cluster, name, out / f"open_webui_{name}.sql")
        (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m aiaudit.lab.open_webui_pg")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", nargs="?", type=Path, default=FIXTURES)
    args = parser.parse_args(argv)
    print(json.dumps(record(args.out), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
