"""Fleets: many targets in one command, audited concurrently, one report per target plus a
fleet report (targets x controls, worst first).

`--target` may be given many times or as `@FILE` (one spec per line, `#` comments). Each
target is audited by its own pytest process, forked from the fleet's own after it loaded
pytest, its plugins and the suite's modules once (shared work: each `pytest` started anew
spends about 0.8 CPU-s on that): a session's state (host connection, caches, HTTP client,
budgets, SSH master) belongs to one target, and a slow or dead host then blocks nobody but
itself. `-n N` / `--fleet-jobs N` bound how many run at once (the work is mostly waiting on
the network and SSH, so more than the cores pays). `--shard I/N` keeps every N-th target from the
I-th, for a CI job matrix; `python -m aiaudit.report merge DIR...` joins the shards.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import importlib
import importlib.metadata
import json
import os
import select
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NoReturn

from aiaudit import astlock
from aiaudit.ansible_inventory import inventory_specs, is_inventory
from aiaudit.report.fleet_report import write_fleet_report
from aiaudit.target import TargetError, parse_target

FLEET_CHILD = "AIAUDIT_FLEET_CHILD"  # set in each target's run: it must not fan out again
# Options of the parent run that each target's run must not inherit (it gets its own).
_PARENT_ONLY = ("--target", "--fleet-jobs", "--shard", "--report-dir", "--sarif",
                "--junitxml", "--junit-xml", "--html", "--baseline",
                # pytest-xdist's: in a fleet, -n is the number of targets audited at once
                "-n", "--numprocesses", "--maxprocesses", "--dist")
MAX_AUTO_JOBS = 16  # -n auto: every target at once, up to this many
_POLL_S = 1.0  # longest sleep between looks at the audits' timeouts (an exit wakes it)
_KILL_AFTER_S = 10.0  # SIGTERM, then this long to write its report, then SIGKILL


@dataclass(frozen=True)
class TargetRun:
    spec: str
    report_dir: Path
    returncode: int
    seconds: float
    error: str = ""


def expand_targets(values: list[str]) -> list[str]:
    """`--target` values with `@FILE` lists expanded; duplicates dropped, order kept."""
    specs: list[str] = []
    for value in values:
        if value.startswith("@"):
            path = Path(value[1:])
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise TargetError(f"--target {value}: cannot read: {exc.strerror or exc}") \
                    from None
            if is_inventory(path, lines):
                for spec in inventory_specs(path):
                    try:
                        parse_target(spec)
                    except TargetError as exc:
                        raise TargetError(f"{path}: {exc}") from None
                    specs.append(spec)
                continue
            for n, line in enumerate(lines, 1):
                spec = line.split("#", 1)[0].strip()
                if not spec:
                    continue
                try:
                    parse_target(spec)
                except TargetError as exc:
                    raise TargetError(f"{path}:{n}: {exc}") from None
                specs.append(spec)
        else:
            parse_target(value)
            specs.append(value)
    seen: set[str] = set()
    return [s for s in specs if not (s in seen or seen.add(s))]


def shard(specs: list[str], option: str | None) -> list[str]:
    """`I/N`: the I-th of N shards (1-based), every N-th target from the I-th."""
    if not option:
        return specs
    try:
        index, total = (int(x) for x in option.split("/", 1))
    except ValueError:
        raise TargetError(f"--shard {option!r}: use I/N, e.g. 2/3") from None
    if not 1 <= index <= total:
        raise TargetError(f"--shard {option!r}: I must be between 1 and N")
    return specs[index - 1::total]


def child_args(args: list[str]) -> list[str]:
    """The parent's command line minus the options each target run gets on its own."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _PARENT_ONLY:
            skip = "=" not in arg
            continue
        if arg in ("-d", "--distload") or (arg.startswith("-n") and len(arg) > 2
                                             and not arg.startswith("--")):
            continue  # xdist's flag; -n4, -nauto
        out.append(arg)
    return out


def fleet_jobs(numprocesses: int | str | None, fleet_jobs: int, targets: int) -> int:
    """How many targets are audited at once: pytest-xdist's `-n N` when given (`auto` and
    `logical`: every target, at most MAX_AUTO_JOBS), else `--fleet-jobs`. Each target is
    one worker of its own, so a slow or dead host occupies one of the N and nothing else."""
    if numprocesses in ("auto", "logical"):
        return max(1, min(targets, MAX_AUTO_JOBS))
    if numprocesses:
        return int(numprocesses)
    return max(1, fleet_jobs)


def _audit_in_child(spec: str, args: list[str], report_dir: Path, out_fd: int) -> NoReturn:
    """The forked child: this target's audit, as `pytest --target=SPEC ...` runs it, on the
    interpreter the fleet has loaded already (pytest, its plugins and the suite are imported
    once for all targets; a fresh `pytest` per target spends about 0.8 CPU-s on that)."""
    rc = 3
    try:
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.environ[FLEET_CHILD] = "1"
        import pytest

        rc = int(pytest.main([f"--target={spec}", f"--report-dir={report_dir}", *args]))
    except BaseException:  # noqa: BLE001 - the child must reach os._exit whatever happens
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            atexit._run_exitfuncs()  # what a process exit runs (SSH relays, masters)
        finally:
            os._exit(rc)


@dataclass
class _Running:
    spec: str
    report_dir: Path
    out: IO[bytes]
    started: float
    wall: float
    stopped: float = 0.0  # monotonic time SIGTERM was sent (timeout)
    exited: int = -1  # a pidfd: readable once the child has exited (-1: none)


def _exit_fd(pid: int) -> int:
    """A descriptor that becomes readable when child `pid` exits (Linux >= 5.3), so the
    fleet forks the next audit the moment one ends instead of at its next poll."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # older kernel: polled
        return -1


def _sleep_until_exit(running: dict[int, _Running], wait: float) -> None:
    fds = [r.exited for r in running.values() if r.exited >= 0]
    if fds and len(fds) == len(running):
        poller = select.poll()  # not select(): a descriptor may be numbered past 1023
        for fd in fds:
            poller.register(fd, select.POLLIN)
        poller.poll(max(0.0, wait) * 1000)
    else:
        time.sleep(min(wait, 0.05))


def _finish(run: _Running, rc: int, timeout: float) -> TargetRun:
    if run.exited >= 0:
        os.close(run.exited)
    run.out.seek(0)
    text = run.out.read().decode("utf-8", "replace")
    run.out.close()
    if run.stopped:
        return TargetRun(run.spec, run.report_dir, -1, time.monotonic() - run.started,
                         f"audit did not finish within {timeout:.0f} s")
    last = text.strip().splitlines() or ["no output"]
    latest = run.report_dir / "latest.json"
    error = ""
    if not latest.exists() or latest.stat().st_mtime < run.wall:
        error = f"no report written (exit {rc}): {last[-1][:300]}"
    return TargetRun(run.spec, run.report_dir, rc, time.monotonic() - run.started, error)


def run_targets(specs: list[str], args: list[str], report_root: Path, jobs: int,
                timeout: float = 3600) -> list[TargetRun]:
    """Audit every target, `jobs` at once, each in a child forked from this process (its own
    pid, session state and SSH master; only the loaded code is shared); a child over its
    timeout gets SIGTERM (it writes what it has), then SIGKILL."""
    sys.stdout.flush()
    sys.stderr.flush()
    todo = list(specs)
    running: dict[int, _Running] = {}
    done: dict[str, TargetRun] = {}
    try:
        while todo or running:
            while todo and len(running) < max(1, jobs):
                spec = todo.pop(0)
                run = _Running(spec, report_root / parse_target(spec).slug,
                               tempfile.TemporaryFile(), time.monotonic(), time.time())
                pid = os.fork()
                if pid == 0:
                    _audit_in_child(spec, args, run.report_dir, run.out.fileno())
                run.exited = _exit_fd(pid)
                running[pid] = run
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid in running:
                run = running.pop(pid)
                done[run.spec] = _finish(run, os.waitstatus_to_exitcode(status), timeout)
                continue
            now = time.monotonic()
            wait = _POLL_S
            for child, run in running.items():
                if not run.stopped and now - run.started > timeout:
                    run.stopped = now
                    os.kill(child, signal.SIGTERM)
                elif run.stopped and now - run.stopped > _KILL_AFTER_S:
                    os.kill(child, signal.SIGKILL)
                due = (run.stopped + _KILL_AFTER_S) if run.stopped else (run.started + timeout)
                wait = min(wait, max(0.01, due - now))
            _sleep_until_exit(running, wait)
    finally:
        for child in running:  # interrupted: no audit outlives the fleet run
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        for child, run in running.items():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)
            if run.exited >= 0:
                os.close(run.exited)
    return [done[spec] for spec in specs]


def warm(rootdir: Path, config: object | None = None) -> list[str]:
    """Import, once for the whole fleet, the suite modules the audit tests import (their
    areas' facts, the injection families with Hypothesis) and, given the fleet's pytest
    config, the audit test modules themselves exactly as collection imports them (same
    import mode and names, asserts rewritten by the fleet's own hook): every forked audit
    then starts with them loaded, and its collection finds each module in `sys.modules`
    instead of rewriting and compiling it again (0.7 CPU-s per target here). The installed
    distributions' metadata is read once too (`shared_metadata`)."""
    names: set[str] = set()
    tests = sorted(rootdir.glob("tests_*/**/*.py"))
    for path in tests:
        try:
            tree = astlock.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
    loaded = []
    for name in sorted(n for n in names if n.split(".")[0] == "aiaudit"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the audit's own import reports it, per target
            continue
        loaded.append(name)
    if config is not None:
        loaded += _import_test_modules(config, [p for p in tests if p.name.startswith("test_")])
        shared_metadata()
        shared_html_template()
    return loaded


def _import_test_modules(config: object, paths: list[Path]) -> list[str]:
    """The audit test modules, imported as `_pytest.python.importtestmodule` does it for
    this config (a module that fails to import is left to each audit's collection, which
    reports it as that target's collection error)."""
    from _pytest.pathlib import import_path

    mode = config.getoption("--import-mode")
    namespaces = config.getini("consider_namespace_packages")
    loaded = []
    for path in paths:
        try:
            module = import_path(path, mode=mode, root=config.rootpath,
                                 consider_namespace_packages=namespaces)
        except Exception:  # noqa: BLE001 - collection in each audit reports it
            continue
        loaded.append(module.__name__)
    return loaded


class _ReadOnceDistribution(importlib.metadata.PathDistribution):
    """An installed distribution whose metadata files are read from disk once."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._texts: dict[str, str | None] = {}

    def read_text(self, filename: str) -> str | None:
        if filename not in self._texts:
            self._texts[filename] = super().read_text(filename)
        return self._texts[filename]

    @property
    def files(self):  # type: ignore[no-untyped-def]
        """The RECORD's paths, made once (pytest walks them to find plugin modules to
        rewrite: 1,700 path objects per audit here)."""
        if not hasattr(self, "_files"):
            self._files = super().files
        return self._files

    @property
    def metadata(self):  # type: ignore[no-untyped-def]
        """METADATA parsed once (an email-format parse per call: pytest-metadata and
        pluggy ask every plugin's name and version in every audit)."""
        if not hasattr(self, "_metadata"):
            self._metadata = super().metadata
        return self._metadata

    @property
    def entry_points(self):  # type: ignore[no-untyped-def]
        """entry_points.txt parsed once (pluggy scans every distribution's for pytest11)."""
        if not hasattr(self, "_entry_points"):
            self._entry_points = super().entry_points
        return self._entry_points


def shared_metadata() -> None:
    """Every pytest start scans all installed distributions' metadata twice (plugin entry
    points, and the plugins' files to mark for assert rewriting: 0.5 CPU-s per audit on a
    host with many packages). The fleet reads it once, here, before it forks: each forked
    audit's `importlib.metadata.distributions()` (argument-less, as pluggy and pytest call
    it) returns these distributions, whose files it has read already. The environment does
    not change during a fleet run."""
    original = importlib.metadata.distributions
    dists = []
    for dist in original():
        path = getattr(dist, "_path", None)
        if path is None:
            return  # not a plain path distribution: leave the scan as it is
        cached = _ReadOnceDistribution(path)
        for name in ("entry_points.txt", "RECORD", "SOURCES.txt", "METADATA", "PKG-INFO"):
            cached.read_text(name)
        if any(ep.group == "pytest11" for ep in cached.entry_points):
            _ = cached.files  # what pytest walks for plugin modules to rewrite, made once
            _ = cached.metadata  # their names and versions, asked in every audit
        dists.append(cached)

    def distributions(**kwargs: object):  # type: ignore[no-untyped-def]
        return iter(dists) if not kwargs else original(**kwargs)

    importlib.metadata.distributions = distributions


def shared_html_template() -> None:
    """pytest-html compiles its Jinja page template anew in every run's configure (about
    0.07 CPU-s); the fleet compiles it once, before it forks, and every forked audit renders
    its report with that template (the file does not change during a fleet run)."""
    try:
        import pytest_html.plugin as html_plugin
    except ImportError:
        return
    original = html_plugin._read_template
    if getattr(original, "aiaudit_shared", False):
        return
    compiled: dict[tuple[tuple[str, ...], str], object] = {}

    def read_template(search_paths: list[Path], template_name: str = "index.jinja2"):  # type: ignore[no-untyped-def]
        key = (tuple(str(p) for p in search_paths), template_name)
        if key not in compiled:
            compiled[key] = original(search_paths, template_name)
        return compiled[key]

    read_template.aiaudit_shared = True  # type: ignore[attr-defined]
    html_plugin._read_template = read_template
    with contextlib.suppress(Exception):  # a broken install fails in each audit, as before
        read_template([Path(html_plugin.__file__).parent / "resources"])


def run_fleet(specs: list[str], args: list[str], report_root: Path, jobs: int,
              timeout: float = 3600, rootdir: Path | None = None,
              config: object | None = None) -> tuple[list[TargetRun], dict]:
    """Audit every target concurrently; write the fleet report; return runs and its JSON."""
    report_root.mkdir(parents=True, exist_ok=True)
    if rootdir is not None:
        warm(rootdir, config)
    runs = run_targets(specs, args, report_root, jobs, timeout)
    reports = []
    for run in runs:
        path = run.report_dir / "latest.json"
        doc = None if run.error else json.loads(path.read_text())
        reports.append((run.spec, doc, run.error, run.report_dir))
    fleet = write_fleet_report(report_root, reports)
    return runs, fleet
