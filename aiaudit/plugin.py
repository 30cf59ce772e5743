"""The pytest plugin: options, control markers, per-case statuses, report writing.

Audit runs are the ones that collect from a `tests_*` directory; they need `--target`.
Other runs (the suite's own self-tests) pass through untouched.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import re
import shutil
import signal
import sqlite3
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from aiaudit import astlock, prefetch
from aiaudit import resources as res
from aiaudit.catalog import CatalogError, load_catalog
from aiaudit.config import ConfigError, load_config
from aiaudit.context import PROFILES, AuditContext, NoHostAccess
from aiaudit.fleet import FLEET_CHILD, child_args, expand_targets, fleet_jobs, run_fleet, shard
from aiaudit.injection.options import add_options as add_injection_options
from aiaudit.providers import provider_spec
from aiaudit.redact import redact
from aiaudit.report import history
from aiaudit.report.diff import (
    FAIL_ON,
    BaselineError,
    auto_baseline,
    compute_diff,
    exit_nonzero,
    load_baseline,
)
from aiaudit.report.html_summary import e, render_summary
from aiaudit.report.model import (
    FAMILY_TABLE,
    RunInfo,
    atomic_write,
    build_report,
    json_text,
    write_json,
)
from aiaudit.report.sarif import build_sarif, merged_sarif
from aiaudit.results import (
    MAX_EVIDENCE_CHARS,
    READ_KEY,
    UNREADABLE_KEY,
    CaseResult,
    format_read,
    parse_read,
    read_nothing,
    summarize,
)
from aiaudit.status import CouldNotCheck, ManualCheck, NotApplicable, Status
from aiaudit.supply_chain.pytest_options import add_supply_chain_options
from aiaudit.target import TargetError, parse_target

HTML_EVERY_SECONDS = 60.0  # a run that is killed still leaves an HTML report this fresh
CTX = pytest.StashKey[AuditContext]()
STATE = pytest.StashKey[dict]()
EVIDENCE = pytest.StashKey[dict]()
CURRENT_ITEM = pytest.StashKey[pytest.Item]()
CONTROL = pytest.StashKey[str]()  # an audit case's control, read once at collection
# The configs of the pytest sessions running in this process, innermost last: the `audit`
# and `evidence` fixtures read theirs here. A fixture that takes `request` (or
# `pytestconfig`, which takes `request`) makes pytest build a fixture definition for
# `request` at every case, inspecting a signature each time: 0.2 ms a case, a second of a
# 1,000-skill audit's 5,000 cases.
_CONFIGS: list[pytest.Config] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aiaudit", "aiaudit compliance audit")
    group.addoption("--target", action="append", help="deployment to audit: local | "
                    "ssh://[user@]host[:port] | docker://container | HOST; repeat it or give "
                    "@FILE (one spec per line) to audit a fleet")
    group.addoption("--fleet-jobs", type=int, default=4, metavar="N",
                    help="fleets: how many targets are audited at once (default 4)")
    group.addoption("--shard", metavar="I/N", help="fleets: audit only the I-th of N shards")
    group.addoption("--audit-config", metavar="FILE", help="audit config (TOML)")
    group.addoption("--profile", choices=PROFILES, default="standard",
                    help="quick: no model generation; full: long injection budgets")
    group.addoption("--report-dir", default="reports", metavar="DIR",
                    help="where the HTML and JSON reports go (default: reports/)")
    group.addoption("--baseline", metavar="FILE|auto",
                    help="an earlier JSON report to diff against (auto: the newest earlier "
                    "report of the same target in the report dir)")
    group.addoption("--fail-on", default="any", choices=FAIL_ON,
                    help="exit non-zero on: any FAIL/ERROR (default), only cases new since "
                    "the baseline, or failing controls of at least that severity")
    group.addoption("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 log")
    add_supply_chain_options(group)
    add_injection_options(group)


def _is_audit_run(config: pytest.Config) -> bool:
    root = config.rootpath.resolve()
    for arg in config.args:
        path = Path(arg.split("::", 1)[0]).resolve()
        if path == root or root.is_relative_to(path):
            return True
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        if rel.parts and rel.parts[0].startswith("tests_"):
            return True
    return False


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "control(id): the catalog control this test implements")
    config.addinivalue_line("markers", "resources(**argname_to_provider): parametrize per "
                            "discovered resource")
    config.addinivalue_line("markers", "lab: needs root and the lab deployments")
    astlock.guard_pytest_rewrite()  # discovery threads parse while collection rewrites
    _CONFIGS.append(config)
    if not _is_audit_run(config) or hasattr(config, "workerinput"):
        return
    # pytest-xdist's -n spreads a fleet's targets (pytest_cmdline_main); one target's audit
    # stays one process: its discoveries run at collection and are shared by all its tests,
    # which xdist workers would each redo (and could collect differently).
    if getattr(config.option, "numprocesses", None):
        config.option.numprocesses, config.option.dist, config.option.tx = 0, "no", []
    try:
        specs = config.getoption("target") or [None]
        if len(specs) > 1:
            raise TargetError("several --target values reached one target's run")
        target = parse_target(specs[0])
        cfg = load_config(config.getoption("audit_config"))
        load_catalog()
    except (TargetError, ConfigError, CatalogError) as exc:
        raise pytest.UsageError(str(exc)) from None
    ctx = AuditContext(target, cfg, config.getoption("profile"))
    ctx.cached("pytest:mcp_list_stdio", lambda: bool(config.getoption("mcp_list_stdio")))
    config.stash[CTX] = ctx
    # Audit tests use no Hypothesis; its plugin imports hypothesis (seconds) in the terminal
    # summary, which would hold an interrupted audit past its 2 s stop.
    config.pluginmanager.set_blocked("hypothesispytest")
    if not _wants_logs(config):
        # No audit module logs, and no audit test uses caplog: pytest's logging plugin only
        # swapped handlers in and out around every phase of every case (about 0.2 ms a case,
        # a second of a 1,000-skill audit). Its own pytest_configure (trylast) registers it
        # after this one; a library's warnings still reach the captured stderr.
        config.pluginmanager.set_blocked("logging-plugin")
    if not (config.getoption("pythonwarnings", None) or config.getini("filterwarnings")):
        # Nor are warnings part of an audit's verdict: pytest's warnings plugin entered and
        # left catch_warnings around every case (~0.1 ms a case). A warning a library
        # raises still reaches the case's captured stderr, as Python shows it.
        config.pluginmanager.unregister(name="warnings")
    started = _utc_now()
    report_dir = Path(config.getoption("report_dir"))
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    base = report_dir / f"{target.slug}-{stamp}"  # a stem: the slug may contain dots
    config.stash[STATE] = {"cases": {}, "started": started, "base": base, "doc": None,
                           "baseline": _baseline(config, report_dir, target.slug, base.name),
                           "t0": time.monotonic(), "interrupted": ""}
    _install_stop_handlers(config.stash[STATE])
    if not config.getoption("htmlpath", None):
        config.option.htmlpath = f"{base}.html"
    if config.option.tbstyle == "auto":
        # Each FAIL is one line already; pytest's default summary re-scans every report per
        # failure (quadratic: minutes for a few thousand failing cases). --tb=... overrides.
        config.option.tbstyle = "line"
    config.option.self_contained_html = True
    # One test module that cannot be imported is its own controls' ERROR, not the end of
    # the audit: pytest would otherwise run nothing and every control would be NOT_RUN.
    config.option.continue_on_collection_errors = True


def _wants_logs(config: pytest.Config) -> bool:
    """Whether the user asked pytest for log capture or live logs (then it stays on)."""
    return any(config.getoption(name, None) for name in ("log_level", "log_file",
                                                          "log_cli_level")) or \
        any(config.getini(name) for name in ("log_cli", "log_file", "log_level"))


def _baseline(config: pytest.Config, report_dir: Path, slug: str,
              stem: str) -> tuple[str, dict] | None:
    """The baseline report, read at start so that a bad --baseline is one usage line."""
    option = config.getoption("baseline")
    if not option:
        return None
    path = auto_baseline(report_dir, slug, stem) if option == "auto" else Path(option)
    if path is None:
        return ("auto: no earlier report of this target", {})
    try:
        return (str(path), load_baseline(path))
    except BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _add_also_seen(ctx: AuditContext, info: RunInfo) -> None:
    """Agent state dirs and processes outside the `[deployment]` scope, listed (not judged)."""
    if not ctx.config.deployment.is_set or not ctx.target.host_access:
        return
    from aiaudit.scope import also_seen, scope_for

    try:
        info.also_seen = also_seen(scope_for(ctx))
        if ctx.computed("storage:locate"):  # database servers storage left out of its cases
            from aiaudit.storage.locate import locate_all

            info.also_seen += [{"kind": "database server", "product": s.app, "where": s.path,
                                "found_by": s.found_by} for s in locate_all(ctx).outside]
    except Exception as exc:  # the report is always written; the gap is said
        info.notes.append(f"What else runs on the host (outside [deployment]) could not be "
                          f"listed: {type(exc).__name__}: {exc}")


def _interrupted_text(state: dict, how: str) -> str:
    return f"interrupted after {time.monotonic() - state['t0']:.0f} s ({how})"


def _install_stop_handlers(state: dict) -> None:
    """SIGINT/SIGTERM stop the audit at once: every HTTP request in flight is abandoned
    (its socket shut down, so no probe thread is waited for), then KeyboardInterrupt lets
    pytest write the report with every case finished so far."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, _frame: Any) -> None:
        if not state["interrupted"]:
            state["interrupted"] = _interrupted_text(state, signal.Signals(signum).name)
        http = sys.modules.get("aiaudit.http")  # not imported: no request is in flight
        if http is not None:
            http.abort_all(f"the audit was {state['interrupted']}")
        raise KeyboardInterrupt

    state["old_handlers"] = {sig: signal.signal(sig, stop) for sig in _STOP_SIGNALS}


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo) -> None:
    """Keep only the innermost frame of an interrupt's traceback: pytest renders it (source
    parsing, seconds on a busy host) before the report is written."""
    if len(excinfo.traceback) > 1:
        excinfo.traceback = excinfo.traceback[-1:]
@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Fleets: more than one target (or @FILE, or --shard) fans out, one run per target."""
    values = config.getoption("target") or []
    fleet = len(values) > 1 or any(v.startswith("@") for v in values) or config.getoption(
        "shard")
    if not fleet or not _is_audit_run(config) or os.environ.get(FLEET_CHILD):
        return None
    try:
        specs = shard(expand_targets(values), config.getoption("shard"))
        baseline = config.getoption("baseline")
        if baseline not in (None, "auto"):
            raise TargetError("--baseline FILE names one target's report; fleets take "
                              "--baseline=auto (each target against its own last report)")
    except TargetError as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return pytest.ExitCode.USAGE_ERROR
    args = child_args(list(config.invocation_params.args))
    if baseline == "auto":
        args.append("--baseline=auto")
    root = Path(config.getoption("report_dir"))
    jobs = fleet_jobs(getattr(config.option, "numprocesses", None),
                      config.getoption("fleet_jobs"), len(specs))
    runs, doc = run_fleet(specs, args, root, jobs, rootdir=config.rootpath,
                          config=config)
    sarif = config.getoption("sarif")
    if sarif:
        write_json(merged_sarif(root, doc), Path(sarif))
    for run in runs:
        line = f"aiaudit fleet: {run.spec}: exit {run.returncode} in {run.seconds:.1f} s"
        sys.stdout.write(line + (f" ({run.error})" if run.error else "") + "\n")
    sys.stdout.write(f"aiaudit fleet: verdict {doc['verdict']}; report {root / 'fleet.html'} "
                     f"(JSON: {root / 'fleet.json'})\n")
    failed = any(r.returncode != 0 or r.error for r in runs)
    return pytest.ExitCode.TESTS_FAILED if failed else pytest.ExitCode.OK


def _ctx(config: pytest.Config) -> AuditContext | None:
    return config.stash.get(CTX, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start the providers the run's test files name, so their SSH commands and network
    probes overlap instead of waiting in turn during collection (aiaudit/prefetch.py)."""
    ctx = _ctx(session.config)
    if ctx is None:
        return
    files = prefetch.test_files(session.config.rootpath.resolve(), list(session.config.args))
    prefetch.start(ctx, prefetch.provider_names(files))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("resources")
    ctx = _ctx(metafunc.config)
    if marker is None or ctx is None:
        return
    for argname, provider_name in marker.kwargs.items():
        spec = provider_spec(provider_name, metafunc.definition.path)
        try:
            items = ctx.cached(f"provider:{provider_name}", lambda s=spec: s.func(ctx))
        except NoHostAccess as exc:
            items = [("no-host-access", res.Unavailable(Status.NOT_APPLICABLE, str(exc)))]
        except CouldNotCheck as exc:
            items = [("could-not-discover", res.Unavailable(Status.ERROR, str(exc)))]
        except Exception:  # a discovery bug still shows up as one ERROR case, never hidden
            control = _control_of(metafunc.definition) or metafunc.definition.name
            items = [("discovery-failed", res.Unavailable(
                Status.ERROR, internal_error(control, f"discovery {provider_name!r}"),
                trace=traceback.format_exc()))]
        if not items:
            items = [("none-found", res.Unavailable(Status.NOT_APPLICABLE, spec.empty_reason))]
        ids = res.unique_ids([res.safe_id(i) for i, _ in items])
        metafunc.parametrize(argname, [v for _, v in items], ids=ids)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the work areas registered for after collection (resources.after_collection)
    when one of their controls is among the collected cases."""
    ctx = _ctx(session.config)
    if ctx is None or session.config.option.collectonly:
        return
    functions = {(item.path, getattr(item, "originalname", item.name)): item
                 for item in session.items}
    controls = {_control_of(item) for item in functions.values()}
    for wanted, starter in res.AFTER_COLLECTION:
        if wanted & controls:
            starter(ctx)


def _control_of(item: pytest.Item) -> str | None:
    markers = list(item.iter_markers("control"))
    if len(markers) != 1 or len(markers[0].args) != 1:
        return None
    return str(markers[0].args[0])


def _sanitize_nodeid(item: pytest.Item) -> None:
    """Parametrize ids may carry target text; make them inert in every output format."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return
    safe = res.safe_id(callspec.id)
    if safe != callspec.id:
        base = item.nodeid.rsplit("[", 1)[0]
        item._nodeid = f"{base}[{safe}]"  # pytest keeps the id here; no public setter


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _ctx(config) is None:
        return
    known = load_catalog().by_id()
    bad = []
    for item in items:
        control = _control_of(item)
        if control not in known:
            bad.append(item.nodeid)
        else:
            item.stash[EVIDENCE] = {}
            item.stash[CONTROL] = control
            _short_failures(item)
        _sanitize_nodeid(item)
    _share_locations(items)
    # Discovery is done (providers parametrize at collection): what it built lives until the
    # end, so later collections need not walk it again and again (a 1,000-skill inventory
    # made each full collection cost a noticeable share of the run).
    gc.freeze()
    if bad:
        raise pytest.UsageError(
            f"{len(bad)} audit test(s) lack exactly one @pytest.mark.control(ID) naming a "
            f"catalog control, e.g. {bad[0]}"
        )


def _share_locations(items: list[pytest.Item]) -> None:
    """Every case of one test function has its file and line: pytest looks them up again
    for each case (inspecting the function's source file, ~0.1 ms a case) when the case's
    first report asks for `item.location`. Computed once per function here; the name
    (its test id) stays each case's own, as pytest words it (reportinfo's getmodpath)."""
    first: dict[object, tuple[str, int | None, str]] = {}
    for item in items:
        function = getattr(item, "function", None)
        if function is None or type(item).reportinfo is not pytest.Function.reportinfo:
            continue  # a collector of its own says its own location
        known = first.get(function)
        if known is None:
            first[function] = item.location
        else:  # pytest caches location in the item's __dict__ (a cached_property)
            item.__dict__["location"] = (known[0], known[1], item.getmodpath())


def _short_failures(item: pytest.Item) -> None:
    """Skip pytest's traceback rendering for a FAIL or a CouldNotCheck: the report keeps one
    line for those (pytest_runtest_makereport), and rendering source and every argument's
    repr per failing case dominated whole runs with hundreds of failing cases."""
    full = item.repr_failure

    def repr_failure(excinfo: pytest.ExceptionInfo[BaseException], *args: Any, **kw: Any):
        if excinfo.errisinstance((AssertionError, CouldNotCheck)):
            return f"{excinfo.typename}: {excinfo.value}"
        if item.config.option.tbstyle == "line" and hasattr(item, "_repr_failure_py"):
            return item._repr_failure_py(excinfo, style="short")  # a bug keeps its traceback
        return full(excinfo, *args, **kw)

    item.repr_failure = repr_failure  # type: ignore[method-assign]


class Evidence:
    """What a test observed; redacted and size-capped before it reaches any report."""

    def __init__(self, store: dict[str, str]):
        self._store = store

    def add(self, key: str, value: Any) -> None:
        text = redact(str(value))
        if len(text) > MAX_EVIDENCE_CHARS:
            text = text[:MAX_EVIDENCE_CHARS] + f"… [{len(text) - MAX_EVIDENCE_CHARS} chars cut]"
        self._store[redact(str(key))] = text

    def read(self, **counts: int) -> None:
        """Count what was actually read (files, rows, keys, processes, requests, ...): a
        PASS needs one count above zero. Repeated calls add up."""
        merged = parse_read(self._store.get(READ_KEY, ""))
        for name, n in counts.items():
            merged[name] = merged.get(name, 0) + int(n)
        self._store[READ_KEY] = format_read(merged)

    def unreadable(self, reasons: list[str]) -> None:
        """What could not be read, one reason per path (a PASS is then withheld)."""
        if reasons:
            self.add(UNREADABLE_KEY, "; ".join(dict.fromkeys(reasons)))


@pytest.fixture
def evidence() -> Evidence:
    """Record evidence for the report: `evidence.add("bind", "0.0.0.0:8000")`.

    The item comes from pytest_runtest_setup and the config from _CONFIGS, not from
    `request` (see _CONFIGS)."""
    return Evidence(_CONFIGS[-1].stash[CURRENT_ITEM].stash.setdefault(EVIDENCE, {}))


@pytest.fixture(scope="session")
def audit() -> AuditContext:
    """The run's shared context (target, config, profile, client, host access)."""
    ctx = _ctx(_CONFIGS[-1]) if _CONFIGS else None
    if ctx is None:
        pytest.skip("not an audit run (no --target)")
    return ctx


def internal_error(control: str, where: str = "") -> str:
    """The one reason an unexpected exception gets: never the exception's own text, which
    means nothing to an auditor and may carry target data; the traceback goes to the log."""
    return f"internal error in {control}" + (f" ({where})" if where else "") + \
        ": the traceback is in the run's log"


class InternalError(CouldNotCheck):
    """Raised in place of a case whose discovery broke; carries that traceback to the log."""

    def __init__(self, reason: str, trace: str):
        super().__init__(reason)
        self.trace = trace


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A case standing in for an undiscovered resource ends here, before any fixture sees
    the stand-in (fixtures expect the real resource)."""
    item.config.stash[CURRENT_ITEM] = item  # the evidence fixture's item
    callspec = getattr(item, "callspec", None)
    for value in (callspec.params.values() if callspec else ()):
        if isinstance(value, res.Unavailable):
            if value.status == Status.NOT_APPLICABLE:
                raise NotApplicable(msg=f"NOT_APPLICABLE: {value.reason}", pytrace=False)
            if value.status == Status.MANUAL:  # what only the operator can supply is missing
                raise ManualCheck(msg=f"MANUAL: {value.reason}", pytrace=False)
            if value.trace:
                raise InternalError(value.reason, value.trace)
            raise CouldNotCheck(value.reason)


# C0 and C1 controls, DEL and the bidirectional overrides/isolates: a hostile server's
# bytes (a terminal escape, U+009B, a right-to-left override) quoted in a reason are shown
# as escapes, never acted on by a terminal or a viewer.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _one_line(text: str, limit: int = 500) -> str:
    line = _CONTROLS.sub(lambda m: ascii(m.group())[1:-1], " ".join(text.split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _skip_reason(report: pytest.TestReport, call: pytest.CallInfo) -> str:
    if call.excinfo is not None and isinstance(call.excinfo.value, pytest.skip.Exception):
        return str(call.excinfo.value.msg)
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _classify(report: pytest.TestReport, call: pytest.CallInfo,
              control: str) -> tuple[Status, str, bool]:
    """Map one phase's outcome onto an audit status, a one-line reason, and whether it was
    an internal error (an exception no check raised on purpose)."""
    if report.passed:
        return Status.PASS, "", False
    excinfo = call.excinfo
    if report.skipped:
        reason = _skip_reason(report, call)
        if excinfo is not None and excinfo.errisinstance(ManualCheck):
            return Status.MANUAL, _one_line(reason.removeprefix("MANUAL: "), 4000), False
        return (Status.NOT_APPLICABLE, _one_line(reason.removeprefix("NOT_APPLICABLE: "), 4000),
                False)
    if excinfo is None:
        return Status.ERROR, internal_error(control, f"{report.when} failed without an "
                                           "exception"), True
    if report.when == "call" and excinfo.errisinstance(AssertionError):
        message = str(excinfo.value).split("\nassert ", 1)[0]
        return Status.FAIL, _one_line(message or "assertion failed"), False
    if excinfo.errisinstance(InternalError):
        return Status.ERROR, str(excinfo.value), True
    if excinfo.errisinstance(CouldNotCheck):
        return Status.ERROR, _one_line(str(excinfo.value)), False
    if excinfo.errisinstance(NoHostAccess):
        return Status.NOT_APPLICABLE, _one_line(str(excinfo.value)), False
    where = f"during {report.when}" if report.when != "call" else ""
    return Status.ERROR, internal_error(control, where), True


def _withhold_unread_pass(evidence: dict[str, str]) -> tuple[Status, str]:
    """Nothing unread is PASS: a passing test that read nothing, or could not read part of
    what it judged, is ERROR with the reason (the test's own evidence says what)."""
    if evidence.get(UNREADABLE_KEY):
        return Status.ERROR, f"not everything could be read: {evidence[UNREADABLE_KEY]}"
    if read_nothing(evidence):
        return Status.ERROR, ("passed without reading anything (no count in the evidence's "
                              f"'{READ_KEY}'): nothing was checked")
    return Status.PASS, ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    state = item.config.stash.get(STATE, None)
    if state is None:
        return
    control = item.stash.get(CONTROL, None) or _control_of(item)
    if control is None:
        return
    status, reason, internal = _classify(report, call, control)
    if status == Status.PASS and report.when == "call":
        status, reason = _withhold_unread_pass(item.stash.get(EVIDENCE, {}))
        if status != Status.PASS:
            report.outcome = "failed"
    reason = redact(reason)
    cases: dict[str, CaseResult] = state["cases"]
    case = cases.get(item.nodeid)
    if case is None:  # the first phase of the case
        callspec = getattr(item, "callspec", None)
        case = cases[item.nodeid] = CaseResult(
            nodeid=item.nodeid, control=control,
            case=res.safe_id(callspec.id) if callspec else "", status=Status.PASS)
    if status != Status.PASS and (case.status == Status.PASS or report.when == "call"):
        case.status, case.reason = status, reason
    case.duration += report.duration
    case.evidence = dict(item.stash.get(EVIDENCE, {}))
    if report.when == "call" or not report.passed:  # judged: a call ran, or setup decided
        state.setdefault("judged", set()).add(item.nodeid)
    # Auditors get one clear line, never a traceback wall; internal errors keep theirs
    # (redacted) in the log, below that line.
    if internal:
        excinfo = call.excinfo
        trace = excinfo.value.trace if excinfo and excinfo.errisinstance(InternalError) \
            else str(report.longrepr or "")
        report.longrepr = f"{status.value} [{control}] {reason}\n{redact(trace)}"
    elif status in (Status.FAIL, Status.ERROR):
        report.longrepr = f"{status.value} [{control}] {reason}"
    elif report.skipped and status in (Status.NOT_APPLICABLE, Status.MANUAL):
        lineno = item.location[1] or 0
        report.longrepr = (str(item.path), lineno, f"{status.value} [{control}] {reason}")
    elif report.longrepr is not None:
        report.longrepr = redact(str(report.longrepr))
    report.sections = [(title, redact(text)) for title, text in report.sections]
    report.user_properties.extend([("control", control), ("status", case.status.value)])
    ctx = _ctx(item.config)
    waiver = ctx.config.waiver_for(control) if ctx and report.when == "call" and \
        status == Status.FAIL else None
    if waiver and waiver.valid():
        report.outcome = "skipped"
        report.wasxfail = f"WAIVED until {waiver.expires}: {waiver.justification}"
    report.aiaudit_status = case.status.value  # type: ignore[attr-defined]
    report.aiaudit_control = control  # type: ignore[attr-defined]
    report.aiaudit_evidence = case.evidence  # type: ignore[attr-defined]
    if report.when == "teardown":
        _refresh_html(item.config, state)


_CONTROL_MARK = re.compile(r"""@pytest\.mark\.control\(\s*["']([A-Z]+-\d+)["']\s*\)""")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A test module that could not be collected (an import error, a crash in its
    parametrization) stands as an internal ERROR of each control it implements, named from
    its source (the module object may not exist), with the traceback in the log."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    state = collector.config.stash.get(STATE, None)
    path = Path(str(getattr(collector, "path", "") or ""))
    if state is None or not report.failed or path.suffix != ".py":
        return
    try:
        controls = sorted(set(_CONTROL_MARK.findall(path.read_text(encoding="utf-8"))))
    except OSError:
        controls = []
    if not controls:
        return
    trace = redact(str(report.longrepr or ""))
    lines = []
    for control in controls:
        reason = internal_error(control, f"collecting {path.name}")
        state["cases"][f"{report.nodeid}::{control}"] = CaseResult(
            nodeid=f"{report.nodeid}::{control}", control=control, case="",
            status=Status.ERROR, reason=reason)
        state.setdefault("judged", set()).add(f"{report.nodeid}::{control}")
        lines.append(f"ERROR [{control}] {reason}")
    report.longrepr = "\n".join(lines) + "\n" + trace


def _refresh_html(config: pytest.Config, state: dict) -> None:
    """Rewrite pytest-html's report at most every HTML_EVERY_SECONDS during the run.

    pytest-html's own `generate_report_on_test` re-renders the whole report after every
    case: quadratic in the cases (a 1,000-skill home spent most of a 10-minute run there).
    The report is still written in full at the end of the session."""
    now = time.monotonic()
    if now - state.setdefault("html_at", now) < HTML_EVERY_SECONDS:
        return
    state["html_at"] = now
    for plugin in config.pluginmanager.get_plugins():
        if hasattr(plugin, "_generate_report") and hasattr(plugin, "_report"):
            plugin._generate_report()


def _add_history(doc: dict, base: Path) -> None:
    """Append the run to the report dir's history; add the trend and first-seen dates."""
    try:
        history.record_run(base.parent, doc, f"{base.name}.html")
        doc["trend"] = [{"started": p.started, "counts": p.counts}
                        for p in history.trend(base.parent, doc["target"])]
        keys = [c["key"] for ctl in doc["controls"] for c in ctl["cases"]
                if c["status"] in ("FAIL", "ERROR")]
        seen = history.first_seen(base.parent, doc["target"], keys)
        for ctl in doc["controls"]:
            for case in ctl["cases"]:
                if case["key"] in seen:
                    case["first_seen"] = seen[case["key"]]
    except (OSError, sqlite3.Error) as exc:
        doc["notes"].append(f"run history not updated: {exc}")


def _finish(session: pytest.Session) -> dict | None:
    config = session.config
    state = config.stash.get(STATE, None)
    ctx = _ctx(config)
    if state is None or ctx is None:
        return None
    catalog = load_catalog()
    if session.exitstatus == pytest.ExitCode.INTERRUPTED and not state["interrupted"]:
        state["interrupted"] = _interrupted_text(state, "KeyboardInterrupt")
    cases = list(state["cases"].values())
    if state["interrupted"]:  # a case whose call was cut off only passed its setup
        cases = [c for c in cases if c.nodeid in state.get("judged", set())]
    summary = summarize(catalog, cases, ctx.config)
    info = RunInfo(
        target=ctx.target.spec,
        target_kind=ctx.target.kind,
        profile=ctx.profile,
        started=state["started"].isoformat(),
        finished=_utc_now().isoformat(),
        config=ctx.config.path,
        parameters={"report_dir": str(config.getoption("report_dir"))},
        interrupted=state["interrupted"],
        injection_families=list(ctx.cached(FAMILY_TABLE, list)),
    )
    _add_also_seen(ctx, info)
    if state["interrupted"]:
        info.notes.append(f"The audit was {state['interrupted']}: the report keeps the "
                          f"{len(cases)} cases finished by then; controls with no "
                          "finished case are NOT_RUN.")
    # Areas that need other timeouts keep their own SafeClient in "http:extra_clients".
    clients = [ctx.client] if ctx.computed("context:client") else []
    clients += ctx.cached("http:extra_clients", list)
    if clients:
        info.requests = [
            {"probe": r.probe, "method": r.method, "url": r.url, "status": r.status,
             "elapsed": round(r.elapsed, 4), "error": r.error}
            for r in sorted((r for c in clients for r in c.records), key=lambda r: r.started)
        ]
    doc = build_report(info, summary, catalog)
    baseline = state.get("baseline")
    if baseline is not None:
        name, old = baseline
        doc["diff"] = compute_diff(doc, old, name)  # no earlier report: all failing is new
    _add_history(doc, state["base"])
    state["doc"], state["summary"] = doc, summary
    base: Path = state["base"]
    try:
        text = json_text(doc)  # serialised once, written twice (atomically, 0600 both)
        atomic_write(Path(f"{base}.json"), text)
        atomic_write(base.parent / "latest.json", text)
    except OSError as exc:
        state["write_error"] = f"cannot write JSON report in {base.parent}: {exc}"
    sarif = config.getoption("sarif")
    if sarif:
        try:
            write_json(build_sarif(doc), Path(sarif))
        except OSError as exc:
            state["write_error"] = f"cannot write SARIF log {sarif}: {exc}"
    return doc


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    try:
        doc = _finish(session)
    except Exception:  # the report must still be written; show why the summary failed
        session.config.stash[STATE]["write_error"] = traceback.format_exc(limit=3)
        return
    if doc is None:
        return
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        failed = exit_nonzero(doc, session.config.getoption("fail_on"))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED if failed else pytest.ExitCode.OK


def pytest_html_report_title(report: Any) -> None:
    report.title = "aiaudit compliance report"


def pytest_html_results_summary(prefix: list, summary: list, postfix: list,
                                session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state and state.get("doc"):
        prefix.append(render_summary(state["doc"]))


def pytest_html_results_table_header(cells: list) -> None:
    cells.insert(1, '<th class="sortable" data-column-type="control">Control</th>')
    cells.insert(2, '<th class="sortable" data-column-type="auditStatus">Status</th>')


def pytest_html_results_table_row(report: Any, cells: list) -> None:
    if report.when != "call" and report.passed and not any(
            "teardown" in title for title, _ in report.sections):
        # pytest-html drops a passed setup or teardown row (it keeps only a teardown's own
        # captured sections): no cells spares rendering and redacting the 2 of every 3
        # reports that it would throw away.
        cells.clear()
        return
    # pytest-html writes the test id raw (its issue #1024): rewrite the cell escaped.
    test_id = report.nodeid if report.when == "call" else f"{report.nodeid}::{report.when}"
    cells[1] = f'<td class="col-testId">{e(redact(test_id))}</td>'
    control = getattr(report, "aiaudit_control", "")
    status = getattr(report, "aiaudit_status", "")
    cells.insert(1, f'<td class="col-control">{e(control)}</td>')
    cells.insert(2, f'<td class="col-auditStatus">{e(status)}</td>')


def pytest_html_results_table_html(report: Any, data: list) -> None:
    evidence = getattr(report, "aiaudit_evidence", None)
    if evidence:
        rows = "".join(f"<div>{e(k)}: {e(v)}</div>" for k, v in evidence.items())
        data.append(f'<div class="aia-evidence">{rows}</div>')


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if not state:
        return
    if state.get("write_error"):
        terminalreporter.write_line(f"aiaudit: {state['write_error']}", red=True)
    summary = state.get("summary")
    if summary is None:
        return
    counts = ", ".join(f"{v} {k}" for k, v in summary.counts.items() if v)
    terminalreporter.write_sep("=", f"aiaudit verdict: {summary.verdict} ({counts})",
                               red=summary.verdict != "COMPLIANT",
                               green=summary.verdict == "COMPLIANT")
    for r in summary.controls:
        if r.status in (Status.FAIL, Status.ERROR):
            terminalreporter.write_line(f"  {r.status.value:5} {r.control.id} {r.control.title}")
    if state.get("interrupted"):
        terminalreporter.write_line(f"aiaudit: {state['interrupted']}", red=True)
    base: Path = state["base"]
    terminalreporter.write_line(f"aiaudit report: {config.option.htmlpath} "
                                f"(and {base.parent / 'latest.html'}, latest.json)")


def pytest_unconfigure(config: pytest.Config) -> None:
    if config in _CONFIGS:
        _CONFIGS.remove(config)
    ctx = _ctx(config)
    if ctx is not None:
        ctx.close()  # the run's SSH master: no ssh process outlives the audit
    state = config.stash.get(STATE, None)
    if not state:
        return
    for sig, handler in state.pop("old_handlers", {}).items():
        signal.signal(sig, handler)
    # The process is ending: spare the exit-time collections (pytest's cleanup runs five
    # full ones to surface unraisable exceptions; over a big inventory each walks it all).
    gc.freeze()
    html = Path(config.option.htmlpath) if getattr(config.option, "htmlpath", None) else None
    if html and html.exists():
        try:
            shutil.copyfile(html, html.parent / "latest.html")
        except OSError:
            pass
