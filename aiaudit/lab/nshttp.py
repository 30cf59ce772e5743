"""HTTP requests made from inside a namespace.

The hardened services listen on the namespace's loopback only, so readiness checks have
to run in the namespace too; a tiny stdlib client under ``ip netns exec`` does that
without adding curl as a dependency.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .netns import NetNS

_CLIENT = """
import json, sys, urllib.request, urllib.error
url, headers, body = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
req = urllib.request.Request(url, data=body.encode() if body else None, headers=headers)
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(req, timeout=float(sys.argv[4])) as resp:
        status, text = resp.status, resp.read().decode("utf-8", "replace")
except urllib.error.HTTPError as exc:
    status, text = exc.code, exc.read().decode("utf-8", "replace")
except Exception as exc:
    status, text = 0, repr(exc)
print(json.dumps({"status": status, "body": text}))
"""


def request(ns: NetNS, url: str, headers: dict[str, str] | None = None, body: str = "",
            timeout: float = 5.0) -> tuple[int, str]:
    """(status, body) of one request from inside ``ns``; status 0 means no HTTP answer."""
    argv = ns.exec_argv(sys.executable, "-c", _CLIENT, url, json.dumps(headers or {}), body,
                        str(timeout))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 10)
        result = json.loads(done.stdout)
    except (subprocess.TimeoutExpired, ValueError):
        return 0, "client failed"
    return int(result["status"]), str(result["body"])
