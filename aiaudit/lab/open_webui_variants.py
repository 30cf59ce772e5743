"""More real Open WebUI 0.12.4 deployment states, as users run it, for the held-out-style
check of the suite's verdicts (selftests/test_open_webui_variants.py).

Each variant is one deployment under ROOT/<name>/ (a user home `home/`, and `srv/` when
the operator keeps Open WebUI outside it), written only by the real `open-webui serve`
through its own HTTP API (sign-up, users, chats, files, archive, share, delete) and its
start-up (migrations, config seeding, `.webui_secret_key`); chat turns run against the lab
model. The builder's own steps are the operator's (chmod, cp, gzip, a SQLite backup, moving
chat times back) and say so. What each variant plants and why the expected statuses follow
from Open WebUI's source is in selftests/expected/real/open_webui_variants.toml.

`pip-default` is `pip install open-webui` into ~/venv and `open-webui serve` run from the
home without DATA_DIR: Open WebUI then keeps its data in the package's own directory
(open_webui/env.py: FROM_INIT_PY -> DATA_DIR = OPEN_WEBUI_DIR / 'data', i.e.
~/venv/lib/python3.11/site-packages/open_webui/data) and its secret key in the working
directory (open_webui/__init__.py KEY_FILE = Path.cwd() / '.webui_secret_key'). The venv
is the installed one's package hard-linked into a venv of its own (the shared install is
never written), its other dependencies reached through a .pth file.

    python3 -m aiaudit.lab.open_webui_variants build ROOT [--only NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LabError
from .hermes_states import fake_openai_key, loopback_llm
from .open_webui_states import (
    OPENWEBUI_VENV,
    Server,
    WebUIState,
    _backup,
    _checkpoint,
    open_webui_bin,
)

PY = "python3.11"
SITE = f"lib/{PY}/site-packages"
BACKDATE_DAYS = 200
RECORDING = False  # fixed, visibly fake keys (the recorded fixtures are stable files)


def _key(v: Variant, what: str) -> str:
    """A fake provider key planted in the variant (visibly fake when recording)."""
    if not RECORDING:
        return fake_openai_key()
    import base64
    import hashlib

    # a run of zeros reads as a placeholder to the secret engine: the tail is a digest
    tail = base64.b32encode(hashlib.sha256(f"{v.name}/{what}".encode()).digest()).decode()
    tag = "".join(ch for ch in f"{v.name}{what}".title() if ch.isalnum())
    return ("sk-proj-aiauditFake" + tag + tail.lower())[:56]
# what dates a conversation and its copies (models/chats.py, chat_messages.py,
# shared_chats.py): moved back together, as an old deployment's rows would be
TIMES = {"chat": ("created_at", "updated_at", "last_read_at"),
         "chat_message": ("created_at", "updated_at"),
         "shared_chat": ("created_at", "updated_at")}


@dataclass
class Variant:
    """One built deployment: where its data, store and key are, how its server runs, and
    the places an auditor would name in `[deployment] homes`."""

    name: str
    root: Path
    home: Path
    data_dir: Path
    db: Path
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    unit: bool = True  # a systemd unit says how it runs (else started by hand)
    scopes: dict[str, list[Path]] = field(default_factory=dict)
    backup_dirs: list[Path] = field(default_factory=list)
    users: list[dict[str, str]] = field(default_factory=list)  # [[users]] for STO-06
    planted: dict[str, str] = field(default_factory=dict)


def _new(root: Path, name: str, data_rel: str = "srv/open-webui/data",
         cwd_rel: str = "srv/open-webui") -> Variant:
    base = root / name
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    data = base / data_rel
    data.mkdir(parents=True, exist_ok=True)
    cwd = base / cwd_rel
    cwd.mkdir(parents=True, exist_ok=True)
    v = Variant(name, base, home, data, data / "webui.db", cwd,
                env={"DATA_DIR": str(data)},
                argv=[str(OPENWEBUI_VENV / "bin" / "open-webui"), "serve"])
    v.scopes = {"data": [data]}
    return v


class UI(Server):
    """A Server whose environment is exactly the variant's (DATA_DIR may be unset)."""

    def __init__(self, v: Variant, llm: str | None, argv: list[str] | None = None):
        state = WebUIState(v.name, v.root, v.cwd, v.data_dir, v.root / "audit.toml")
        env = {**v.env}
        if llm:
            env.update({"OPENAI_API_BASE_URLS": llm, "OPENAI_API_KEYS": "none"})
            env.update({k: v.env[k] for k in ("OPENAI_API_KEYS",) if k in v.env})
        super().__init__(state, env, v.root / "open-webui.log", argv)
        self.env["HOME"] = str(v.home)
        if "DATA_DIR" not in v.env:
            self.env.pop("DATA_DIR", None)

    def signin(self, email: str, password: str) -> str:
        out = self.call("POST", "/api/v1/auths/signin", {"email": email, "password": password})
        return str(out["token"])  # type: ignore[index]

    def add_user(self, name: str, email: str, password: str) -> None:
        self.call("POST", "/api/v1/auths/add", {"name": name, "email": email,
                                                "password": password, "role": "user"})

    def note_chat(self, user_text: str, answer: str) -> str:
        """A chat saved as the web UI saves one (POST /api/v1/chats/new with its history),
        without a model turn."""
        uid, aid = str(uuid.uuid4()), str(uuid.uuid4())
        now = int(time.time())
        user = {"id": uid, "parentId": None, "childrenIds": [aid], "role": "user",
                "content": user_text, "timestamp": now}
        bot = {"id": aid, "parentId": uid, "childrenIds": [], "role": "assistant",
               "content": answer, "timestamp": now}
        chat = self.call("POST", "/api/v1/chats/new", {"chat": {
            "title": user_text[:40], "messages": [user, bot],
            "history": {"messages": {uid: user, aid: bot}, "currentId": aid}}})
        return str(chat["id"])  # type: ignore[index]

    def upload(self, name: str, text: str) -> dict:
        """POST /api/v1/files/ (routers/files.py upload_file) as the browser sends it."""
        boundary = "aiaudit" + secrets.token_hex(8)
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
                f"--{boundary}--\r\n").encode()
        import urllib.request
        req = urllib.request.Request(
            self.base + "/api/v1/files/?process=true&process_in_background=false", data=body,
            method="POST", headers={"Authorization": f"Bearer {self.token}",
                                    "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=300) as resp:  # loopback only
            return json.loads(resp.read())


def _serve(v: Variant, llm: str | None) -> contextlib.AbstractContextManager[UI]:
    @contextlib.contextmanager
    def run():
        ui = UI(v, llm, v.argv[:1] + ["serve", "--host", "127.0.0.1", "--port", "0"])
        ui.argv = [*v.argv[:2], "--host", "127.0.0.1", "--port", str(ui.port)]
        try:
            ui.start()
            yield ui
        finally:
            ui.stop()
    return run()


def _admin(ui: UI) -> str:
    password = secrets.token_urlsafe(18)
    ui.sign_up_admin(password)
    return password


def _shift(db: Path, seconds: int) -> None:
    """Move chat times by `seconds` (the operator's back-dating of an old deployment)."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for table, cols in TIMES.items():
            have = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            sets = ", ".join(f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE {c} + ? END"
                             for c in cols if c in have)
            if sets:
                conn.execute(f"UPDATE {table} SET {sets}",
                             (seconds,) * len([c for c in cols if c in have]))


def pip_venv(home: Path) -> Path:
    """~/venv as `python3 -m venv ~/venv && ~/venv/bin/pip install open-webui` leaves it:
    the package in its own site-packages (hard links of the shared install), the rest of
    the dependencies through a .pth file."""
    venv = home / "venv"
    base = Path(os.path.realpath(OPENWEBUI_VENV / "bin" / "python3"))
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    site = venv / SITE
    for name in ("open_webui", "open_webui-0.12.4.dist-info"):
        subprocess.run(["cp", "-al", str(OPENWEBUI_VENV / SITE / name), str(site / name)],
                       check=True, timeout=300)
    (site / "zz_openwebui_deps.pth").write_text(str(OPENWEBUI_VENV / SITE) + "\n")
    script = venv / "bin" / "open-webui"
    script.write_text(f"#!{venv}/bin/python3\nimport sys\nfrom open_webui import app\n"
                      "if __name__ == '__main__':\n    sys.exit(app())\n")
    script.chmod(0o755)
    return venv


# --------------------------------------------------------------------------- variants


def pip_default(root: Path, llm: str | None) -> Variant:
    """`pip install open-webui` in ~/venv, `open-webui serve` run by hand from the home,
    no DATA_DIR: webui.db in the package dir, .webui_secret_key in the home (0644 at the
    umask), a clean chat; no unit (started by hand)."""
    v = _new(root, "pip-default")
    shutil.rmtree(v.root / "srv")
    venv = pip_venv(v.home)
    v.data_dir = venv / SITE / "open_webui" / "data"
    v.db, v.cwd = v.data_dir / "webui.db", v.home
    v.env, v.unit = {}, False
    v.argv = [str(venv / "bin" / "open-webui"), "serve"]
    with _serve(v, llm) as ui:
        _admin(ui)
        ui.chat("Summarise in one line: the team lunch moved to Friday.")
    v.scopes = {"home": [v.home], "venv": [venv], "data": [v.data_dir]}
    return v


def db_elsewhere(root: Path, llm: str | None) -> Variant:
    """DATA_DIR for files and the vector store, DATABASE_URL putting webui.db on another
    path (sqlite:////srv/open-webui/db/webui.db); a key pasted into a real chat turn."""
    v = _new(root, "db-elsewhere")
    dbdir = v.root / "srv" / "open-webui" / "db"
    dbdir.mkdir(parents=True)
    v.db = dbdir / "webui.db"
    v.env["DATABASE_URL"] = f"sqlite:///{v.db}"
    key = _key(v, "chat")
    v.planted["chat turn"] = key
    with _serve(v, llm) as ui:
        _admin(ui)
        ui.chat(f"Keep this for the deploy script, my OpenAI key is {key} . Reply OK.")
    # named: both dirs; the data dir with the unit (whose DATABASE_URL leads to webui.db);
    # the data dir alone ("-nounit": the audit config names no unit)
    v.scopes = {"data+db": [v.data_dir, dbdir], "data": [v.data_dir],
                "data-nounit": [v.data_dir]}
    return v


def env_key_persistent(root: Path, llm: str | None) -> Variant:
    """The provider key handed in as OPENAI_API_KEY with ENABLE_PERSISTENT_CONFIG left at
    its default (True): start-up copies it into the config table (openai.api_keys). The
    rest as the hardening docs say: loopback, WEBUI_SECRET_KEY from the environment,
    DATA_DIR 0700."""
    v = _new(root, "env-key-persistent")
    key = _key(v, "env")
    v.planted["OPENAI_API_KEY"] = key
    v.env.update({"OPENAI_API_KEY": key, "WEBUI_SECRET_KEY": secrets.token_urlsafe(48),
                  "ENABLE_SIGNUP": "false"})
    with _serve(v, None) as ui:
        _admin(ui)
        ui.note_chat("Draft a two-line status update.", "Status: on track. Next: review.")
    v.env.pop("OPENAI_API_KEY")  # the unit loads both from a credential file
    v.env.pop("WEBUI_SECRET_KEY")
    v.argv += ["--host", "127.0.0.1"]
    _private(v)
    return v


def upload_secret(root: Path, llm: str | None) -> Variant:
    """A user attaches a text file holding a (fake) key to a chat: Open WebUI keeps it in
    uploads/<id>_<name>, its extracted text in webui.db's file table, and its chunks in
    the vector store when embedding works (offline here: maybe not)."""
    v = _new(root, "upload-secret")
    key = _key(v, "upload")
    v.planted["uploaded file"] = key
    with _serve(v, llm) as ui:
        _admin(ui)
        try:
            f = ui.upload("deploy-notes.txt", f"Deploy notes\nOPENAI_API_KEY={key}\n")
        except Exception as exc:  # noqa: BLE001 - processing may fail offline: say so
            v.planted["upload error"] = str(exc)[:200]
            f = {}
        v.planted["file id"] = str(f.get("id", ""))
        ui.note_chat("Summarise the attached deploy notes.", "They list one setting.")
    return v


def deleted_chat(root: Path, llm: str | None) -> Variant:
    """A key pasted into a real chat turn, then the chat deleted through the API
    (DELETE /api/v1/chats/{id}): the rows go, the text stays in SQLite's free pages
    (Open WebUI sets no secure_delete and never vacuums). One clean chat stays."""
    v = _new(root, "deleted-chat")
    key = _key(v, "deleted")
    v.planted["deleted chat"] = key
    with _serve(v, llm) as ui:
        _admin(ui)
        cid = ui.chat(f"Keep this for the deploy script, my OpenAI key is {key} . Reply OK.")
        ui.call("DELETE", f"/api/v1/chats/{cid}")
        ui.note_chat("What is on the calendar today?", "Nothing is scheduled.")
    _checkpoint(v.db)
    _private(v)
    return v


def archived_shared(root: Path, llm: str | None) -> Variant:
    """Two old chats (moved back 200 days): one archived (hidden, still stored), one
    shared by link (shared_chat keeps a copy)."""
    v = _new(root, "archived-shared")
    with _serve(v, None) as ui:
        _admin(ui)
        a = ui.note_chat("Plan the sprint review.", "Agenda drafted.")
        s = ui.note_chat("Share the offsite agenda.", "Day one: planning.")
        ui.call("POST", f"/api/v1/chats/{a}/archive")
        ui.call("POST", f"/api/v1/chats/{s}/share")
    _checkpoint(v.db)
    _shift(v.db, -BACKDATE_DAYS * 86400)
    _private(v)
    return v


def no_auth(root: Path, llm: str | None) -> Variant:
    """WEBUI_AUTH=False (single-user mode: no login, everyone is admin) on loopback,
    DATA_DIR 0700, a clean chat."""
    v = _new(root, "no-auth")
    v.env.update({"WEBUI_AUTH": "False"})
    with _serve(v, None) as ui:
        ui.token = ui.signin("", "")
        ui.note_chat("List three colours.", "Red, green, blue.")
    v.argv += ["--host", "127.0.0.1"]
    _private(v)
    return v


def multi_user(root: Path, llm: str | None) -> Variant:
    """An admin and two users added through the admin API, each with a chat; admin chat
    access left at its default (ENABLE_ADMIN_CHAT_ACCESS True)."""
    v = _new(root, "multi-user")
    with _serve(v, None) as ui:
        _admin(ui)
        admin_token = ui.token
        for name in ("alice", "bob"):
            password = secrets.token_urlsafe(12)
            ui.token = admin_token
            ui.add_user(name.title(), f"{name}@example.com", password)
            ui.token = ui.signin(f"{name}@example.com", password)
            ui.note_chat(f"{name.title()}'s private notes for the review.", "Noted.")
            v.users.append({"name": name, "email": f"{name}@example.com"})
    _private(v)
    return v


def backups(root: Path, llm: str | None) -> Variant:
    """A key pasted into a chat, then the operator's copies (`cp webui.db webui.db.bak`
    and `gzip -k` beside it, a SQLite online backup in ~/backups, all 0644), then the chat
    deleted: the live store no longer lists it, every backup still holds it."""
    v = _new(root, "backups")
    key = _key(v, "backup")
    v.planted["backed-up chat"] = key
    with _serve(v, llm) as ui:
        _admin(ui)
        cid = ui.chat(f"Keep this for the deploy script, my OpenAI key is {key} . Reply OK.")
        _checkpoint(v.db)
        shutil.copy2(v.db, v.data_dir / "webui.db.bak")
        with open(v.db, "rb") as src, gzip.open(v.data_dir / "webui.db.gz", "wb") as out:
            shutil.copyfileobj(src, out)
        bdir = v.home / "backups"
        bdir.mkdir()
        _backup(v.db, bdir / "webui-backup.db")
        for p in (v.data_dir / "webui.db.bak", v.data_dir / "webui.db.gz",
                  bdir / "webui-backup.db"):
            p.chmod(0o644)
        ui.call("DELETE", f"/api/v1/chats/{cid}")
    _checkpoint(v.db)
    v.backup_dirs = [v.home / "backups"]
    return v


def key_file_open(root: Path, llm: str | None) -> Variant:
    """DATA_DIR closed by the operator (0700, webui.db 0600) but the `.webui_secret_key`
    that `serve` wrote in its working directory (0644 at the umask, in a 0755 dir) left as
    it is: every local user can read the key that signs the session tokens."""
    v = _new(root, "key-file-open")
    with _serve(v, None) as ui:
        _admin(ui)
        ui.note_chat("Draft the release notes.", "Release notes drafted.")
    v.argv += ["--host", "127.0.0.1"]
    v.data_dir.chmod(0o700)
    for p in v.db.parent.glob("webui.db*"):
        p.chmod(0o600)
    return v


def _private(v: Variant) -> None:
    """The operator's hardening of modes: DATA_DIR 0700, webui.db and the key file
    `serve` wrote (at the umask) 0600."""
    v.data_dir.chmod(0o700)
    for p in [*v.db.parent.glob("webui.db*"), v.cwd / ".webui_secret_key"]:
        if p.exists():
            p.chmod(0o600)


BUILDERS: dict[str, Callable[[Path, str | None], Variant]] = {
    "pip-default": pip_default, "db-elsewhere": db_elsewhere,
    "env-key-persistent": env_key_persistent, "upload-secret": upload_secret,
    "deleted-chat": deleted_chat, "archived-shared": archived_shared, "no-auth": no_auth,
    "multi-user": multi_user, "backups": backups, "key-file-open": key_file_open,
}


def unit_text(v: Variant) -> str:
    """The systemd unit of the variant's server (its real command line and environment
    names; secrets come from a credential file, never the unit)."""
    env = [f"Environment={k}={val}" for k, val in v.env.items()]
    return "\n".join(["[Unit]", "Description=Open WebUI", "", "[Service]",
                      f"WorkingDirectory={v.cwd}", *env, f"ExecStart={' '.join(v.argv)}", "",
                      "[Install]", "WantedBy=multi-user.target", ""])


def describe(v: Variant) -> dict[str, object]:
    rel = lambda p: str(Path(p).relative_to(v.root))  # noqa: E731
    return {"data_dir": rel(v.data_dir), "db": rel(v.db), "cwd": rel(v.cwd),
            "scopes": {k: [rel(p) for p in ps] for k, ps in v.scopes.items()},
            "backup_dirs": [rel(b) for b in v.backup_dirs], "users": v.users,
            "unit": v.unit, "planted": v.planted, "recorded_at": int(time.time())}


def build(root: Path, names: list[str]) -> dict[str, Variant]:
    open_webui_bin()
    root.mkdir(parents=True, exist_ok=True)
    out: dict[str, Variant] = {}
    with loopback_llm(root / "llm.log") as llm:
        for name in names:
            if (root / name).exists():
                shutil.rmtree(root / name)
            started = time.monotonic()
            v = out[name] = BUILDERS[name](root, llm)
            if v.unit:
                unit = v.root / "systemd" / "open-webui.service"
                unit.parent.mkdir(parents=True, exist_ok=True)
                unit.write_text(unit_text(v))
            (v.root / "variant.json").write_text(json.dumps(describe(v), indent=1))
            print(f"built {name} in {time.monotonic() - started:.0f}s", file=sys.stderr,
                  flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m aiaudit.lab.open_webui_variants")
    parser.add_argument("op", choices=("build",))
    parser.add_argument("root", type=Path)
    parser.add_argument("--only", nargs="*", choices=sorted(BUILDERS))
    parser.add_argument("--recording", action="store_true",
                        help="plant fixed, visibly fake keys (for the recorded fixtures)")
    args = parser.parse_args(argv)
    global RECORDING
    RECORDING = args.recording
    try:
        built = build(args.root, args.only or list(BUILDERS))
    except (LabError, subprocess.SubprocessError, OSError, sqlite3.Error) as exc:
        print(f"open_webui_variants: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    print(json.dumps({n: describe(v) for n, v in built.items()}))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
