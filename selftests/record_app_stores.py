"""Record conversation stores written by real AI apps the storage controls did not know
(Langflow; Flowise and n8n where their install works), for selftests/test_storage_apps.py.

    python3 -m selftests.record_app_stores langflow --url http://127.0.0.1:47864 \
        --config-dir /tmp/lf

drives a running Langflow (started offline on loopback with `LANGFLOW_CONFIG_DIR=DIR
LANGFLOW_SAVE_DB_IN_CONFIG_DIR=true LANGFLOW_AUTO_LOGIN=true langflow run --host 127.0.0.1`)
through its own API: a flow built from the ChatInput and ChatOutput components of its
"Basic Prompting" starter project is created (POST /api/v1/flows/) and run twice
(POST /api/v1/run/<id>), once with a planted fake key, so Langflow itself writes the
`message` rows. The rows of the tables the storage controls read are then dumped as SQL
(schema of every table Langflow created, rows of `message`, `variable`, `api_key`, `user`,
this flow) into selftests/fixtures/storage/apps/<app>.sql: no third-party code is kept.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
import urllib.request
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "storage" / "apps"
# A fake key of the OpenAI shape (never issued): what a user pastes into a chat.
PLANTED = "sk-proj-" + "Q7vX2mN9pL4kR8sT1wY6zB3cF5hJ0dG" + "aE2iO9uK7nM4qW1xZ"
PLANTED_CONFIG = "sk-proj-" + "Hc8Lr2Vb6Nq0Ws4Ty9Ua3Fe7Jk1Pm5Xz" + "Dg2Ko8Ri6Tv0Ye4Qc"
LANGFLOW_ROWS = ("message", "variable", "apikey", "user")


def _call(url: str, method: str = "GET", body: object = None, token: str = "",
          timeout: float = 300, api_key: str = "") -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if api_key:  # /api/v1/run takes an API key, not the session token
        req.add_header("x-api-key", api_key)
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (loopback)
        return json.loads(resp.read() or b"null")


def _langflow_flow(site: Path) -> dict:
    """ChatInput -> ChatOutput, both nodes as Langflow's own starter project defines them."""
    starter = json.loads((site / "langflow/initial_setup/starter_projects/"
                          "Basic Prompting.json").read_text())
    nodes = {n["data"].get("type"): n for n in starter["data"]["nodes"]}
    cin, cout = nodes["ChatInput"], nodes["ChatOutput"]
    src = {"dataType": "ChatInput", "id": cin["id"], "name": "message",
           "output_types": ["Message"]}
    dst = {"fieldName": "input_value", "id": cout["id"],
           "inputTypes": ["Data", "JSON", "DataFrame", "Table", "Message"], "type": "str"}

    def handle(d: dict) -> str:
        return json.dumps(d, separators=(", ", ": ")).replace('"', "\u0153")

    edge = {"source": cin["id"], "target": cout["id"], "sourceHandle": handle(src),
            "targetHandle": handle(dst), "data": {"sourceHandle": src, "targetHandle": dst},
            "id": f"xy-edge__{cin['id']}-{cout['id']}"}
    return {"name": "aiaudit echo", "description": "recorded by aiaudit",
            "data": {"nodes": [cin, cout], "edges": [edge],
                     "viewport": {"x": 0, "y": 0, "zoom": 1}}}


def record_langflow(url: str, config_dir: Path, site: Path) -> Path:
    token = _call(f"{url}/api/v1/auto_login")["access_token"]  # type: ignore[index]
    key = _call(f"{url}/api/v1/api_key/", "POST", {"name": "aiaudit"}, token)
    api_key = key["api_key"]  # type: ignore[index]
    flow = _call(f"{url}/api/v1/flows/", "POST", _langflow_flow(site), token)
    flow_id = flow["id"]  # type: ignore[index]
    for session, text in (("aiaudit-clean", "what is on my calendar today?"),
                          ("aiaudit-planted", "what is on my calendar today?"),
                          ("aiaudit-planted", f"use my key {PLANTED} for the report")):
        _call(f"{url}/api/v1/run/{flow_id}", "POST",
              {"input_value": text, "input_type": "chat", "output_type": "chat",
               "session_id": session}, api_key=api_key)
    # A provider key saved the way Langflow's settings page offers: as a Credential
    # (encrypted with secret_key) and, by mistake, as a Generic variable (kept as typed).
    for name, type_ in (("OPENAI_KEY_CREDENTIAL", "Credential"),
                        ("OPENAI_KEY_GENERIC", "Generic")):
        _call(f"{url}/api/v1/variables/", "POST",
              {"name": name, "value": PLANTED_CONFIG, "type": type_,
               "default_fields": []}, token)
    time.sleep(2)
    return dump_langflow(config_dir, str(flow_id))


def dump_langflow(config_dir: Path, flow_id: str) -> Path:
    hexid = flow_id.replace("-", "")
    return dump(config_dir / "langflow.db", FIXTURES / "langflow.sql", LANGFLOW_ROWS,
                {"flow": f"id = '{hexid}'", "message": f"flow_id = '{hexid}'"})


def dump(db: Path, out: Path, tables: tuple[str, ...], where: dict[str, str]) -> Path:
    """Schema of every table and index, rows of `tables` (and of `where`'s, filtered)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    lines = ["PRAGMA foreign_keys=OFF;", "BEGIN TRANSACTION;"]
    for (sql,) in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND "
                               "type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' "
                               "ORDER BY type DESC, name"):
        lines.append(sql + ";")
    for table in dict.fromkeys((*tables, *where)):
        cond = f" WHERE {where[table]}" if table in where else ""
        try:
            rows = conn.execute(f'SELECT * FROM "{table}"{cond}').fetchall()
        except sqlite3.OperationalError:
            continue
        for row in rows:
            values = ", ".join(_literal(v) for v in row)
            lines.append(f'INSERT INTO "{table}" VALUES({values});')
    lines.append("COMMIT;")
    conn.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    return "'" + str(value).replace("'", "''") + "'"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("app", choices=["langflow"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--config-dir", required=True, type=Path)
    ap.add_argument("--site", type=Path, help="Langflow's site-packages",
                    default=next(Path("/opt/aiaudit-fw/langflow/lib").glob(
                        "python3*/site-packages"), Path("/nonexistent")))
    args = ap.parse_args(argv)
    out = record_langflow(args.url.rstrip("/"), args.config_dir, args.site)
    print(f"recorded {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
