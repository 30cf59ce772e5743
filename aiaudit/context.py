"""Everything one audit run shares: target, config, profile, HTTP client, host access.

Host access is opened lazily and checked once, so that an unreachable host turns every
host-side control into ERROR with one readable reason instead of a traceback per test.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from aiaudit.config import AuditConfig
from aiaudit.sshmux import SshMux, quiet
from aiaudit.status import CouldNotCheck
from aiaudit.target import Target

PROFILES = ("quick", "standard", "full")


def _explain(exc: Exception) -> str:
    """One readable line from testinfra's errors (ssh failures carry a CommandResult)."""
    result = exc.args[0] if exc.args else None
    stderr = getattr(result, "stderr", None)
    if isinstance(stderr, str) and stderr.strip():
        return stderr.strip().splitlines()[-1]
    return f"{type(exc).__name__}: {exc}"


class _GuardedHost:
    """The testinfra host, with a connection lost mid-run (an SSH banner timeout, a reset)
    turned into CouldNotCheck naming the target, instead of testinfra's own exception
    reaching the report as an internal error."""

    def __init__(self, host: Any, spec: str):
        self._inner, self._spec = host, spec

    def run(self, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = self._inner.run(command, *args, **kwargs)
        except Exception as exc:  # testinfra raises assorted errors for lost connections
            raise CouldNotCheck(f"lost contact with {self._spec}: {_explain(exc)}") from exc
        err = result._stderr  # testinfra's field (its `stderr` is a read-only property)
        if isinstance(err, bytes):
            err = err.decode("utf-8", "replace")
        result._stderr = quiet(err)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class NoHostAccess(Exception):
    """The target is network-only: host-side controls do not apply."""


@dataclass
class AuditContext:
    target: Target
    config: AuditConfig
    profile: str = "standard"
    _cache: dict[str, Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # cached() may nest
    ssh_mux: SshMux = field(default_factory=SshMux)  # one SSH login for the whole run

    @cached_property
    def client(self) -> Any:
        """The run's one SafeClient (created on first use, so its log shows real probes)."""
        from aiaudit.http import SafeClient

        return SafeClient()

    @cached_property
    def exposure_client(self) -> Any:
        """The exposure area's SafeClient: like :attr:`client`, plus a time budget per
        host:port for the whole audit (``[exposure] host_budget_seconds``), so a hostile
        listener costs one budget at most. Its records join the report's appendix."""
        from aiaudit.http import SafeClient

        client = SafeClient(host_budget=self.config.exposure.host_budget_seconds)
        self.cached("http:extra_clients", list).append(client)
        return client

    @cached_property
    def _host(self) -> Any:
        import testinfra

        spec = self.target.testinfra_spec()
        if spec is None:
            return None
        kwargs: dict[str, Any] = {}
        if self.target.kind == "ssh":
            if self.config.ssh_config_file:
                kwargs["ssh_config"] = self.config.ssh_config_file
            if self.config.ssh_identity_file:
                kwargs["ssh_identity_file"] = self.config.ssh_identity_file
            kwargs["timeout"] = 10
            kwargs["ssh_extra_args"] = self.ssh_mux.testinfra_args()
        return testinfra.get_host(spec, **kwargs)

    def ssh_options(self) -> list[str]:
        """Extra ssh arguments every ssh of this run passes (the shared connection)."""
        return self.ssh_mux.options() if self.target.kind == "ssh" else []

    def close(self) -> None:
        """End what the run holds open outside this process (the SSH master)."""
        self.ssh_mux.close()

    @cached_property
    def _host_problem(self) -> str | None:
        """Why host-side checks cannot run, or None when they can (checked once)."""
        if self._host is None:
            return None
        try:
            result = self._host.run("true")
        except Exception as exc:  # testinfra raises assorted errors for unreachable hosts
            return f"cannot reach {self.target.spec}: {_explain(exc)}"
        if result.rc != 0:
            detail = (result.stderr or result.stdout or "").strip().splitlines()
            why = detail[-1] if detail else f"exit code {result.rc}"
            return f"cannot run commands on {self.target.spec}: {why}"
        return None

    def host(self) -> Any:
        """The testinfra host; NoHostAccess for network-only targets, CouldNotCheck if down."""
        if not self.target.host_access:
            raise NoHostAccess(
                f"no host access: {self.target.spec} is a network-only target "
                "(use local, ssh:// or docker:// for host-side checks)"
            )
        if self._host_problem:
            raise CouldNotCheck(self._host_problem)
        return self._guarded_host

    @cached_property
    def _guarded_host(self) -> Any:
        return _GuardedHost(self._host, self.target.spec)

    def network_addresses(self) -> list[str]:
        """Addresses network probes go to: the target, or this machine's own for `local`."""
        if self.target.kind != "local":
            return [self.target.address]
        addresses = ["127.0.0.1"]
        try:
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
                addr = str(info[4][0])
                if addr not in addresses:
                    addresses.append(addr)
        except OSError:
            pass
        return addresses

    def cached(self, key: str, compute):
        """Compute a discovery once per run, even when several tests ask concurrently."""
        with self._lock:
            if key not in self._cache:
                try:
                    self._cache[key] = (True, compute())
                except Exception as exc:  # remembered and re-raised for every asker
                    self._cache[key] = (False, exc)
            ok, value = self._cache[key]
        if not ok:
            raise value
        return value
