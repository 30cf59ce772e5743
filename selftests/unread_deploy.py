"""Deployments the auditor cannot (fully) read, built with the real software, for the
"nothing unread is PASS" meta self-test.

* A Hermes Agent 0.19.0 home written by Hermes' own CLI (`hermes config set` puts literal
  keys in `.env` and `config.yaml`) and its own `SessionDB` (state.db with a message),
  then handed to another account with 0700/0600.
* An unprivileged audit account that logs in over SSH to an sshd of its own on loopback.
* A SQLCipher store (real SQLCipher through sqlcipher3) in a Hermes layout.
Everything lives below one 0755 base dir that the fixture removes; the two accounts stay.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERMES_VENV = Path("/opt/aiaudit-fw/hermes")
HERMES = HERMES_VENV / "bin" / "hermes"
HERMES_VERSION = "0.19.0"
OWNER = "aiaudit-fwowner"  # the account the framework runs as
AUDITOR = "aiaudit-auditor"  # the unprivileged SSH audit account
SSHD = "/usr/sbin/sshd"


def ensure_hermes() -> Path:
    """hermes-agent in its shared venv (installed under the shared lock when missing)."""
    if HERMES.exists():
        return HERMES
    HERMES_VENV.parent.mkdir(parents=True, exist_ok=True)
    lock = HERMES_VENV.parent / ".hermes.lock"
    script = (f"[ -x {HERMES} ] || {{ python3 -m venv {HERMES_VENV} && "
              f"{HERMES_VENV}/bin/pip install -q hermes-agent=={HERMES_VERSION}; }}")
    subprocess.run(["flock", str(lock), "sh", "-c", script], check=True, timeout=900)
    return HERMES


def ensure_user(name: str, home: Path) -> None:
    """A login account with no password (key login only) and the given home."""
    known = subprocess.run(["getent", "passwd", name], capture_output=True, text=True)
    if known.returncode != 0:
        subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", name], check=True)
    else:
        subprocess.run(["usermod", "-d", str(home), name], check=True)
    subprocess.run(["usermod", "-p", "*", name], check=True)  # "*": no password, not locked


def fake_key(prefix: str, n: int = 48) -> str:
    """A key-shaped string made here (not a real credential) for the planted config."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(n))


def build_hermes_home(home: Path) -> Path:
    """~/.hermes built by Hermes itself: literal keys in .env and config.yaml, a state.db."""
    hermes_home = home / ".hermes"
    env = {**os.environ, "HOME": str(home), "HERMES_HOME": str(hermes_home)}
    for key, value in (("OPENAI_API_KEY", fake_key("sk-proj-")),
                       ("model.provider", "custom"),
                       ("model.api_key", fake_key("sk-ant-api03-", 80))):
        subprocess.run([str(HERMES), "config", "set", key, value], env=env, check=True,
                       capture_output=True, timeout=120)
    write_db = ("from hermes_state import SessionDB\n"
                "db = SessionDB()\n"
                "sid = db.create_session('20261202_120000_abc123', 'cli')\n"
                f"db.append_message(sid, 'user', 'my key is {fake_key('sk-proj-')}')\n")
    subprocess.run([str(HERMES_VENV / "bin" / "python"), "-c", write_db], env=env,
                   check=True, capture_output=True, timeout=120)
    return hermes_home


def make_private(tree: Path, owner: str) -> None:
    """Owned by `owner`, dirs 0700 and files 0600 (Hermes' own intent for its home)."""
    subprocess.run(["chown", "-R", f"{owner}:", str(tree)], check=True)
    for path in [tree, *tree.rglob("*")]:
        if path.is_symlink():
            continue
        path.chmod(0o700 if path.is_dir() else 0o600)


def sqlcipher_store(state_dir: Path, key_hex: str) -> Path:
    """A SQLCipher state.db (raw 256-bit key) holding one message."""
    import sqlcipher3

    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    db = state_dir / "state.db"
    conn = sqlcipher3.connect(str(db))
    conn.execute(f"PRAGMA key = \"x'{key_hex}'\"")
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, session_id TEXT, "
                 "content TEXT, timestamp REAL)")
    conn.execute("INSERT INTO messages (session_id, content, timestamp) VALUES (?, ?, ?)",
                 ("s1", f"my key is {fake_key('sk-proj-')}", time.time()))
    conn.commit()
    conn.close()
    db.chmod(0o600)
    return db


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SshLogin:
    """An sshd on loopback that admits only the audit account, and the client files."""

    proc: subprocess.Popen
    port: int
    ssh_config: Path
    identity: Path

    @property
    def target(self) -> str:
        return f"ssh://{AUDITOR}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_sshd(base: Path) -> SshLogin:
    d = base / "sshd"
    d.mkdir(mode=0o755)
    host_key, client_key = d / "host_key", base / "client_key"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    auth = d / "authorized_keys"
    auth.write_text(Path(f"{client_key}.pub").read_text())
    auth.chmod(0o644)
    port = free_port()
    config = d / "sshd_config"
    config.write_text(f"""ListenAddress 127.0.0.1
Port {port}
HostKey {host_key}
PidFile {d / 'sshd.pid'}
AllowUsers {AUDITOR}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {auth}
UsePAM no
StrictModes no
PrintMotd no
""")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    subprocess.run([SSHD, "-t", "-f", str(config)], check=True, capture_output=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    known = base / "known_hosts"
    key_type, key_b64 = Path(f"{host_key}.pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{port} {key_type} {key_b64}\n")
    ssh_config = base / "ssh_config"
    ssh_config.write_text(f"""Host 127.0.0.1
    User {AUDITOR}
    Port {port}
    IdentityFile {client_key}
    IdentitiesOnly yes
    UserKnownHostsFile {known}
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR
""")
    login = SshLogin(proc, port, ssh_config, client_key)
    deadline = time.monotonic() + 20
    while True:
        done = subprocess.run(["ssh", "-F", str(ssh_config), "127.0.0.1", "id", "-un"],
                              capture_output=True, text=True, timeout=15)
        if done.returncode == 0 and done.stdout.strip() == AUDITOR:
            return login
        if time.monotonic() > deadline or proc.poll() is not None:
            login.stop()
            raise RuntimeError(f"ssh login as {AUDITOR} failed: {done.stderr.strip()}")
        time.sleep(0.3)


def new_base() -> Path:
    """A 0755 scratch dir (pytest's tmp dirs are 0700 root: the audit account could not
    even reach what it should find closed)."""
    base = Path(tempfile.mkdtemp(prefix="aiaudit-unread-"))
    base.chmod(0o755)
    return base


def remove(base: Path) -> None:
    shutil.rmtree(base, ignore_errors=True)
