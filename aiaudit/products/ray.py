"""Ray (PyPI `ray` 2.60.0): what its jobs print is kept in the session's log dir.

ray/_common/utils.py get_default_ray_temp_dir(): the temp dir is `$RAY_TMPDIR/ray`, else
`$TMPDIR/ray` on Linux, else `/tmp/ray` (`ray start --temp-dir` names another); each
`ray start` makes `session_<YYYY-MM-DD_HH-MM-SS_micro_pid>/` below it and links
`session_latest` to it (ray/_private/ray_constants.py SESSION_LATEST). Its `logs/` holds
what every job printed: `job-driver-<submission id>.log` (the job's entrypoint line, with
its arguments, and the driver's stdout: ray/dashboard/modules/job/common.py
JOB_LOGS_PATH_TEMPLATE) and `worker-<id>-<job>-<pid>.out`/`.err` (each task's and actor's
stdout/stderr). Ray makes the temp, session and logs dirs world-writable on purpose
(try_to_create_directory -> try_make_directory_shared: 0777, "so others can use it") and
writes the logs at the umask (0644). Nothing deletes old sessions: logs rotate by size
only (ray/_common/ray_constants.py LOGGING_ROTATE_BYTES 512 MB, LOGGING_ROTATE_BACKUP_COUNT
5), and old session dirs stay until the temp dir is cleaned. A session's age is in its
own name (the time `ray start` made it): the logs are dated by it.
"""

from __future__ import annotations

APP = "ray"
VERSION = "2.60.0"
ENV = "RAY_TMPDIR"
ENV_SUBDIR = "ray"
ABS_DIRS = ("/tmp/ray",)
# session_2*: the sessions themselves, not the session_latest link to one of them; the
# same logs below a named session dir (session_latest, or one session_<date>_...)
_LOG_NAMES = ("job-driver-*.log", "worker-*.out", "worker-*.err")
LOGS = (*(f"session_2*/logs/{n}" for n in _LOG_NAMES), *(f"logs/{n}" for n in _LOG_NAMES))
# the session's start time in its dir name (ray/_private/node.py: session_<date>_<time>_...)
SESSION_TIME = r"/session_(\d{4}-\d{2}-\d{2})_(\d{2})-(\d{2})-(\d{2})_"
RETENTION = (f"none: Ray {VERSION} keeps every session's logs (rotation by size only: "
             "ray/_common/ray_constants.py LOGGING_ROTATE_BYTES); old sessions stay in its "
             "temp dir (aiaudit.products.ray)")


def temp_dir_of(command: str) -> str | None:
    """The temp dir a `ray start ... --temp-dir DIR` command line names (a unit's
    ExecStart); None for another command or without the flag (then RAY_TMPDIR or the
    default applies)."""
    import shlex

    try:
        args = shlex.split(command)
    except ValueError:
        return None
    if not args or args[0].rsplit("/", 1)[-1] != "ray" or "start" not in args[1:3]:
        return None
    for i, arg in enumerate(args):
        if arg.startswith("--temp-dir="):
            value = arg.split("=", 1)[1]
        elif arg == "--temp-dir" and i + 1 < len(args):
            value = args[i + 1]
        else:
            continue
        return value if value.startswith("/") else None
    return None
