"""The SSH options of a run, as testinfra and HostFS really build them (no ssh started):
one ControlMaster, the run's ControlPath with its %C intact after testinfra's quoting, and
ssh's own fallback notes dropped from a command's stderr (lines recorded from OpenSSH 9.2
with 14 sessions at once over one connection, sshd's MaxSessions being 10)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from testinfra.backend.ssh import SshBackend

from aiaudit.hostfs import HostFS
from aiaudit.sshmux import SshMux, quiet

FALLBACK = ("mux_client_request_session: session request failed: Session open refused by peer\n"
            "ControlSocket /tmp/aa-t-9sKG/c3a120a9159a735854048dc0a586b8862adfb811 already "
            "exists, disabling multiplexing\n")


def test_testinfra_command_carries_the_run_socket_once():
    mux = SshMux()
    try:
        backend = SshBackend("ssh://root@10.0.0.1:2222", ssh_config="/etc/cfg", timeout=10,
                             ssh_extra_args=mux.testinfra_args())
        cmd, args = backend._build_ssh_command("true")
        line = backend.quote(" ".join(cmd), *args)
        assert line.count("ControlMaster") == 1 and "ControlMaster=auto" in line
        assert f"ControlPath={mux.directory}/%C" in line and line.count("ControlPath") == 1
        assert "ControlPersist=30s" in line
        directory = Path(mux.directory or "")
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert directory.stat().st_uid == os.geteuid()
    finally:
        mux.close()
    assert not directory.exists()


def test_hostfs_argv_shares_the_socket_and_local_has_none():
    mux = SshMux()
    try:
        argv = HostFS("ssh", "h", "u", 22, ssh_options=mux.options()).argv("id")
        assert f"ControlPath={mux.directory}/%C" in argv
        assert argv[-3:] == ["u@h", "--", "id"]
        assert HostFS("local").argv("id") == ["sh", "-c", "id"]
    finally:
        mux.close()


def test_short_socket_path_even_with_a_long_tmpdir(monkeypatch, tmp_path):
    deep = tmp_path / ("x" * 60)
    deep.mkdir()
    monkeypatch.setenv("TMPDIR", str(deep))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    mux = SshMux()
    try:
        # sun_path: 108 bytes with the NUL; ssh adds ".XXXXXXXXXXXXXXXX" while creating it
        assert len(mux.control_path().replace("%C", "c" * 40)) + 17 < 108
    finally:
        mux.close()


def test_quiet_drops_only_the_fallback_notes():
    assert quiet(FALLBACK + "tar: ./x: Cannot open: Permission denied\n") == \
        "tar: ./x: Cannot open: Permission denied\n"
    assert quiet("Permission denied (publickey).\n") == "Permission denied (publickey).\n"
    assert quiet("") == ""
