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
import urllib.error
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


FLOWISE_ROWS = ("chat_message", "credential", "apikey", "variable")


def record_flowise(url: str, home: Path, package: Path, llm: str,
                   delete_planted: bool = False) -> Path:
    """Flowise 3.1.4 (`flowise start` with HOME=<home>, so ~/.flowise is <home>/.flowise):
    an admin registered and logged in (POST /api/v1/account/register, /auth/login), an
    OpenAI credential holding the planted config key (Flowise encrypts it with
    encryption.key), the marketplace's "Conversation Chain" chatflow pointed at the lab's
    llama server (`llm`: its OpenAI-compatible base URL), and three predictions in two
    sessions (POST /api/v1/prediction/<id>), one carrying the planted key. With
    `delete_planted` (state flowise-deleted) the planted session is then deleted through
    Flowise's API and database.sqlite is kept as a file (its freed pages included)."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(path: str, body: object = None, method: str = "POST") -> object:
        req = urllib.request.Request(f"{url}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None
                                     else None, headers={"Content-Type": "application/json",
                                                         "x-request-from": "internal"})
        with opener.open(req, timeout=600) as resp:
            return json.loads(resp.read() or b"null")

    user = {"name": "admin", "email": "admin@example.com", "credential": "Aiaudit-Pass-2026!"}
    try:
        call("/api/v1/account/register", {"user": user})
    except urllib.error.HTTPError:
        pass  # registered by an earlier run
    call("/api/v1/auth/login", {"email": user["email"], "password": user["credential"]})
    cred = call("/api/v1/credentials", {"name": "lab openai", "credentialName": "openAIApi",
                                        "plainDataObj": {"openAIApiKey": PLANTED_CONFIG}})
    flow = json.loads((package / "marketplaces/chatflows/Conversation Chain.json").read_text())
    for node in flow["nodes"]:
        if node["data"]["name"] == "chatOpenAI":
            node["data"]["credential"] = cred["id"]  # type: ignore[index]
            node["data"]["inputs"].update({"modelName": "smollm2-135m-instruct",
                                           "basepath": llm, "maxTokens": "48",
                                           "temperature": 0.2})
    chatflow = call("/api/v1/chatflows", {"name": "aiaudit conversation", "type": "CHATFLOW",
                                          "flowData": json.dumps(flow), "deployed": False})
    flow_id = chatflow["id"]  # type: ignore[index]
    for session, text in (("aiaudit-clean", "what is on my calendar today?"),
                          ("aiaudit-planted", "what is on my calendar today?"),
                          ("aiaudit-planted", f"use my key {PLANTED} for the report")):
        call(f"/api/v1/prediction/{flow_id}",
             {"question": text, "overrideConfig": {"sessionId": session}})
    record_flowise_variable(call)
    time.sleep(2)
    if not delete_planted:
        return dump_flowise(home, flow_id)
    # the planted session deleted through Flowise's own API, as its "Delete all" in the
    # view-messages dialog does (dist/controllers/chat-messages/index.js
    # removeAllChatMessages: hardDelete also clears the memory node's session)
    call(f"/api/v1/chatmessage/{flow_id}?sessionId=aiaudit-planted&hardDelete=true",
         method="DELETE")
    time.sleep(2)
    return pack_file(home / ".flowise" / "database.sqlite",
                     FIXTURES / "flowise-deleted.sqlite.gz")


def pack_file(db: Path, out: Path) -> Path:
    """The store file as the app left it, gzipped (mtime 0): a dump would lose the freed
    pages a delete leaves, which is what the state is about."""
    import gzip

    if any(db.with_name(db.name + s).exists() for s in ("-wal", "-journal")):
        raise RuntimeError(f"{db} has a -wal/-journal beside it: stop the app first")
    out.write_bytes(gzip.compress(db.read_bytes(), mtime=0))
    return out


def record_flowise_variable(call) -> None:  # noqa: ANN001
    """A provider key saved as a static Variable (dist/database/entities/Variable.js: its
    value is stored as typed; Flowise encrypts Credentials only)."""
    call("/api/v1/variables", {"name": "openai_key", "value": PLANTED_CONFIG,
                               "type": "static"})


def dump_flowise(home: Path, flow_id: str) -> Path:
    return dump(home / ".flowise" / "database.sqlite", FIXTURES / "flowise.sql", FLOWISE_ROWS,
                {"chat_flow": f"id = '{flow_id}'", "chat_message": f"chatflowid = '{flow_id}'"})


MLFLOW_ROWS = ("experiments", "experiment_tags", "trace_info", "trace_tags",
               "trace_request_metadata", "spans", "alembic_version")
# MLflow's own tracing API writes the traces: a traced chat call per session.
MLFLOW_SCRIPT = """
import sys, mlflow
mlflow.set_tracking_uri(f"sqlite:///{sys.argv[1]}/mlflow.db")
mlflow.set_experiment("aiaudit-chat")

@mlflow.trace(span_type="CHAT_MODEL")
def chat(messages):
    return {"choices": [{"message": {"role": "assistant",
                                     "content": "noted: " + messages[-1]["content"]}}]}

for session, text in (("clean", "what is on my calendar today?"),
                      ("planted", f"use my key {sys.argv[2]} for the report")):
    with mlflow.start_span(name=f"session-{session}") as span:
        span.set_attribute("session", session)
        chat([{"role": "user", "content": text}])
"""


def record_mlflow(out_dir: Path, python: Path) -> Path:
    """MLflow 3.17.2's tracing API (its own venv's python) writes two traced chat calls,
    one with the planted key, into <out_dir>/mlflow.db (its default SQLite store)."""
    import subprocess

    out_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python), "-c", MLFLOW_SCRIPT, str(out_dir), PLANTED], check=True,
                   timeout=600)
    return dump(out_dir / "mlflow.db", FIXTURES / "mlflow.sql", MLFLOW_ROWS, {})


# MLflow's own client deletes the planted trace (MlflowClient.delete_traces)
MLFLOW_DELETE = """
import sys, mlflow
from mlflow import MlflowClient
mlflow.set_tracking_uri(f"sqlite:///{sys.argv[1]}/mlflow.db")
client = MlflowClient()
exp = client.get_experiment_by_name("aiaudit-chat")
planted = [t.info.trace_id for t in client.search_traces(locations=[exp.experiment_id])
           if any(s.name == "session-planted" for s in t.data.spans)]
assert client.delete_traces(experiment_id=exp.experiment_id, trace_ids=planted) == 1
"""


def record_mlflow_deleted(out_dir: Path, python: Path) -> Path:
    """The two traced calls, then the planted trace deleted through MLflow's client; the
    store kept as the file (gzipped), whatever its free pages hold."""
    import subprocess

    out_dir.mkdir(parents=True, exist_ok=True)
    for script, args in ((MLFLOW_SCRIPT, [PLANTED]), (MLFLOW_DELETE, [])):
        subprocess.run([str(python), "-c", script, str(out_dir), *args], check=True,
                       timeout=600)
    return pack_file(out_dir / "mlflow.db", FIXTURES / "mlflow-deleted.db.gz")


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
        # stored columns only: a generated one (MLflow's spans) takes no value
        cols = [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{table}")') if r[6] == 0]
        names = ", ".join(f'"{c}"' for c in cols)
        try:
            rows = conn.execute(f'SELECT {names} FROM "{table}"{cond}').fetchall()
        except sqlite3.OperationalError:
            continue
        for row in rows:
            values = ", ".join(_literal(v) for v in row)
            lines.append(f'INSERT INTO "{table}" ({names}) VALUES({values});')
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
    ap.add_argument("app", choices=["langflow", "flowise", "flowise-deleted", "mlflow",
                                    "mlflow-deleted"])
    ap.add_argument("--url", default="")
    ap.add_argument("--config-dir", required=True, type=Path,
                    help="Langflow: LANGFLOW_CONFIG_DIR; Flowise: the HOME it runs with")
    ap.add_argument("--llm", default="http://127.0.0.1:47866/v1",
                    help="the lab llama server's OpenAI-compatible base URL (Flowise)")
    ap.add_argument("--package", type=Path, help="Flowise's npm package dir",
                    default=Path("/opt/aiaudit-fw/flowise/node_modules/flowise"))
    ap.add_argument("--site", type=Path, help="Langflow's site-packages",
                    default=next(Path("/opt/aiaudit-fw/langflow/lib").glob(
                        "python3*/site-packages"), Path("/nonexistent")))
    args = ap.parse_args(argv)
    mlflow_python = Path("/opt/aiaudit-fw/mlflow/bin/python")
    if args.app == "mlflow":  # --config-dir: where mlflow.db is written; --url unused
        out = record_mlflow(args.config_dir, mlflow_python)
    elif args.app == "mlflow-deleted":
        out = record_mlflow_deleted(args.config_dir, mlflow_python)
    elif args.app.startswith("flowise"):
        out = record_flowise(args.url.rstrip("/"), args.config_dir, args.package, args.llm,
                             delete_planted=args.app == "flowise-deleted")
    else:
        out = record_langflow(args.url.rstrip("/"), args.config_dir, args.site)
    print(f"recorded {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
