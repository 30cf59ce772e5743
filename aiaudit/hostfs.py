"""Read-only, streaming access to files on the target host.

testinfra's `host.file(...).content` buffers a whole file per SSH round trip, which is fine
for a config file but not for a multi-GB history store or a tree of a thousand skills. Here
a file is streamed (`cat`) and a tree arrives as one tar stream, read as it comes. Nothing
on the target is modified and nothing found is executed.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from aiaudit.status import CouldNotCheck


@dataclass(frozen=True)
class TreeEntry:
    """One member of a streamed tree; `read()` is valid only while iterating."""

    path: str  # relative to the tree root, posix
    kind: str  # "file" | "dir" | "symlink" | "hardlink" | "other"
    size: int
    mode: int
    uid: int
    gid: int
    mtime: float
    linkname: str
    _tar: Any = None
    _info: Any = None

    def open(self) -> IO[bytes]:
        handle = self._tar.extractfile(self._info) if self._tar and self.kind == "file" else None
        if handle is None:
            raise OSError(f"{self.path} is not a regular file")
        return handle


def _kind(info: tarfile.TarInfo) -> str:
    if info.isfile():
        return "file"
    if info.isdir():
        return "dir"
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    return "other"


class HostFS:
    """Runs read-only commands on the target: in-process for local, ssh, or docker exec."""

    def __init__(self, kind: str, address: str = "", user: str | None = None,
                 port: int | None = None, ssh_config: str | None = None,
                 identity: str | None = None, container: str | None = None):
        self.kind, self.address, self.user, self.port = kind, address, user, port
        self.ssh_config, self.identity, self.container = ssh_config, identity, container

    @classmethod
    def for_context(cls, ctx: Any) -> HostFS:
        """The HostFS for an AuditContext (raises NoHostAccess for network-only targets)."""
        ctx.host()  # access check with a readable reason
        t = ctx.target
        return cls(t.kind, t.address, t.user, t.port, ctx.config.ssh_config_file,
                   ctx.config.ssh_identity_file, t.container)

    def argv(self, command: str) -> list[str]:
        """The local argv that runs a shell command on the target."""
        if self.kind == "local":
            return ["sh", "-c", command]
        if self.kind == "ssh":
            argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
            if self.ssh_config:
                argv += ["-F", self.ssh_config]
            if self.identity:
                argv += ["-i", self.identity]
            if self.port:
                argv += ["-p", str(self.port)]
            dest = f"{self.user}@{self.address}" if self.user else self.address
            return [*argv, dest, "--", command]
        if self.kind == "docker":
            return ["docker", "exec", str(self.container), "sh", "-c", command]
        raise CouldNotCheck(f"no host access for a {self.kind} target")

    @contextlib.contextmanager
    def _pipe(self, command: str) -> Iterator[IO[bytes]]:
        proc = subprocess.Popen(self.argv(command), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        try:
            yield proc.stdout
        finally:
            proc.stdout.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        """A stream of one file's bytes (read-only `cat`; local files are opened directly)."""
        if self.kind == "local":
            try:
                with open(path, "rb") as fh:
                    yield fh
            except OSError as exc:
                raise CouldNotCheck(f"cannot read {path}: {exc.strerror or exc}") from None
            return
        with self._pipe(f"cat -- {shlex.quote(path)}") as stream:
            yield stream

    def tree(self, root: str) -> Iterator[TreeEntry]:
        """Every entry below root, streamed as one tar archive (symlinks are not followed)."""
        root = root.rstrip("/") or "/"
        command = (f"cd {shlex.quote(root)} && "
                   "tar --ignore-failed-read --no-xattrs -cf - . 2>/dev/null")
        if self.kind == "local":
            command = f"cd {shlex.quote(root)} && tar --ignore-failed-read -cf - . 2>/dev/null"
        with self._pipe(command) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                name = info.name[2:] if info.name.startswith("./") else info.name
                if name in ("", "."):
                    continue
                yield TreeEntry(name, _kind(info), info.size, info.mode, info.uid, info.gid,
                                float(info.mtime), info.linkname, tar, info)

    def run(self, command: str, timeout: float = 60.0) -> tuple[int, str, str]:
        """Run a read-only command; (exit code, stdout, stderr)."""
        try:
            proc = subprocess.run(self.argv(command), capture_output=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise CouldNotCheck(f"`{command[:60]}` timed out after {timeout:.0f}s") from None
        return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
                proc.stderr.decode("utf-8", "replace"))
