"""The deployment under audit, resolved once per run into one typed, frozen object.

`[deployment]` names it (framework dirs or user homes, systemd units, users, ports); the old
keys feed the same object as aliases: `[paths] state_dirs` (a framework dir or a home, like
`homes`), `[supply_chain] home_dirs` (user homes), `hermes_homes` and `openclaw_state_dirs`
(framework dirs). A path is classified once, by what it holds, with the products' own
knowledge (aiaudit.products): a dir named `.hermes` or holding a Hermes state.db is a Hermes
home, one named `.openclaw` or holding openclaw.json an OpenClaw state dir, one holding
webui.db an Open WebUI data dir (DATA_DIR), and a user home gives the framework dirs below
it. So `/home/u` and `/home/u/.hermes` give the same roots.

Storage, supply chain, exposure intent (EXP-01) and the process controls (SUP-05/06) take
the scope instead of re-deriving places from the context. With `[deployment]` set the scope
is closed: only what it names is judged, and agent state dirs and processes found elsewhere
on the host are listed in the report as "also seen on the host" (`also_seen`), not judged.
Without it the audit keeps its host-wide defaults.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.config import AuditConfig
from aiaudit.hostfs import HostFS
from aiaudit.products import hermes, open_webui, openclaw
from aiaudit.status import CouldNotCheck

HERMES, OPENCLAW, OPEN_WEBUI = "hermes", openclaw.APP, open_webui.APP
SCOPE_KEY = "deployment:scope"


def _norm(path: str) -> str:
    return posixpath.normpath(path) if path.startswith("/") else path


DEPLOYMENT_HOMES = "[deployment] homes"


@dataclass(frozen=True)
class Root:
    """A framework dir in the scope: `product` is "hermes", "openclaw" or "open-webui"."""

    product: str
    path: str
    found_by: str


@dataclass(frozen=True)
class Named:
    """A place the audit config names: `hint` is "home" (a user home), a product (a
    framework dir), or "" (either: classified by what it holds)."""

    path: str
    hint: str
    found_by: str


@dataclass(frozen=True)
class ProcessInfo:
    """One agent process as /proc shows it, with the state dirs it uses."""

    pid: int
    user: str
    unit: str  # systemd unit from its cgroup ("" when none)
    cmdline: str
    state_dirs: tuple[str, ...]  # env overrides, else the defaults below its $HOME
    env_read: bool  # False: its environment was closed to the audit account
    hermes_managed: str | None = None  # its HERMES_MANAGED_DIR (None: unset)

    def describe(self) -> str:
        return f"pid {self.pid} (user {self.user or '?'}): {self.cmdline[:120]}"


@dataclass(frozen=True)
class Scope:
    """Where the audited deployment is: host filesystem, settings, roots, processes, ports."""

    fs: HostFS
    config: AuditConfig
    closed: bool  # `[deployment]` is set: only what the scope holds is judged
    homes: tuple[str, ...] | None  # user homes; None: every login home (open scope)
    roots: tuple[Root, ...] = ()
    named: tuple[Named, ...] = ()
    users: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    # private local copies of the deployment's SQLite stores, made once per run and shared
    # by every area (OpenClaw's state/openclaw.sqlite: supply chain reads its approvals row,
    # storage its tables); {store path: LocalCopy} (aiaudit.storage.snapshot.shared_copy)
    copies: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # (Hermes home or "*" for every home of the scope, managed dir, where it was named):
    # HERMES_MANAGED_DIR in the environment of the deployment's processes or units
    hermes_managed: tuple[tuple[str, str, str], ...] = ()

    def hermes_managed_dir(self, home: str) -> tuple[str, str]:
        """(managed dir, why) of the Hermes processes running this home (or a profile below
        it): the HERMES_MANAGED_DIR their environment sets, else Hermes' default
        (hermes_cli/managed_scope.py get_managed_dir: the variable, when set, replaces
        /etc/hermes, and names no managed scope at all when it is no directory)."""
        home = _norm(home)
        for where, directory, why in self.hermes_managed:
            if where == "*" or home == where or home.startswith(where.rstrip("/") + "/"):
                return directory, why
        return hermes.managed_dir(), ""

    def roots_of(self, product: str) -> list[str]:
        return [r.path for r in self.roots if r.product == product]

    @property
    def state_dirs(self) -> list[Named]:
        """Named places meant as state dirs or homes holding them (not bare user homes of
        `[supply_chain] home_dirs`): storage checks each, and says so when one holds
        nothing."""
        return [n for n in self.named if n.hint != "home"]

    def owns_path(self, path: str) -> bool:
        """Whether a framework dir is (or lies in) one of the scope's roots or named dirs."""
        path = _norm(path)
        places = [r.path for r in self.roots] + [n.path for n in self.state_dirs]
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in places)

    def owns_process(self, proc: ProcessInfo) -> bool:
        """A process is the deployment's when it runs as one of its users or units, or uses
        one of its state dirs (env override, or the default below its $HOME)."""
        if not self.closed:
            return True
        if proc.user and proc.user in self.users or proc.unit and proc.unit in self.units:
            return True
        return any(self.owns_path(d) for d in proc.state_dirs)


# ------------------------------------------------------------------ classification

_NAMES = (*hermes.home_dir_names(), *openclaw.home_state_dir_names())
_MARKERS = ("state.db", "config.yaml", ".env", "skills", *openclaw.config_names(),
            *openclaw.state_markers(),
            open_webui.db_name(), *open_webui.data_markers())


def _listing_script(paths: list[str]) -> str:
    """For each path: `d PATH` if a dir, then `c PATH NAME` for each known name in it."""
    names = " ".join(shlex.quote(n) for n in (*_NAMES, *_MARKERS))
    words = " ".join(shlex.quote(p) for p in paths)
    pips = " ".join(f'"$p"/{g}' for g in open_webui.pip_data_globs())  # our own constants
    return (f"for p in {words}; do [ -d \"$p\" ] || continue; printf 'd\\t%s\\n' \"$p\"; "
            f"for n in {names}; do [ -e \"$p/$n\" ] && printf 'c\\t%s\\t%s\\n' \"$p\" \"$n\"; "
            f"done; for q in \"$p\"/{shlex.quote(openclaw.data()['paths']['profile_prefix'])}*; "
            "do [ -d \"$q\" ] && printf 'c\\t%s\\t%s\\n' \"$p\" \"${q##*/}\"; done; "
            # Open WebUI's package data dir of a pip install in (or below) the named dir
            f"for q in {pips}; do [ -f \"$q/{open_webui.db_name()}\" ] && "
            "printf 'c\\t%s\\t%s\\n' \"$p\" \"${q#\"$p\"/}\"; done; done; true")


def list_dirs(fs: HostFS, paths: list[str]) -> dict[str, set[str]]:
    """{existing dir: the known names it holds} (one round trip)."""
    paths = list(dict.fromkeys(p for p in paths if p.startswith("/")))
    if not paths:
        return {}
    rc, out, err = fs.run(_listing_script(paths), timeout=60)
    if rc != 0 and not out:
        raise CouldNotCheck(f"cannot list the deployment's dirs: {err.strip()[:200]}")
    found: dict[str, set[str]] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if parts[0] == "d" and len(parts) == 2:
            found.setdefault(parts[1], set())
        elif parts[0] == "c" and len(parts) == 3:
            found.setdefault(parts[1], set()).add(parts[2])
    return found


def classify(path: str, names: set[str] | None, hint: str = "") -> list[tuple[str, str]]:
    """(product, dir) pairs a named path stands for. `names` is what the dir holds (None:
    it does not exist or cannot be listed). A framework dir is itself; a home gives the
    framework dirs below it; anything else stays a named dir of no product ("")."""
    base = posixpath.basename(path.rstrip("/"))
    have = names or set()
    if hint in (HERMES, OPENCLAW, OPEN_WEBUI):
        return [(hint, path)]
    if openclaw.is_state_dir_name(path) or openclaw.is_state_listing(have):
        return [(OPENCLAW, path)]
    if base in hermes.home_dir_names() or hermes.is_home_listing(have):
        return [(HERMES, path)]
    if open_webui.is_data_listing(have):
        return [(OPEN_WEBUI, path)]
    below = [(HERMES, posixpath.join(path, n)) for n in hermes.home_dir_names() if n in have]
    below += [(OPENCLAW, posixpath.join(path, n)) for n in openclaw.home_state_dir_names()
              if n in have]
    below += [(OPENCLAW, posixpath.join(path, n)) for n in sorted(have)
              if openclaw.is_profile_dir_name(n)]  # `openclaw --profile NAME` state dirs
    below += [(OPEN_WEBUI, posixpath.join(path, n)) for n in sorted(have)
              if "/" in n and open_webui.is_pip_data_dir(n)]  # a pip install's DATA_DIR
    return below or [("", path)]


def _home_of(product: str, path: str) -> str | None:
    """The user home above a framework dir that carries the product's default name (Open
    WebUI's DATA_DIR has none below a home)."""
    if product == OPEN_WEBUI:
        return None
    if product == OPENCLAW:
        return posixpath.dirname(path) if openclaw.is_state_dir_name(path) else None
    names = hermes.home_dir_names()
    return posixpath.dirname(path) if posixpath.basename(path) in names else None


# ------------------------------------------------------------------ processes

_ENV_NAMES = ("HOME", hermes.home_env(), openclaw.state_env(), open_webui.state_env(),
              hermes.managed_env())
FRAMEWORK_WORDS = r"hermes|openclaw|clawdbot|open-webui|open_webui|anythingllm"


def _process_script(pids: list[int] | None) -> str:
    """One line per process: pid, user, unit, env-readable flag, env overrides, cmdline."""
    sel = " ".join(f"/proc/{p}" for p in pids) if pids is not None else "/proc/[0-9]*"
    names = "|".join(_ENV_NAMES)
    only = ("" if pids is not None else
            f"printf %s \"$c\" | grep -qE {shlex.quote(FRAMEWORK_WORDS)} || continue; ")
    return (
        f"for p in {sel}; do [ -r $p/cmdline ] || continue; "
        "c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null | cut -c1-300); [ -n \"$c\" ] || continue; "
        f"{only}"
        "u=$(stat -c %U $p 2>/dev/null); "
        "g=$(grep -oE '[^/]+\\.service' $p/cgroup 2>/dev/null | tail -n 1); "
        "if (: < $p/environ) 2>/dev/null; then r=1; "
        f"e=$(tr '\\0' '\\n' < $p/environ | grep -E '^({names})=' | tr '\\n' '\\001'); "
        "else r=0; e=; fi; "
        "printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' \"${p#/proc/}\" \"$u\" \"$g\" \"$r\" "
        "\"$e\" \"$c\"; "
        "done 2>/dev/null; true"
    )


def _state_dirs_of(env: dict[str, str], cmdline: str = "") -> tuple[str, ...]:
    """Each product's state dir as it would resolve it: its env override, else its default
    names below $HOME (aiaudit.products); for an `open-webui serve` without DATA_DIR, the
    venv it runs from (its data dir is in the package there)."""
    home = env.get("HOME", "")
    dirs: list[str] = []
    for var, names in ((hermes.home_env(), hermes.home_dir_names()),
                       (openclaw.state_env(), openclaw.home_state_dir_names())):
        if env.get(var):
            dirs.append(env[var])
        elif home.startswith("/"):
            dirs += [posixpath.join(home, n) for n in names]
    if env.get(open_webui.state_env()):  # DATA_DIR: no default below $HOME
        dirs.append(env[open_webui.state_env()])
    elif venv := open_webui.venv_of(cmdline):  # `serve` without DATA_DIR: the package's dir
        dirs.append(venv)
    return tuple(dict.fromkeys(_norm(d) for d in dirs if d.startswith("/")))


def agent_patterns() -> list[re.Pattern[str]]:
    """Command lines of agent processes, as the products know them (SUP-06's defaults)."""
    from aiaudit.supply_chain.settings import DEFAULT_AGENT_PROCESS

    pats = (*DEFAULT_AGENT_PROCESS, *hermes.process_patterns(), *openclaw.process_patterns())
    return [re.compile(p) for p in dict.fromkeys(pats)]


def parse_processes(out: str) -> list[ProcessInfo]:
    procs = []
    for line in out.splitlines():
        parts = line.split("\t", 5)
        if len(parts) != 6 or not parts[0].isdigit():
            continue
        pid, user, unit, readable, env_text, cmdline = parts
        env = dict(kv.split("=", 1) for kv in env_text.split("\x01") if "=" in kv)
        procs.append(ProcessInfo(int(pid), user, unit, cmdline.strip(),
                                 _state_dirs_of(env, cmdline), readable == "1",
                                 env.get(hermes.managed_env())))
    return procs


def processes(fs: HostFS, pids: list[int] | None = None) -> list[ProcessInfo]:
    """The given processes, or every process whose command line names an AI framework."""
    if pids is not None and not pids:
        return []
    _, out, _ = fs.run(_process_script(pids), timeout=60)
    found = parse_processes(out)
    if pids is None:  # the shell prefilter is a word match; the products' patterns decide
        pats = agent_patterns()
        found = [p for p in found if any(r.search(p.cmdline) for r in pats)
                 and not p.cmdline.startswith("sh -c for p in /proc/")]
    return found


# ------------------------------------------------------------------ resolution


def _named(config: AuditConfig) -> list[Named]:
    """Every place the audit config names, aliases included, each path once (the first
    key that names it is the one reported)."""
    from aiaudit.supply_chain.settings import parse_settings

    sc = parse_settings(config.area_section("supply_chain"))
    named = [Named(p, "", DEPLOYMENT_HOMES) for p in config.deployment.homes]
    named += [Named(p, "", "audit config [paths] state_dirs") for p in config.state_dirs]
    named += [Named(p, "home", "[supply_chain] home_dirs") for p in (sc.home_dirs or ())]
    named += [Named(p, HERMES, "[supply_chain] hermes_homes") for p in sc.hermes_homes]
    named += [Named(p, OPENCLAW, "[supply_chain] openclaw_state_dirs")
              for p in sc.openclaw_state_dirs]
    out: dict[tuple[str, bool], Named] = {}
    for n in named:  # a user home and a state dir at one path are two roles
        path = _norm(n.path.rstrip("/") or "/")
        out.setdefault((path, n.hint == "home"), Named(path, n.hint, n.found_by))
    return list(out.values())


def _user_homes(fs: HostFS, users: tuple[str, ...]) -> list[tuple[str, str]]:
    if not users:
        return []
    _, out, _ = fs.run("getent passwd 2>/dev/null || cat /etc/passwd", timeout=30)
    homes = []
    for line in out.splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and (parts[0] in users or parts[2] in users):
            homes.append((parts[5].rstrip("/") or "/", parts[0]))
    return homes


def resolve(config: AuditConfig, fs: HostFS) -> Scope:
    """The scope: named places classified by what they hold, users' homes, and the state
    dirs the deployment's own processes (its users' or units') name in their environment."""
    dep = config.deployment
    named = _named(config)
    user_homes = _user_homes(fs, dep.users)
    procs: list[ProcessInfo] = []
    if dep.users or dep.units:
        procs = [p for p in processes(fs) if p.user in dep.users or p.unit in dep.units]
    unit_dirs = _unit_state_dirs(fs, dep.units)
    listing = list_dirs(fs, [n.path for n in named] + [h for h, _ in user_homes]
                        + [d for p in procs for d in p.state_dirs]
                        + [d for _, _, d in unit_dirs])
    roots: list[Root] = []
    homes: list[str] = []

    def add(product: str, path: str, found_by: str) -> None:
        if product and all(r.path != path for r in roots):
            roots.append(Root(product, path, found_by))

    for n in named:
        pairs = classify(n.path, listing.get(n.path), n.hint if n.hint != "home" else "")
        for product, where in pairs:
            add(product, where, n.found_by if where == n.path else f"below {n.path} "
                f"({n.found_by})")
        if n.hint == "home" or n.hint == "" and n.found_by == DEPLOYMENT_HOMES and (
                pairs[0][1] != n.path or not pairs[0][0]):
            homes.append(n.path)  # a user home (or a named dir that is no framework's)
        elif n.found_by == DEPLOYMENT_HOMES:  # a framework dir: its user home is in scope
            homes += [h for p, w in pairs if (h := _home_of(p, w))]
    for home, user in user_homes:
        homes.append(home)
        for product, where in classify(home, listing.get(home)):
            add(product, where, f"below {home}, home of [deployment] user {user}")
    for proc in procs:
        for d in proc.state_dirs:
            for product, where in classify(d, listing.get(d)) if d in listing else []:
                if where == d or product == OPEN_WEBUI and open_webui.is_pip_data_dir(where):
                    add(product, where, f"state dir of {proc.describe()}")
    for unit, product, d in unit_dirs:  # the unit says whose dir it is, listable or not
        add(product, d, f"named by the environment of unit {unit}")
    managed = _hermes_managed(procs, fs, dep.units)
    sc_homes = _named_supply_chain_homes(config)
    if dep.is_set:
        scope_homes: tuple[str, ...] | None = tuple(dict.fromkeys(homes))
    elif sc_homes is not None:
        scope_homes = tuple(dict.fromkeys(homes))
    else:
        scope_homes = None  # every login home, as before
    return Scope(fs, config, dep.is_set, scope_homes, tuple(roots), tuple(named), dep.users,
                 dep.units, dep.ports, hermes_managed=managed)


def _hermes_managed(procs: list[ProcessInfo], fs: HostFS,
                    units: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """HERMES_MANAGED_DIR as the deployment's Hermes processes see it: a running process's
    environment first (the live value, for its HERMES_HOME or ~/.hermes), then its units'
    `Environment=` lines (for the unit's HERMES_HOME, else every Hermes home of the
    scope). An empty value is unset, as get_managed_dir strips it."""
    out: list[tuple[str, str, str]] = []
    for proc in procs:
        value = (proc.hermes_managed or "").strip()
        if not value:
            continue
        homes = [d for d in proc.state_dirs if posixpath.basename(d) in
                 hermes.home_dir_names()] or list(proc.state_dirs[:1])
        out += [(h, _norm(value), f"{hermes.managed_env()} in the environment of "
                 f"{proc.describe()}") for h in homes]
    by_unit: dict[str, dict[str, str]] = {}
    for unit, key, value in unit_settings(fs, units):
        if key in (hermes.managed_env(), hermes.home_env()):
            by_unit.setdefault(unit, {})[key] = value
    for unit, env in by_unit.items():
        value = env.get(hermes.managed_env(), "").strip()
        if value:
            out.append((_norm(env.get(hermes.home_env()) or "*"), _norm(value),
                        f"{hermes.managed_env()} in unit {unit}'s Environment="))
    return tuple(dict.fromkeys(out))


_UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def unit_settings(fs: HostFS, units: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(unit, key, value) of every `Environment=` item (KEY=VALUE), of the files its
    `EnvironmentFile=` lines name (after them: systemd.exec, settings from these files
    override Environment=; a `-` prefix makes a missing file fine) and of `ExecStart=`
    (key "ExecStart", the command line) of the deployment's units, drop-ins included."""
    if not units:
        return []
    names = [u.removesuffix(".service") for u in units]
    files = [f"{d}/{u}.service" for u in names for d in _UNIT_DIRS]
    files += [f"/etc/systemd/system/{u}.service.d/*.conf" for u in names]
    words = " ".join(shlex.quote(f) if "*" not in f else f for f in files)
    _, out, _ = fs.run(f"for f in {words}; do [ -f \"$f\" ] && printf '#%s\\n' \"$f\" && "
                       "grep -E '^[[:space:]]*(Environment|EnvironmentFile|ExecStart)=' "
                       "\"$f\"; done; true", timeout=30)
    found: list[tuple[str, str, str]] = []
    env_files: list[tuple[str, str]] = []
    unit = ""
    for line in out.splitlines():
        if line.startswith("#"):
            path = line[1:].split(".service.d/")[0]
            unit = posixpath.basename(path).removesuffix(".service")
            continue
        directive, _, rest = line.strip().partition("=")
        if directive == "ExecStart":
            found.append((unit, "ExecStart", rest.lstrip("-@:+!")))
            continue
        if directive == "EnvironmentFile":
            path = rest.strip().lstrip("-")
            if path.startswith("/"):
                env_files.append((unit, path))
            continue
        try:
            items = shlex.split(rest)
        except ValueError:
            continue
        for item in items:
            key, _, value = item.partition("=")
            found.append((unit, key, value))
    return found + _environment_files(fs, env_files)


def _environment_files(fs: HostFS, files: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(unit, key, value) of the KEY=VALUE lines of units' EnvironmentFile= files (the
    first 64 KiB of each, one round trip; `#`/`;` comments skipped, quotes removed)."""
    if not files:
        return []
    words = " ".join(shlex.quote(p) for _, p in dict.fromkeys(files))
    _, out, _ = fs.run(f"for f in {words}; do [ -f \"$f\" ] && printf '\\001%s\\n' \"$f\" "
                       "&& head -c 65536 \"$f\" && echo; done; true", timeout=30)
    texts: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("\x01"):
            current = texts.setdefault(line[1:], [])
        elif current is not None:
            current.append(line)
    found: list[tuple[str, str, str]] = []
    for unit, path in files:
        for line in texts.get(path, []):
            text = line.strip()
            if not text or text.startswith(("#", ";")) or "=" not in text:
                continue
            key, _, value = text.removeprefix("export ").partition("=")
            try:
                value = " ".join(shlex.split(value))
            except ValueError:
                value = value.strip()
            found.append((unit, key.strip(), value))
    return found


def _unit_state_dirs(fs: HostFS, units: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(unit, product, dir) for the state dirs the deployment's units set in their environment
    (`Environment=` lines, drop-ins included): each product's state env, and the directory
    of an Open WebUI `DATABASE_URL=sqlite:///PATH` (open_webui/env.py: the store may live
    outside DATA_DIR)."""
    envs = {hermes.home_env(): HERMES, openclaw.state_env(): OPENCLAW,
            open_webui.state_env(): OPEN_WEBUI}
    found: list[tuple[str, str, str]] = []
    for unit, key, value in unit_settings(fs, units):
        if key in envs and value.startswith("/"):
            found.append((unit, envs[key], _norm(value)))
        elif key == "DATABASE_URL" and value.startswith("sqlite:///"):
            path = value.split("?", 1)[0].removeprefix("sqlite:///")
            if path.startswith("/"):  # sqlite:////abs/webui.db (relative: cwd's)
                found.append((unit, OPEN_WEBUI, posixpath.dirname(_norm(path))))
    return list(dict.fromkeys(found))


def _named_supply_chain_homes(config: AuditConfig) -> tuple[str, ...] | None:
    from aiaudit.supply_chain.settings import parse_settings

    return parse_settings(config.area_section("supply_chain")).home_dirs


HOMES_SCRIPT = "for h in /root /home/*; do [ -d \"$h\" ] && printf '%s\\n' \"$h\"; done; true"


def listed_homes(ctx: Any) -> list[str]:
    """/root and the dirs below /home on the target, listed once per run (storage's and
    exposure's home searches of an open scope both ask)."""
    def compute() -> list[str]:
        _, out, _ = HostFS.for_context(ctx).run(HOMES_SCRIPT, timeout=30)
        return [h for h in out.splitlines() if h.startswith("/")]

    return ctx.cached("host:listed-homes", compute)


def scope_for(ctx: Any) -> Scope:
    """The run's scope, resolved once (raises NoHostAccess for network-only targets)."""
    return ctx.cached(SCOPE_KEY, lambda: resolve(ctx.config, HostFS.for_context(ctx)))


# ------------------------------------------------------------------ also seen on the host


def _host_homes(fs: HostFS) -> list[str]:
    _, out, _ = fs.run("for h in /root /home/*; do [ -d \"$h\" ] && printf '%s\\n' \"$h\"; "
                       "done; getent passwd 2>/dev/null | cut -d: -f3,6; true", timeout=30)
    homes = []
    for line in out.splitlines():
        uid, _, home = line.rpartition(":") if ":" in line else ("", "", line)
        if uid and not (uid == "0" or uid.isdigit() and 1000 <= int(uid) < 65534):
            continue
        if home.startswith("/") and home != "/":
            homes.append(home.rstrip("/"))
    return list(dict.fromkeys(homes))


def also_seen(scope: Scope) -> list[dict[str, str]]:
    """Agent state dirs and processes on the host that lie outside a closed scope."""
    if not scope.closed:
        return []
    fs = scope.fs
    procs = processes(fs)
    candidates = [posixpath.join(h, n) for h in _host_homes(fs) for n in _NAMES]
    candidates += [d for p in procs for d in p.state_dirs]
    listing = list_dirs(fs, candidates)
    seen: list[dict[str, str]] = []
    for path in candidates:
        if path not in listing or scope.owns_path(path):
            continue
        product = next((p for p, w in classify(path, listing[path]) if w == path), "")
        if not product or any(s["where"] == path for s in seen):
            continue
        users = [p for p in procs if path in p.state_dirs and not scope.owns_process(p)]
        by = (f"state dir of pid {users[0].pid}" if users else "default place below a home")
        seen.append({"kind": "state dir", "product": product, "where": path, "found_by": by})
    for proc in procs:
        if scope.owns_process(proc):
            continue
        note = "" if proc.env_read else "; its environment is closed to the audit account"
        seen.append({"kind": "process", "product": _product_of(proc.cmdline),
                     "where": proc.describe(), "found_by": f"process list{note}"})
    return seen


def _product_of(cmdline: str) -> str:
    low = cmdline.lower()
    for word in ("hermes", "openclaw", "clawdbot", "open-webui", "open_webui", "anythingllm"):
        if word in low:
            return {"clawdbot": OPENCLAW, "open_webui": "open-webui"}.get(word, word)
    return ""
