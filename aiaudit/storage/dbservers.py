"""Database-backed history (LibreChat: MongoDB; Open WebUI, LobeChat...: PostgreSQL), seen
from the host.

The history itself is not read here (an app's PostgreSQL database is read by pgstores.py,
with its credentials); what the host shows
is checked: where the data dir is (for mount encryption and permissions), whether MongoDB
runs with auth and its Enterprise encryption at rest, and PostgreSQL's data dir.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from aiaudit.storage.locate import FileInfo, Store

_PROCS = (
    "me=$(readlink /proc/self/ns/net); "
    "for p in /proc/[0-9]*; do "
    '[ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] || continue; '
    "c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); "
    'case "$c" in *mongod*|*postgres*|*postmaster*) '
    'printf "%s\\t%s\\n" "${p#/proc/}" "$c";; esac; '
    "done 2>/dev/null; true"
)


def _arg(cmdline: str, *names: str) -> str | None:
    for name in names:
        m = re.search(rf"(?:^|\s){re.escape(name)}(?:=|\s+)(\S+)", cmdline)
        if m:
            return m.group(1)
    return None


def _yaml_value(text: str, key: str) -> str | None:
    """A scalar from mongod.conf (flat scan; good enough for `key: value` lines)."""
    m = re.search(rf"^\s*{re.escape(key)}\s*:\s*['\"]?([^'\"#\s]+)", text, re.M)
    return m.group(1) if m else None


def mongo_settings(cmdline: str, conf_text: str = "") -> dict[str, str]:
    """auth / encryption / dbPath of one mongod from its command line and config file."""
    auth = "off" if "--noauth" in cmdline else "on" if "--auth" in cmdline else None
    if auth is None:
        auth = "on" if _yaml_value(conf_text, "authorization") == "enabled" else "off"
    encrypted = "--enableEncryption" in cmdline or (
        _yaml_value(conf_text, "enableEncryption") or "").lower() == "true"
    db_path = _arg(cmdline, "--dbpath") or _yaml_value(conf_text, "dbPath") or "/data/db"
    return {"engine": "mongodb", "auth": auth, "encryption_at_rest": str(encrypted).lower(),
            "data_dir": db_path}


def postgres_settings(cmdline: str) -> dict[str, str]:
    # Community PostgreSQL has no transparent data encryption: only the mount can help.
    return {"engine": "postgres", "data_dir": _arg(cmdline, "-D") or "/var/lib/postgresql/data",
            "encryption_at_rest": "not available in community PostgreSQL"}


def running_servers(ctx: Any) -> list[Store]:
    """The database servers running on the target, scanned once per run (storage's
    discovery and the PostgreSQL data-dir lookup of each app database both ask)."""
    from aiaudit.hostfs import HostFS

    return ctx.cached("storage:db-servers",
                      lambda: database_servers(HostFS.for_context(ctx)))


def database_servers(fs: Any) -> list[Store]:
    """Stores for the MongoDB / PostgreSQL servers running in the deployment."""
    rc, out, _ = fs.run(_PROCS, timeout=60)
    stores: dict[str, Store] = {}
    for line in out.splitlines():
        pid, _, cmdline = line.partition("\t")
        binary = cmdline.split(" ", 1)[0].rsplit("/", 1)[-1]
        if binary == "mongod":
            conf = _arg(cmdline, "--config", "-f")
            text = ""
            if conf:
                _, text, _ = fs.run(f"head -c 65536 -- {shlex.quote(conf)}", timeout=20)
            server = mongo_settings(cmdline, text)
            app = "mongodb (LibreChat)"
        elif binary in ("postgres", "postmaster"):
            server = postgres_settings(cmdline)
            app = "postgres"  # whose: its databases say (pgstores.server_coverage)
        else:
            continue
        server["pid"] = pid
        data_dir = server["data_dir"]
        info = FileInfo(data_dir, 0, 0.0, 0, -1, "")
        stores.setdefault(data_dir, Store(app, server["engine"], data_dir, data_dir, (info,),
                                          (), f"{binary} process pid {pid}", server))
    return list(stores.values())
