"""One SSH login per audit run, on a real light fleet host (its own sshd, its own /root):
the run's control socket sits in a private 0700 dir on the auditor's side, every check
(testinfra's and HostFS's) goes over the one login, a user's ssh_config cannot turn the
sharing off or move the socket, two runs at once keep two masters apart, and when a run
ends its master is gone and its dir removed. The host's sshd log counts the logins."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from aiaudit.config import AuditConfig
from aiaudit.context import AuditContext
from aiaudit.hostfs import HostFS
from aiaudit.target import parse_target

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root (network namespaces)"),
]


def _slot() -> int:
    """The last of AIAUDIT_FLEET_SLOTS (default 9-20): one light host is enough here."""
    return int(os.environ.get("AIAUDIT_FLEET_SLOTS", "9-20").split("-")[-1])


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    from aiaudit.lab import fleethosts

    work = tmp_path_factory.mktemp("sshmux")
    hosts = fleethosts.up(work / "hosts", (_slot(),))
    try:
        yield {"host": hosts[0], "ssh_config": str(hosts[0].files.ssh_config), "work": work}
    finally:
        fleethosts.down(hosts, (_slot(),))


def logins(host) -> int:
    log = host["host"].lab / "sshd.log"
    return log.read_text(errors="replace").count("Accepted publickey for root")


def wait_logins(host, expected: int) -> int:
    """sshd writes its log line a moment after the login: wait for it (bounded)."""
    deadline = time.monotonic() + 5
    while logins(host) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # and a moment more: a login too many would show up now
    return logins(host)


def master_pid(sock: Path) -> int:
    check = subprocess.run(["ssh", "-F", os.devnull, "-o", f"ControlPath={sock}", "-O",
                            "check", "x"], capture_output=True, text=True, timeout=10)
    found = re.search(r"pid=(\d+)", check.stderr)
    assert check.returncode == 0 and found, check.stderr
    return int(found.group(1))


def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def naming(text: str) -> list[str]:
    """Command lines of running processes that contain text."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            out.append(cmdline.replace("\0", " "))
    return out


def context(host, ssh_config: str | None = None) -> AuditContext:
    return AuditContext(parse_target(host["host"].spec),
                        AuditConfig(ssh_config_file=ssh_config or host["ssh_config"]))


def checks(ctx: AuditContext) -> list[str]:
    """What an audit does over SSH: testinfra commands, HostFS commands, a file, a tree,
    and eight at once (discovery fans out)."""
    fs = HostFS.for_context(ctx)
    out = [ctx.host().run("id -u").stdout.strip(), fs.run("echo hostfs")[1].strip()]
    with fs.open("/etc/hostname") as stream:
        out.append(str(len(stream.read())))
    out.append(str(len(list(fs.tree("/etc/ssh")))))
    results: list[str] = []
    threads = [threading.Thread(target=lambda i=i: results.append(fs.run(f"echo {i}")[1]))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out + sorted(r.strip() for r in results)


def test_one_login_private_socket_and_nothing_left_after(host):
    ctx = context(host)
    before = logins(host)
    out = checks(ctx)
    assert out[:2] == ["0", "hostfs"] and out[4:] == [str(i) for i in range(8)], out
    assert wait_logins(host, before + 1) == before + 1  # 13 commands, one login
    directory = Path(ctx.ssh_mux.directory or "")
    info = directory.stat()
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.geteuid()
    sockets = ctx.ssh_mux.sockets()
    assert len(sockets) == 1 and len(str(sockets[0])) + 18 < 108  # ssh's temp name fits
    pid = master_pid(sockets[0])
    assert str(directory) in Path(f"/proc/{pid}/cmdline").read_text()  # "ssh: DIR/.. [mux]"
    ctx.close()
    assert not directory.exists()
    assert gone(pid), f"ssh master {pid} still runs after the run closed it"


def test_user_ssh_config_cannot_move_or_disable_the_socket(host):
    """A user's ssh_config with a ControlPath of its own (or ControlMaster no): the run's
    options come first on the command line, and ssh takes the first value."""
    own = host["work"] / "user_ssh_config"
    own.write_text(Path(host["ssh_config"]).read_text()
                   + "Host *\n    ControlMaster no\n    ControlPath /nonexistent/%C\n")
    ctx = context(host, str(own))
    before = logins(host)
    try:
        checks(ctx)
        assert wait_logins(host, before + 1) == before + 1
        assert len(ctx.ssh_mux.sockets()) == 1
    finally:
        ctx.close()


def test_two_runs_at_once_keep_their_own_masters(host):
    """Fleets audit targets at once: each run has its own dir and master, and closing
    one leaves the other working."""
    first, second = context(host), context(host)
    before = logins(host)
    threads = [threading.Thread(target=checks, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wait_logins(host, before + 2) == before + 2
    assert first.ssh_mux.directory != second.ssh_mux.directory
    pids = [master_pid(c.ssh_mux.sockets()[0]) for c in (first, second)]
    assert pids[0] != pids[1]
    first.close()
    assert gone(pids[0]) and not gone(pids[1], within=0.5)
    assert second.host().run("true").rc == 0
    second.close()
    assert gone(pids[1])


def test_audit_run_leaves_no_ssh_process_and_no_socket(host):
    """A whole quick audit of the host: afterwards no process names its socket dir, the
    dir is gone, and the host's own home is as it was (the socket was never there)."""
    tmp = tempfile.mkdtemp(prefix="aa-t", dir="/tmp")  # short: the run's TMPDIR
    config = host["work"] / "audit.toml"
    config.write_text(f'[ssh]\nconfig_file = "{host["ssh_config"]}"\n')
    home = HostFS("ssh", ssh_config=host["ssh_config"], address=host["host"].ns.target_addr)
    listing = "ls -la --time-style=full-iso /root"
    home_before = home.run(listing)[1]
    before = logins(host)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--profile=quick",
             f"--audit-config={config}", f"--target={host['host'].spec}",
             f"--report-dir={host['work'] / 'reports'}", "tests_exposure"],
            cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ,
                                                                        "TMPDIR": tmp})
        assert (host["work"] / "reports" / "latest.json").exists(), proc.stdout[-2000:]
        assert naming(tmp) == [], "ssh processes outlived the audit"
        assert os.listdir(tmp) == []
        # Every check over one login (a burst beyond sshd's MaxSessions may add one).
        assert 1 <= wait_logins(host, before + 1) - before <= 2
        assert home.run(listing)[1] == home_before
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
