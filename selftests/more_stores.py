"""More conversation stores written by real apps, for selftests/test_storage_more.py
(recorded by selftests/record_more_stores.py; expected statuses in
selftests/expected/real/more_stores.toml, written from each app's source first).

Open run (`[deployment] homes` names each state's own dir, no backup dirs):

* ray-job: Ray 2.60.0's temp dir (`ray start --temp-dir`, default `$RAY_TMPDIR`/`$TMPDIR`
  or /tmp, + `/ray`: ray/_common/utils.py get_default_ray_temp_dir) with the session a
  real `ray job submit` left: the job's stdout in `logs/job-driver-raysubmit_*.log`, its
  task's in `logs/worker-*.out`, both holding the prompt (an invented key) the job
  printed. Ray makes its temp, session and logs dirs 0777
  (ray/_common/utils.py try_to_create_directory: try_make_directory_shared), its logs
  0644; `session_latest` links to the session;
* ray-old: the same logs in a session 200 days old (dir name and file times), as Ray
  leaves old sessions: nothing deletes them (log rotation is by size only,
  ray/_common/ray_constants.py LOGGING_ROTATE_BYTES / LOGGING_ROTATE_BACKUP_COUNT);
* mlflow-files: the dir MLflow's file tracking store (`file:./mlruns`) was written in:
  `mlruns/<experiment>/traces/<trace>/` with trace_info.yaml (request_time,
  request_preview), artifacts/traces.json (the spans: inputs and outputs) and
  request_metadata/mlflow.traceInputs; 0755/0644 at umask 022;
* openclaw-deleted: OpenClaw 2026.9.6's pasted-secret variant after a second session was
  opened through its gateway (`openclaw agent --session-key agent:main:scratch-1`) and
  deleted (`openclaw sessions delete agent:main:scratch-1 --yes`): the gateway keeps the
  deleted transcript as `agents/main/sessions/<id>.jsonl.deleted.<stamp>.<gen>.zst`
  (docs/cli/sessions.md "Delete sessions"; session.maintenance.resetArchiveRetention unset:
  kept with no age cutoff, docs/reference/session-management-compaction/maintenance.md);
* llm-off-after / llm-off-first / llm-fragment: a home's ~/.config/io.datasette.llm as
  the llm CLI left it (0755 dir, 0644 logs.db): logging turned off after a logged prompt
  with a key (`logs-off` stops new logging, llm/cli.py logs_turn_off: what was logged
  stays), off before any prompt (logs.db holds llm's schema, no turn), and a key only in
  a fragment file passed with `-f` (llm keeps it in fragments.content).

Units run (`[deployment] units` only, the unit dir bound over /etc/systemd/system):
ray-flag and ray-env, Ray heads whose temp dir the unit names (`--temp-dir` in ExecStart,
RAY_TMPDIR in Environment=).

Backups run (`[storage] backup_dirs = [<base>/backups]`, the named Langflow config dir):

* bk-gpg: Flowise's hardened ~/.flowise (today's clean session) whose one backup,
  `database-<today>.sqlite.gpg`, is a `sqlite3 .backup` copy encrypted with
  `gpg --symmetric` (the passphrase never given to the audit);

* bk-live: Langflow's hardened store (0700/0600), its rows moved 400 days back, with one
  backup `langflow-<date>.db` made by the sqlite3 CLI's `.backup`, 400 days old (its
  rows and its mtime): a backup kept past retention, never renewed;
* backups/: standalone backups of stores not on this host, each made by its own tool:
  `chats-vacuum.sqlite` (sqlite3 `VACUUM INTO` of Open WebUI's recorded webui.db),
  `chats-sqlite3-backup.db` (sqlite3 `.backup` of Flowise's database.sqlite),
  `chats-flowise.tar.xz` (`tar cJf` of ~/.flowise), `chats-old.db.gz` (gzip of
  webui.db, 400 days old), `chats-plain.7z` (`7z a`, no password), `chats-enc.7z`
  (`7z a -p -mhe=on`), `chats.db.gpg` (`gpg --symmetric`), `chats.db.age`
  (`age -r`): the last three encrypted, the passphrase/identity never given to the audit;
  `mlruns-backup.tar.gz` (`tar czf` of MLflow's file store: JSON traces, no SQLite).
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import subprocess
import tarfile
import time
from pathlib import Path

from selftests import app_states

MORE = Path(__file__).resolve().parent / "fixtures" / "storage" / "more"
OLD_DAYS = 200
BACKUP_DAYS = 400


def _untar(src: Path, dest: Path) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(src) as tar:
        tar.extractall(dest, filter="fully_trusted")  # our own recording: Ray's 0777 dirs kept
        return [m.name for m in tar.getmembers()]


def _age_tree(root: Path, days: float) -> None:
    when = time.time() - days * 86400
    for path in (root, *root.rglob("*")):
        os.utime(path, (when, when), follow_symlinks=False)


def ray_state(root: Path, label: str, days: float = 0) -> Path:
    """Ray's temp dir holding the recorded session (moved `days` back)."""
    tmp = root / label / "ray"
    names = _untar(MORE / "ray-session-logs.tar.gz", tmp)
    session = tmp / names[0].split("/")[0]
    if days:
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S", time.gmtime(time.time() - days * 86400))
        old = tmp / ("session_" + stamp + session.name[len("session_2026-12-03_21-46-12"):])
        session.rename(old)
        session = old
        _age_tree(session, days)
    (tmp / "session_latest").symlink_to(session.name)
    for d in (tmp, session):
        d.chmod(0o777)
    return tmp


def mlflow_files(root: Path, label: str = "mlflow-files") -> Path:
    d = root / label
    _untar(MORE / "mlflow-mlruns.tar.gz", d)
    d.chmod(0o755)
    return d


def llm_state(root: Path, state: str) -> Path:
    """A home whose llm user dir is the recorded one (logs-off marker as llm left it)."""
    import json

    home = root / f"llm-{state}"
    user = home / ".config" / "io.datasette.llm"
    user.mkdir(parents=True)
    (user / "logs.db").write_bytes(gzip.decompress((MORE / f"llm-{state}.db.gz").read_bytes()))
    if json.loads((MORE / f"llm-{state}.json").read_text())["logs-off"]:
        (user / "logs-off").touch()
    for d in (user, user.parent):
        d.chmod(0o755)
    (user / "logs.db").chmod(0o644)
    return home


def openclaw_deleted(root: Path) -> Path:
    """OpenClaw's state dir after `openclaw sessions delete` (recorded with its real gateway
    on the pasted-secret variant: one more session, then deleted): the session's rows gone
    from the agent store, its transcript kept as a zstd `<id>.jsonl.deleted.<stamp>.<gen>.zst`
    archive (session-accessor.sqlite-archive-artifact.ts, 0600)."""
    _untar(MORE / "openclaw-deleted.tar.gz", root / "openclaw-deleted")
    return root / "openclaw-deleted" / "pasted-secret-deleted" / ".openclaw"


def open_states(root: Path) -> dict[str, Path]:
    """{label: the dir the audit names} of the open run."""
    return {"ray-job": ray_state(root, "ray-job"),
            "openclaw-deleted": openclaw_deleted(root),
            "ray-old": ray_state(root, "ray-old", OLD_DAYS),
            "mlflow-files": mlflow_files(root),
            # the same stores, the audit naming Ray's session (through its session_latest
            # link) and MLflow's mlruns dir itself rather than the dirs above them
            "ray-latest": ray_state(root, "ray-latest") / "session_latest",
            "mlflow-mlruns": mlflow_files(root, "mlflow-mlruns") / "mlruns",
            **{f"llm-{s}": llm_state(root, s) for s in ("off-after", "off-first", "fragment")}}


def ray_units(root: Path) -> Path:
    """A unit dir (bound over /etc/systemd/system) of two Ray heads the audit knows by their
    unit only: `ray start --head --temp-dir=<dir> --block` (ray-flag) and RAY_TMPDIR in the
    unit's Environment= (ray-env: Ray's temp dir is $RAY_TMPDIR/ray), each temp dir holding
    the recorded session."""
    units = root / "systemd"
    units.mkdir()
    flag = ray_state(root, "ray-flag")
    env = ray_state(root, "ray-env")  # <root>/ray-env/ray: RAY_TMPDIR=<root>/ray-env
    (units / "ray-flag.service").write_text(
        "[Unit]\nDescription=Ray head\n\n[Service]\nUser=root\n"
        f"ExecStart=/opt/venv/bin/ray start --head --temp-dir={flag} --block\n"
        "\n[Install]\nWantedBy=multi-user.target\n")
    (units / "ray-env.service").write_text(
        "[Unit]\nDescription=Ray head\n\n[Service]\nUser=root\n"
        f"Environment=RAY_TMPDIR={env.parent}\n"
        "ExecStart=/opt/venv/bin/ray start --head --block\n"
        "\n[Install]\nWantedBy=multi-user.target\n")
    return units


def _run(*argv: str, cwd: Path | None = None, stdin: bytes | None = None) -> None:
    subprocess.run(argv, cwd=cwd, check=True, timeout=120, input=stdin,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _old(path: Path, days: float) -> None:
    when = time.time() - days * 86400
    os.utime(path, (when, when))


def backup_states(root: Path) -> tuple[list[Path], Path]:
    """(the state dirs, backup dir) of the backups run."""
    cfg = app_states.langflow_state(root / "bk-live", "hardened")
    conn = sqlite3.connect(cfg / "langflow.db")
    conn.execute(f"UPDATE message SET timestamp = strftime('%Y-%m-%d %H:%M:%f', timestamp, "
                 f"'-{BACKUP_DAYS} days')")
    conn.commit()
    conn.close()
    backups = root / "backups"
    backups.mkdir(mode=0o700)
    stamp = time.strftime("%Y-%m-%d", time.gmtime(time.time() - BACKUP_DAYS * 86400))
    own = backups / f"langflow-{stamp}.db"
    _run("sqlite3", str(cfg / "langflow.db"), f".backup '{own}'")
    _old(own, BACKUP_DAYS)
    # the live store moves on: today's clean session only (the old rows pruned by hand)
    conn = sqlite3.connect(cfg / "langflow.db")
    conn.execute("UPDATE message SET timestamp = strftime('%Y-%m-%d %H:%M:%f', 'now')")
    conn.commit()
    conn.close()
    for f in cfg.iterdir():
        f.chmod(0o600)
    (cfg / ".env").unlink(missing_ok=True)
    cfg.chmod(0o700)

    # Flowise's hardened store with a fresh backup encrypted by gpg, as an operator's
    # nightly `sqlite3 .backup` piped through `gpg --symmetric` leaves it
    flowise_live = app_states.flowise_state(root / "bk-gpg", "hardened")
    plain_copy = root / "bk-gpg" / "database-copy.sqlite"
    _run("sqlite3", str(flowise_live / "database.sqlite"), f".backup '{plain_copy}'")
    secret_gpg = os.urandom(16).hex()
    gnupg_live = root / "gnupg-live"
    gnupg_live.mkdir(mode=0o700)
    stamp_today = time.strftime("%Y-%m-%d", time.gmtime())
    _run("gpg", "--homedir", str(gnupg_live), "--batch", "--yes", "--pinentry-mode", "loopback",
         "--passphrase", secret_gpg, "--symmetric", "-o",
         str(backups / f"database-{stamp_today}.sqlite.gpg"), str(plain_copy))
    plain_copy.unlink()
    shutil.rmtree(gnupg_live)

    src = root / "bk-src"
    src.mkdir()
    webui = app_states.webui_db(src / "webui.db")
    _run("sqlite3", str(webui), f"VACUUM INTO '{backups / 'chats-vacuum.sqlite'}'")
    flowise = app_states.flowise_state(src, "vulnerable")
    _run("sqlite3", str(flowise / "database.sqlite"),
         f".backup '{backups / 'chats-sqlite3-backup.db'}'")
    _run("tar", "cJf", str(backups / "chats-flowise.tar.xz"), "-C", str(flowise.parent),
         ".flowise")
    old = backups / "chats-old.db.gz"
    old.write_bytes(gzip.compress(webui.read_bytes()))
    _old(old, BACKUP_DAYS)
    _run("7z", "a", "-bd", str(backups / "chats-plain.7z"), str(webui))
    secret = os.urandom(16).hex()  # the passphrase the audit is never told
    _run("7z", "a", "-bd", f"-p{secret}", "-mhe=on", str(backups / "chats-enc.7z"), str(webui))
    gnupg = root / "gnupg"
    gnupg.mkdir(mode=0o700)
    _run("gpg", "--homedir", str(gnupg), "--batch", "--yes", "--pinentry-mode", "loopback",
         "--passphrase", secret, "--symmetric", "-o", str(backups / "chats.db.gpg"),
         str(webui))
    identity = root / "age-identity.txt"
    _run("age-keygen", "-o", str(identity))
    recipient = next(line.split(": ", 1)[1] for line in identity.read_text().splitlines()
                     if line.startswith("# public key: "))
    _run("age", "-r", recipient, "-o", str(backups / "chats.db.age"), str(webui))
    mlruns = mlflow_files(src, "mlflow")  # MLflow's file store, archived whole
    _run("tar", "czf", str(backups / "mlruns-backup.tar.gz"), "-C", str(mlruns), "mlruns")
    shutil.rmtree(src)
    shutil.rmtree(gnupg)
    identity.unlink()
    for f in backups.iterdir():
        f.chmod(0o600)
    return [cfg, flowise_live], backups
