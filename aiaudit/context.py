"""Everything one audit run shares: target, config, profile, HTTP client, host access.

Host access is opened lazily and checked once, so that an unreachable host turns every
host-side control into ERROR with one readable reason instead of a traceback per test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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


_WAIT_POLL_S = 0.1  # a thread waiting for another's computation wakes this often (signals)


class _Slot:
    """One key's computation: who runs it, and its outcome once done."""

    __slots__ = ("done", "owner", "outcome")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.owner = threading.get_ident()
        self.outcome: tuple[bool, Any] | None = None  # None when done: abandoned, recompute


@dataclass
class AuditContext:
    target: Target
    config: AuditConfig
    profile: str = "standard"
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # guards _slots only
    ssh_mux: SshMux = field(default_factory=SshMux)  # one SSH login for the whole run
    _closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def client(self) -> Any:
        """The run's one SafeClient (created on first use, so its log shows real probes)."""
        from aiaudit.http import SafeClient

        return self.cached("context:client", SafeClient)

    @property
    def exposure_client(self) -> Any:
        """The exposure area's SafeClient: like :attr:`client`, plus a time budget per
        host:port for the whole audit (``[exposure] host_budget_seconds``), so a hostile
        listener costs one budget at most. Its records join the report's appendix."""
        from aiaudit.http import SafeClient

        def create() -> Any:
            # A burst as large as the per-host concurrency cap (4 in flight at most either
            # way), then the usual 20 per second: discovery's first round of a port does not
            # wait out the spacing, and a host still gets at most 4 + 20 t requests in t s.
            client = SafeClient(host_budget=self.config.exposure.host_budget_seconds,
                                per_host_burst=4)
            self.cached("http:extra_clients", list).append(client)
            return client

        return self.cached("context:exposure_client", create)

    @property
    def _host(self) -> Any:
        return self.cached("context:testinfra_host", self._open_host)

    def _open_host(self) -> Any:
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

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer` when the run ends (work it started that must not outlive it)."""
        with self._lock:
            self._closers.append(closer)

    def close(self) -> None:
        """End what the run holds open outside this process (review workers an early stop
        left running, the SSH master)."""
        with self._lock:
            closers, self._closers = self._closers[::-1], []
        for closer in closers:
            with contextlib.suppress(Exception):
                closer()
        self.ssh_mux.close()

    @property
    def _host_problem(self) -> str | None:
        """Why host-side checks cannot run, or None when they can (checked once, so the
        first command also opens the run's SSH master before any other command runs)."""
        return self.cached("context:host_problem", self._check_host)

    def _check_host(self) -> str | None:
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

    @property
    def _guarded_host(self) -> Any:
        return self.cached("context:guarded_host",
                           lambda: _GuardedHost(self._host, self.target.spec))

    def network_addresses(self) -> list[str]:
        """Addresses network probes go to: the target, or this machine's own for `local`."""
        if self.target.kind != "local":
            return both_families(self.target.address)
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
        """Compute a discovery once per run, even when several threads ask concurrently.

        One lock per key: computations of different keys overlap (the run's prefetch
        threads wait on SSH and the network side by side), and a computation may ask for
        other keys. Asking for the key a thread is itself computing is a cycle: it raises
        instead of deadlocking. An exception is remembered and re-raised for every asker;
        an interrupt (KeyboardInterrupt) is not remembered: the next asker recomputes."""
        while True:
            with self._lock:
                slot = self._slots.get(key)
                mine = slot is None
                if mine:
                    slot = self._slots[key] = _Slot()
            assert slot is not None
            if mine:
                return self._compute(key, slot, compute)
            if not slot.done.is_set() and slot.owner == threading.get_ident():
                raise RuntimeError(f"cached({key!r}) was asked for while this thread computes "
                                   "it (a discovery that depends on itself)")
            while not slot.done.wait(_WAIT_POLL_S):  # polled: a signal stops the wait
                pass
            if slot.outcome is not None:
                ok, value = slot.outcome
                if not ok:
                    raise value
                return value

    def computed(self, key: str) -> bool:
        """Whether `key` was computed (without computing it): e.g. the HTTP client, whose
        records join the report only when some test created it."""
        with self._lock:
            slot = self._slots.get(key)
        return slot is not None and slot.outcome is not None

    def _compute(self, key: str, slot: _Slot, compute) -> Any:
        try:
            try:
                slot.outcome = (True, compute())
            except Exception as exc:  # remembered and re-raised for every asker
                slot.outcome = (False, exc)
        except BaseException:  # interrupted: forget the slot, waiters retry
            with self._lock:
                del self._slots[key]
            raise
        finally:
            slot.done.set()
        ok, value = slot.outcome
        if not ok:
            raise value
        return value


def both_families(name: str) -> list[str]:
    """The addresses to probe for a target name: the name itself, unless it resolves to
    both IPv4 and IPv6, where each address is probed on its own (a dual-stack host can
    serve different things on each: an Ollama on [::] beside a walled IPv4 proxy, and a
    connect by name reaches only one of them). An address literal is itself."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return [name]
    found = {family: [] for family in (socket.AF_INET, socket.AF_INET6)}
    for family, _type, _proto, _canon, sockaddr in infos:
        ip = str(sockaddr[0]).split("%", 1)[0]
        if family in found and ip not in found[family]:
            found[family].append(ip)
    if not found[socket.AF_INET] or not found[socket.AF_INET6] or name in (
            *found[socket.AF_INET], *found[socket.AF_INET6]):
        return [name]
    return [*found[socket.AF_INET], *found[socket.AF_INET6]]
