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

from aiaudit.access import access_script, denied_line, parse_access
from aiaudit.sshmux import quiet
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


def tar_denied(messages: str) -> list[str]:
    """Paths GNU tar reports as unreadable ("tar: ./x: Cannot open: Permission denied")."""
    out = []
    for line in messages.splitlines():
        if "Permission denied" not in line:
            continue
        path = line.removeprefix("tar: ").split(": ", 1)[0]
        out.append(path[2:] if path.startswith("./") else path)
    return out


class HostFS:
    """Runs read-only commands on the target: in-process for local, ssh, or docker exec."""

    def __init__(self, kind: str, address: str = "", user: str | None = None,
                 port: int | None = None, ssh_config: str | None = None,
                 identity: str | None = None, container: str | None = None,
                 ssh_options: list[str] | None = None):
        self.kind, self.address, self.user, self.port = kind, address, user, port
        self.ssh_config, self.identity, self.container = ssh_config, identity, container
        self.ssh_options = list(ssh_options or [])  # the run's shared connection (sshmux)

    @classmethod
    def for_context(cls, ctx: Any) -> HostFS:
        """The HostFS for an AuditContext (raises NoHostAccess for network-only targets)."""
        ctx.host()  # access check with a readable reason
        t = ctx.target
        return cls(t.kind, t.address, t.user, t.port, ctx.config.ssh_config_file,
                   ctx.config.ssh_identity_file, t.container, ctx.ssh_options())

    def argv(self, command: str, stdin: bool = False) -> list[str]:
        """The local argv that runs a shell command on the target (`stdin`: the command
        reads what the caller writes, e.g. a password kept off every command line)."""
        if self.kind == "local":
            return ["sh", "-c", command]
        if self.kind == "ssh":
            argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", *self.ssh_options]
            if self.ssh_config:
                argv += ["-F", self.ssh_config]
            if self.identity:
                argv += ["-i", self.identity]
            if self.port:
                argv += ["-p", str(self.port)]
            dest = f"{self.user}@{self.address}" if self.user else self.address
            return [*argv, dest, "--", command]
        if self.kind == "docker":
            return ["docker", "exec", *(["-i"] if stdin else []), str(self.container), "sh",
                    "-c", command]
        raise CouldNotCheck(f"no host access for a {self.kind} target")

    @contextlib.contextmanager
    def _pipe(self, command: str, keep_stderr: bool = False) -> Iterator[Any]:
        """The command's stdout as a stream; with keep_stderr, (stream, read_stderr)."""
        proc = subprocess.Popen(self.argv(command), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE if keep_stderr else subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None

        def errors() -> str:
            return quiet(proc.stderr.read(65536).decode("utf-8", "replace")) if proc.stderr \
                else ""

        try:
            yield (proc.stdout, errors) if keep_stderr else proc.stdout
        finally:
            proc.stdout.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[IO[bytes]]:
        """A stream of one file's bytes (read-only `cat`; local files are opened directly)."""
        if self.kind == "local":
            try:
                with open(path, "rb") as fh:
                    yield fh
            except OSError as exc:
                raise CouldNotCheck(denied_line(path, exc.strerror or str(exc))) from None
            return
        # One status byte first: an unreadable file must not look like an empty one.
        q = shlex.quote(path)
        with self._pipe(f"if (: < {q}) 2>/dev/null; then printf O; cat -- {q}; "
                        f"else printf E; {access_script([path])}; fi") as stream:
            head = stream.read(1)
            if head != b"O":
                detail = stream.read(4096).decode("utf-8", "replace")
                access = parse_access(detail).get(path)
                if access is not None and access.unreadable:
                    raise CouldNotCheck(access.reason())
                if access is not None and access.missing:
                    raise CouldNotCheck(f"cannot read {path}: it does not exist")
                raise CouldNotCheck(f"cannot read {path} on the target"
                                    + ("" if head else " (no answer)"))
            yield stream

    def tree(self, root: str, denied: list[str] | None = None) -> Iterator[TreeEntry]:
        """Every entry below root, streamed as one tar archive (symlinks are not followed).

        Entries tar could not read are left out of the stream; their paths (relative to
        root) go to `denied`, so a caller never takes an unreadable tree for a small one."""
        root = root.rstrip("/") or "/"
        xattrs = "" if self.kind == "local" else " --no-xattrs"
        # tar's stdout stays the stream; its messages go, capped, to stderr for `denied`.
        command = (f"cd {shlex.quote(root)} && {{ tar --ignore-failed-read{xattrs} -cf - . "
                   "2>&1 1>&3 3>&- | awk 'NR<=200' >&2; } 3>&1")
        with self._pipe(command, keep_stderr=True) as (stream, errors):
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for info in tar:
                    name = info.name[2:] if info.name.startswith("./") else info.name
                    if name in ("", "."):
                        continue
                    yield TreeEntry(name, _kind(info), info.size, info.mode, info.uid,
                                    info.gid, float(info.mtime), info.linkname, tar, info)
            if denied is not None:
                denied.extend(tar_denied(errors()))

    def run(self, command: str, timeout: float = 60.0,
            input: bytes | None = None) -> tuple[int, str, str]:
        """Run a read-only command; (exit code, stdout, stderr). `input` goes to its stdin
        (a secret the command needs travels there, never in its argv)."""
        try:
            if input is None:
                proc = subprocess.run(self.argv(command), capture_output=True,
                                      timeout=timeout, stdin=subprocess.DEVNULL)
            else:
                proc = subprocess.run(self.argv(command, stdin=True), capture_output=True,
                                      timeout=timeout, input=input)
        except subprocess.TimeoutExpired:
            raise CouldNotCheck(f"`{command[:60]}` timed out after {timeout:.0f}s") from None
        return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
                quiet(proc.stderr.decode("utf-8", "replace")))
