"""A throwaway PostgreSQL 15 cluster (Debian's postgresql-15 binaries) in a private dir:
initdb, a server on a private unix socket dir (and, when asked, a loopback TCP port), run
as the `postgres` account when started by root (initdb refuses root), stopped on exit.

The lab's PostgreSQL states are written into such a cluster by the apps themselves; the
self-tests restore their recorded `pg_dump` into a fresh one, so what an audit probes is a
real PostgreSQL server with the app's real schema and rows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EXIT_ENVIRONMENT, LabError

PG_BIN = Path(os.environ.get("AIAUDIT_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"  # Debian's postgresql package's account
START_TIMEOUT_S = 60.0


def _as_pg(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Cluster:
    """A running cluster: its data dir, socket dir, port and the process."""

    root: Path
    port: int = 5432
    tcp: bool = False
    netns: str | None = None  # start the server inside this network namespace
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def sock(self) -> Path:
        return self.root / "sock"

    def init(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise LabError(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb missing; Debian: "
                           "postgresql-15)", EXIT_ENVIRONMENT)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        for d, mode in ((self.sock, 0o755), (self.data, 0o700)):
            d.mkdir(exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(d, PG_USER)
            d.chmod(mode)
        run = subprocess.run(_as_pg([str(PG_BIN / "initdb"), "-D", str(self.data), "-U",
                                     PG_USER, "--auth-local=peer", "--auth-host=scram-sha-256",
                                     "-E", "UTF8", "--locale=C.UTF-8"]),
                             capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            raise LabError(f"initdb failed: {run.stderr[-800:]}")
        # the apps log in with a password over the socket too (scram), as a packaged
        # server's `local all all scram-sha-256` line would have them; postgres keeps peer
        (self.data / "pg_hba.conf").write_text(
            "local all postgres peer\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n")

    def start(self) -> None:
        argv = _as_pg([str(PG_BIN / "postgres"), "-D", str(self.data), "-k", str(self.sock),
                       "-p", str(self.port), "-c",
                       f"listen_addresses={'127.0.0.1' if self.tcp else ''}"])
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 (kept for the process)
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self.sock / f".s.PGSQL.{self.port}").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "postgres.log").read_text(errors="replace")[-800:]
                raise LabError(f"postgres did not start: {tail}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()  # SIGTERM: smart shutdown
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def psql(self, sql: str, db: str = "postgres", user: str = PG_USER,
             password: str | None = None, file: Path | None = None) -> str:
        """Run SQL as `user` over the socket (the superuser by peer auth)."""
        argv = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", str(self.sock),
                "-p", str(self.port), "-U", user, "-d", db]
        argv += ["-f", str(file)] if file else ["-c", sql]
        env = {**os.environ, "PGPASSWORD": password} if password else dict(os.environ)
        if user == PG_USER:
            argv = _as_pg(argv)
        run = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
        if run.returncode != 0:
            raise LabError(f"psql as {user} on {db}: {run.stderr[-800:]}")
        return run.stdout

    def create_app_db(self, role: str, password: str, db: str) -> None:
        """The app's role (LOGIN, its password) and database owned by it, as an operator
        prepares them before pointing the app at the server."""
        self.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {db} OWNER {role}")

    def url(self, role: str, password: str, db: str) -> str:
        if self.tcp:
            return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{db}"
        return f"postgresql://{role}:{password}@/{db}?host={self.sock}&port={self.port}"


@contextlib.contextmanager
def running(root: Path, tcp: bool = False, port: int = 5432,
            netns: str | None = None) -> Iterator[Cluster]:
    cluster = Cluster(root, port, tcp, netns)
    cluster.init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
