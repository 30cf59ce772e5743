"""A dual-stack name with a different service on each family is audited on both.

In a private network and mount namespace (``unshare --net --mount``; the host's
/etc/hosts is untouched), a name resolves to 127.0.0.1 and ::1; an open Ollama listens on
[::1]:P and a gateway answering 401 everywhere on 127.0.0.1:P. A connect by name reaches
only one of them; the audit must judge both.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from selftests.hostile_server import not_read_only

ROOT = Path(__file__).resolve().parent.parent
NAME = "dual.aiaudit.test"


def test_each_family_of_a_dual_stack_name_is_judged(tmp_path):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (a private network namespace)")
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {NAME}\n::1 localhost {NAME}\n")
    inner = (f"mount --bind {hosts} /etc/hosts && ip link set lo up && "
             f"exec {sys.executable} -m selftests.dualstack_run {tmp_path} {NAME}")
    proc = subprocess.run(["unshare", "--net", "--mount", "sh", "-c", inner], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    port = (tmp_path / "port").read_text()
    doc = json.loads((tmp_path / "r" / "latest.json").read_text())
    exp02 = {k["case"]: k for c in doc["controls"] if c["id"] == "EXP-02" for k in c["cases"]}
    assert {case: k["status"] for case, k in exp02.items()} == {  # ids as the report keys them
        f"Ollama@_::1_:{port}": "FAIL",
        f"unidentified_HTTP_service@127.0.0.1:{port}": "PASS"}, exp02
    wall = exp02[f"unidentified_HTTP_service@127.0.0.1:{port}"]["evidence"]
    assert "POST /v1/chat/completions with an empty body (nothing to generate) -> 401" in (
        json.dumps(wall))
    six, four = (int(n) for n in (tmp_path / "seen").read_text().split())
    assert six and four, (six, four)  # both listeners were asked
    assert not not_read_only(doc["requests"])
    assert all(re.match(rf"https?://(\[::1\]|127\.0\.0\.1):{port}/", r["url"])
               for r in doc["requests"]), {r["url"] for r in doc["requests"]}
