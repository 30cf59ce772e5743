"""Find conversation stores on the target host, read-only, in a few shell round trips.

Sources, most specific first: the deployment scope (aiaudit.scope: the dirs the audit
config names and the framework dirs found in them); when `[deployment]` is not set, also
state dirs named by env overrides (`HERMES_HOME`, `DATA_DIR`, ...) of processes running in
the deployment's network namespace (processes of other containers or lab copies have their
own and are separate targets), and the apps' default dirs below the home directories.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.access import Access, check_access
from aiaudit.hostfs import HostFS
from aiaudit.resources import safe_id
from aiaudit.scope import Scope, listed_homes, scope_for
from aiaudit.status import CouldNotCheck
from aiaudit.storage.layouts import (
    BY_APP,
    ENV_VARS,
    FILE_KINDS,
    GENERIC_GLOBS,
    LAYOUTS,
    SQLITE_COPY_SUFFIXES,
    StoreGlob,
    prefers,
)
from aiaudit.storage.settings import settings_for

FRAMEWORK_WORDS = r"hermes|openclaw|clawdbot|open-webui|open_webui|anythingllm"
STAT_FMT = "%s %Y %a %u %U %n"  # portable: GNU and busybox stat -c print no \\t


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    mode: int
    uid: int
    owner: str

    @classmethod
    def parse(cls, line: str) -> FileInfo:
        """One `stat -c STAT_FMT` line (the path is last, so it may contain spaces)."""
        size, mtime, mode, uid, owner, path = line.split(" ", 5)
        return cls(path, int(size), float(mtime), int(mode, 8), int(uid), owner)


def stat_listing(fs: HostFS, parts: list[str]) -> list[FileInfo]:
    """The files the shell parts `stat -c STAT_FMT` (one command for all), each path once,
    sorted by path; lines that are no stat line are skipped."""
    _, out, _ = fs.run("; ".join(parts) + "; true", timeout=60) if parts else (0, "", "")
    files: dict[str, FileInfo] = {}
    for line in out.splitlines():
        try:
            info = FileInfo.parse(line)
        except ValueError:
            continue
        files.setdefault(info.path, info)
    return sorted(files.values(), key=lambda f: f.path)


def stat_paths(fs: HostFS, paths: list[str]) -> list[FileInfo]:
    """Those of `paths` that are regular files, stat'ed in one command."""
    if not paths:
        return []
    return stat_listing(fs, [f"for f in {' '.join(shlex.quote(p) for p in paths)}; do "
                             f"[ -f \"$f\" ] && stat -c '{STAT_FMT}' -- \"$f\"; done"])


@dataclass(frozen=True)
class Store:
    """One conversation store: a SQLite file with its copies, or a directory of JSON(L)."""

    app: str
    kind: str  # "sqlite" | "jsonl" | "json" | "mongodb" | "postgres" (a server's data dir)
    # | "postgresql" (an app's database on a PostgreSQL server, read through SQL)
    path: str  # the SQLite file, or the directory holding the JSON(L) files / DB data
    state_dir: str
    files: tuple[FileInfo, ...]
    copies: tuple[FileInfo, ...] = ()
    found_by: str = ""
    server: dict[str, str] = field(default_factory=dict)  # database servers' settings

    @property
    def case_id(self) -> str:
        return safe_id(f"{self.app}:{self.path}")

    @property
    def all_files(self) -> tuple[FileInfo, ...]:
        return self.files + self.copies

    @property
    def size(self) -> int:
        return sum(f.size for f in self.all_files)


@dataclass(frozen=True)
class StateDir:
    """A state dir: the app's directory holding history, config and keys."""

    app: str
    path: str
    found_by: str
    empty: bool = False  # named in the config, but no store or known layout found in it
    database: bool = False  # an app's database on a server (path: its DSN): no files

    @property
    def case_id(self) -> str:
        return safe_id(f"{self.app}:{self.path}")

    def empty_reason(self) -> str:
        return (f"{self.path} ({self.found_by}) holds no conversation store, no config file "
                "and no state dir of a known framework (e.g. .hermes, .openclaw): it is not a "
                "framework's state dir; name the framework's own directory")


def _env_script() -> str:
    """Env overrides of processes in our network namespace: `pid<TAB>cwd<TAB>NAME=value`."""
    names = "|".join(ENV_VARS)
    return (
        "me=$(readlink /proc/self/ns/net); "
        "for p in /proc/[0-9]*; do "
        # A framework process whose namespace or environment the audit account may not read
        # could name a state dir anywhere: reported (U), never skipped in silence.
        '{ readlink $p/ns/net && (: < $p/environ); } >/dev/null 2>&1 || { '
        f"tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -qE '{FRAMEWORK_WORDS}' && "
        "printf 'U\\t%s\\t%s\\n' \"${p#/proc/}\" \"$(tr '\\0' ' ' < $p/cmdline | "
        "cut -c1-80)\"; continue; }; "
        '[ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] || continue; '
        f"tr '\\0' '\\n' < $p/environ 2>/dev/null | grep -E '^({names})=' | "
        'while IFS= read -r kv; do printf "%s\\t%s\\t%s\\n" "${p#/proc/}" '
        '"$(readlink $p/cwd 2>/dev/null)" "$kv"; done; '
        "done 2>/dev/null; true"
    )


def _glob_lines(app: str, state_dir: str, globs: tuple[StoreGlob, ...], found_by: str,
                literal: bool = False) -> str:
    """Shell that prints one `S` line per store file and one `C` line per copy of it
    (`literal`: the globs are file names from the target, quoted, never expanded)."""
    out = []
    root = shlex.quote(state_dir.rstrip("/") or "/")
    copies = " ".join(f'"$f"{suffix}' for suffix in SQLITE_COPY_SUFFIXES)
    for g in globs:
        pattern = f"{root}/" + (shlex.quote(g.glob) if literal  # a name from the target
                                else g.glob.replace(" ", "\\ "))  # our own constant globs
        # Target-supplied text (env values) goes in as one quoted printf argument, never code.
        head = shlex.quote("\t".join([app, g.kind, state_dir, found_by]))
        line = (f"for f in {pattern}; do [ -f \"$f\" ] || continue; "
                f"printf 'S\\t%s\\t' {head}; stat -c '{STAT_FMT}' -- \"$f\"; ")
        if g.kind == "sqlite":
            line += (f"for c in {copies}; do [ -f \"$c\" ] || continue; "
                     "printf 'C\\t%s\\t' \"$f\"; "
                     f"stat -c '{STAT_FMT}' -- \"$c\"; done; ")
        out.append(line + "done")
    return "; ".join(out)


def _candidate_dirs(ctx: Any, scope: Scope) -> list[tuple[str, ...]]:
    """(app or "", state dir, found_by): the scope's named dirs and framework roots; an open
    scope (no `[deployment]`) adds env overrides of processes and the home directories."""
    fs = scope.fs
    candidates: list[tuple[str, ...]] = []
    for named in scope.state_dirs:
        path = named.path
        candidates.append(("", path, named.found_by))
        for layout in LAYOUTS:  # a named home directory works too
            for rel in layout.home_dirs:
                candidates.append((layout.app, posixpath.join(path, rel),
                                   f"below {path} ({named.found_by})"))
    candidates += _pip_package_dirs(fs, [n.path for n in scope.state_dirs])
    candidates += _unit_store_dirs(ctx, scope)
    for root in scope.roots:
        candidates.append((root.product, root.path, root.found_by))
    if scope.closed:  # the rest of the host is "also seen", not judged
        return candidates
    rc, out, _ = fs.run(_env_script(), timeout=60)
    for line in out.splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3 and parts[0] == "U" and parts[1].isdigit():
            candidates.append(("", f"/proc/{parts[1]}/environ",
                               f"env of pid {parts[1]} ({parts[2].strip()[:60]})"))
            continue
        if len(parts) != 3 or "=" not in parts[2]:
            continue
        pid, cwd, kv = parts
        name, value = kv.split("=", 1)
        if not value:
            continue
        path = posixpath.normpath(posixpath.join(cwd or "/", value))
        for layout in LAYOUTS:
            if layout.env == name:
                candidates.append((layout.app, posixpath.join(path, layout.env_subdir)
                                   if layout.env_subdir else path, f"env {name} of pid {pid}"))
    if settings_for(ctx).search_homes:
        homes = listed_homes(ctx)
        for layout in LAYOUTS:
            for home in homes:
                for rel in layout.home_dirs:
                    candidates.append((layout.app, posixpath.join(home, rel),
                                       f"default location below {home}"))
            for path in layout.abs_dirs:
                candidates.append((layout.app, path, "default location"))
    return candidates


def scope_unit_settings(ctx: Any, scope: Scope) -> list[tuple[str, str, str]]:
    """(unit, key, value) of the scope's units: Environment=, EnvironmentFile= items and
    ExecStart (read once per run)."""
    from aiaudit.scope import unit_settings

    return ctx.cached("storage:unit-settings", lambda: unit_settings(scope.fs, scope.units))


def unit_env_files(ctx: Any) -> dict[str, list[str]]:
    """{state dir: the env files a unit's command line has its app load} (`langflow run
    --env-file`), filled by storage discovery as it reads the units."""
    return ctx.cached("storage:unit-env-files", dict)


def _unit_store_dirs(ctx: Any, scope: Scope) -> list[tuple[str, ...]]:
    """(app, state dir, found_by[, store file name]) of the store apps the deployment's
    units run: the dir their `Environment=` names (LANGFLOW_CONFIG_DIR, N8N_USER_FOLDER's
    .n8n, DATABASE_PATH, LLM_USER_PATH), the store a database URL names wherever it is and
    whatever its name (LANGFLOW_DATABASE_URL; the four-item entries), the same settings
    from an env file the command line passes (`langflow run --env-file`, which overrides
    the unit's), and the package dir of a pip install in the venv their `ExecStart=` runs
    (Langflow keeps langflow.db there by default). The scope itself reads only the
    frameworks' state envs (Hermes, OpenClaw, Open WebUI): a unit-only scope found no
    store of these apps."""
    from aiaudit.products.appstore import store_apps

    if not scope.units:
        return []
    from aiaudit.products import ray

    apps = store_apps()
    envs = {layout.env: layout for layout in LAYOUTS if layout.env
            and (layout.app in apps or layout.app == ray.APP)}
    urls = {a.db_url_env(): a for a in apps.values() if a.db_url_env()}
    per_unit: dict[str, list[tuple[str, str, str]]] = {}
    venvs: dict[str, str] = {}
    flagged: list[tuple[str, ...]] = []  # state dirs a command-line flag names (ray start)
    for unit, key, value in scope_unit_settings(ctx, scope):
        per_unit.setdefault(unit, []).append((key, value, f"env {key} of unit {unit}"))
        if key == "ExecStart" and (temp := ray.temp_dir_of(value)):
            flagged.append((ray.APP, posixpath.normpath(temp), f"--temp-dir of unit {unit}"))
        if key == "ExecStart" and value.split():
            exe = value.split()[0]
            bindir = posixpath.dirname(exe)
            if exe.startswith("/") and posixpath.basename(bindir) == "bin":
                venvs.setdefault(posixpath.dirname(bindir), unit)
            per_unit[unit] += _env_file_settings(scope.fs, unit, value, apps)
    out: list[tuple[str, ...]] = list(flagged)
    env_files = unit_env_files(ctx)
    for items in per_unit.values():
        loaded = sorted({by.split(" in ", 1)[1].split(" (`", 1)[0] for _, _, by in items
                         if " (`" in by})
        for key, value, found_by in items:
            if key in envs and value.startswith("/"):
                layout = envs[key]
                path = posixpath.normpath(value)
                out.append((layout.app, posixpath.join(path, layout.env_subdir)
                            if layout.env_subdir else path, found_by))
            elif key in urls and (path := urls[key].sqlite_path(value)):
                out.append((urls[key].app, posixpath.dirname(path), found_by,
                            posixpath.basename(path)))
            else:
                continue
            for env_file in loaded:  # STO-04 reads the env file the app loads with it
                env_files.setdefault(out[-1][1], []).append(env_file)
    for app, path, _ in _pip_package_dirs(scope.fs, list(venvs)):
        venv = next(v for v in venvs if path.startswith(v + "/"))
        out.append((app, path, f"the package dir of a pip install in {venv}, which unit "
                    f"{venvs[venv]} runs (where the app keeps its store by default)"))
    return out


ENV_FILE_LIMIT = 64 * 1024


def _env_file_settings(fs: HostFS, unit: str, command: str, apps: dict[str, Any]
                       ) -> list[tuple[str, str, str]]:
    """(key, value, found_by) of the env file an app's command line loads (`langflow run
    --env-file PATH`): read from the target, bounded; unreadable or absent gives nothing
    (the unit's own settings still stand)."""
    from aiaudit.storage.headers import read_head

    try:
        args = shlex.split(command)
    except ValueError:
        return []
    names = {posixpath.basename(a) for a in args[:3]}
    out: list[tuple[str, str, str]] = []
    for app in apps.values():
        flag = app.env_file_flag()
        if not flag or app.app not in names:
            continue
        for i, arg in enumerate(args):
            path = args[i + 1] if arg == flag and i + 1 < len(args) else (
                arg.split("=", 1)[1] if arg.startswith(f"{flag}=") else "")
            if not path.startswith("/"):
                continue
            try:
                text = read_head(fs, path, ENV_FILE_LIMIT).decode("utf-8", "replace")
            except CouldNotCheck:
                continue
            for line in text.splitlines():
                key, sep, value = line.strip().removeprefix("export ").partition("=")
                if sep and key and not key.startswith("#"):
                    out.append((key.strip(), value.strip().strip("'\""),
                                f"{key.strip()} in {path} (`{flag}` of unit {unit})"))
    return out


def _pip_package_dirs(fs: HostFS, named: list[str]) -> list[tuple[str, str, str]]:
    """(app, package dir, found_by) for each pip install below a named dir whose package
    dir holds the app's store (Langflow's default langflow.db place): one round trip, none
    when no app keeps its store in its package."""
    from aiaudit.products.appstore import store_apps

    words = " ".join(shlex.quote(p) for p in named if p.startswith("/"))
    loops = []
    for app in store_apps().values():
        names = " ".join(shlex.quote(posixpath.basename(g)) for g in app.dbs())
        for glob in app.pip_dirs():  # our own constant globs
            loops.append(f'for q in "$p"/{glob}; do for n in {names}; do '
                         f'[ -f "$q/$n" ] && printf \'%s\\t%s\\t%s\\n\' '
                         f'{shlex.quote(app.app)} "$p" "$q" && break; done; done')
    if not words or not loops:
        return []
    _, out, _ = fs.run(f"for p in {words}; do {'; '.join(loops)}; done; true", timeout=60)
    found: dict[tuple[str, str], str] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:  # the first named dir it was found below names it
            found.setdefault((parts[0], parts[2]), f"the package dir of a pip install below "
                             f"{parts[1]} (where the app keeps its store by default)")
    return [(app, path, by) for (app, path), by in found.items()]


def _script(candidates: list[tuple[str, ...]]) -> str:
    parts = []
    for item in candidates:
        app, state_dir, found_by = item[:3]
        if len(item) == 4:  # a store file a setting names: that file, whatever its name
            parts.append(_glob_lines(app, state_dir, (StoreGlob(item[3], "sqlite"),),
                                     found_by, literal=True))
            continue
        layouts = [BY_APP[app]] if app else list(LAYOUTS)
        for layout in layouts:
            parts.append(_glob_lines(layout.app, state_dir, layout.stores, found_by))
        if not app:  # an operator-named dir: also look for history files no layout knows
            parts.append(_glob_lines("configured", state_dir, GENERIC_GLOBS, found_by))
    return "; ".join([*parts, "true"])


SCRIPT_LIMIT = 64 * 1024  # one argv string may hold 128 KiB (Linux MAX_ARG_STRLEN)


def _run_listing(fs: HostFS, readable: list[tuple[str, ...]]) -> str:
    """The listing script over every candidate dir, in as many runs as keep each script
    under SCRIPT_LIMIT: a scope of many dirs, or long paths, made one script too long for
    the shell's argv ("Argument list too long": discovery failed for every control)."""
    batches: list[list[tuple[str, ...]]] = [[]]
    size = 0
    for item in readable:
        n = len(_script([item]))  # the parts of one script are joined: sizes add up
        if batches[-1] and size + n > SCRIPT_LIMIT:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += n
    outs = []
    for batch in batches:
        if not batch:  # no dir to list: nothing to ask the target
            continue
        rc, out, err = fs.run(_script(batch), timeout=120)
        if rc != 0 and not out:
            raise CouldNotCheck(f"cannot list stores on the target: {err.strip()[:200]}")
        outs.append(out)
    return "".join(o if o.endswith("\n") or not o else o + "\n" for o in outs)


def parse_listing(out: str) -> tuple[list[Store], list[StateDir]]:
    """Stores from the script's S/C lines: SQLite files with copies, JSON(L) grouped per dir."""
    mains: dict[str, tuple[str, str, str, str, FileInfo]] = {}
    copies: dict[str, list[FileInfo]] = {}
    for line in out.splitlines():
        fields = line.split("\t", 5)
        try:
            if fields[0] == "S" and len(fields) == 6:
                info = FileInfo.parse(fields[5])
                app, kind, state_dir, found_by = fields[1:5]
                known = mains.get(info.path)
                if known is None or (known[0] == "configured" and app != "configured") or (
                        app != known[0] and prefers(app, state_dir)
                        and not prefers(known[0], known[2])):
                    mains[info.path] = (app, kind, state_dir, found_by, info)
                elif found_by not in known[3]:
                    mains[info.path] = (*known[:3], f"{known[3]}; {found_by}", known[4])
            elif fields[0] == "C":
                head, _, stat = line[2:].partition("\t")
                copies.setdefault(head, []).append(FileInfo.parse(stat))
        except ValueError:
            continue  # odd file names (tabs, newlines) are skipped rather than misread
    stores: list[Store] = []
    groups: dict[tuple[str, str, str], list[FileInfo]] = {}
    meta: dict[tuple[str, str, str], tuple[str, str]] = {}
    for path, (app, kind, state_dir, found_by, info) in sorted(mains.items()):
        if kind == "sqlite":
            extra = {c.path: c for c in copies.get(path, []) if c.path != path}
            stores.append(Store(app, kind, path, state_dir, (info,),
                                tuple(sorted(extra.values(), key=lambda c: c.path)), found_by))
        else:
            key = (app, kind, posixpath.dirname(path))
            groups.setdefault(key, []).append(info)
            meta[key] = (state_dir, found_by)
    for (app, kind, directory), files in sorted(groups.items()):
        state_dir, found_by = meta[(app, kind, directory)]
        stores.append(Store(app, kind, directory, state_dir, tuple(files), (), found_by))
    dirs: dict[str, StateDir] = {}
    for store in stores:
        dirs.setdefault(store.state_dir, StateDir(store.app, store.state_dir, store.found_by))
    return stores, sorted(dirs.values(), key=lambda d: d.path)


@dataclass
class Located:
    """What storage discovery saw: stores, state dirs, and what the audit account could not
    read (a closed home, state dir, subdir or store file: never taken for "none found")."""

    stores: list[Store]
    dirs: list[StateDir]
    unreadable: list[tuple[str, Access, str]] = field(default_factory=list)  # app, access, by
    searched: int = 0  # candidate dirs whose absence or presence was established
    present: int = 0  # of them, readable dirs that were listed
    missing: list[tuple[str, str, str]] = field(default_factory=list)  # app, dir, reason
    outside: list[Store] = field(default_factory=list)  # database servers a closed scope
    # leaves out: listed as "also seen on the host", never judged

    def proof(self) -> str:
        """Why "none found" holds: every candidate place was either absent or listed."""
        return (f"{self.searched} candidate dir(s) checked: {self.searched - self.present} "
                f"proven absent, {self.present} readable and listed, none unreadable")


def _denied_subdirs(fs: HostFS, dirs: list[str]) -> list[Access]:
    """Subdirectories below readable state dirs that `find` could not open."""
    if not dirs:
        return []
    words = " ".join(shlex.quote(d) for d in dirs)
    _, out, _ = fs.run(f"find -H {words} -maxdepth 4 -type d 2>&1 >/dev/null | "
                       "grep -F 'Permission denied' | head -n 200; true", timeout=60)
    found = []
    for line in out.splitlines():
        # find: '/x/y': Permission denied  (GNU find quotes with ASCII or Unicode quotes)
        body = line.removeprefix("find: ").rsplit(": Permission denied", 1)[0]
        path = body.strip("'\u2018\u2019\"")
        if path.startswith("/"):
            found.append(Access(path, "nosearch", path))
    return found


def _denied_files(fs: HostFS, stores: list[Store]) -> dict[str, Access]:
    files = [f.path for s in stores if s.kind in FILE_KINDS
             for f in s.all_files]
    return {p: a for p, a in check_access(fs, files).items() if a.unreadable}


def locate_all(ctx: Any) -> Located:
    """Every store and state dir on the target, and what could not be read (cached per run)."""

    def compute() -> Located:
        scope = scope_for(ctx)
        fs = scope.fs
        candidates = _candidate_dirs(ctx, scope)
        access = check_access(fs, [c[1] for c in candidates], timeout=120)
        unreadable: list[tuple[str, Access, str]] = []
        seen: set[str] = set()
        readable = []
        for item in candidates:
            app, path, found_by = item[:3]
            a = access.get(path)
            if a is None or a.missing:
                continue
            if a.unreadable:
                key = a.blocker or a.path
                if key not in seen:
                    seen.add(key)
                    who = "process" if path.startswith("/proc/") else "configured"
                    unreadable.append((app or who, a, found_by))
                continue
            readable.append(item)
        out = _run_listing(fs, readable)
        stores, dirs = parse_listing(out)
        configured = {n.path: n.found_by for n in scope.state_dirs}
        ok_dirs = sorted({d.path for d in dirs} | {p for p in configured
                                                    if access.get(p, Access(p, "")).ok})
        for a in _denied_subdirs(fs, ok_dirs):
            if a.path not in seen:
                seen.add(a.path)
                owner = next((d for d in dirs if a.path.startswith(d.path + "/")), None)
                unreadable.append((owner.app if owner else "configured", a,
                                   "below a state dir"))
        denied = _denied_files(fs, stores)
        for store in stores:
            for f in store.all_files:
                if f.path in denied:
                    unreadable.append((store.app, denied[f.path], f"store file of {store.path}"))
        from aiaudit.storage.dbservers import running_servers
        from aiaudit.storage.pgstores import pg_stores

        app_databases = pg_stores(ctx)
        servers, outside = _scoped_servers(scope, running_servers(ctx), app_databases)
        stores += servers
        stores += app_databases
        known = {d.path for d in dirs}
        dirs += [StateDir(s.app, s.state_dir, s.found_by) for s in servers
                 if s.state_dir not in known]
        known = {d.path for d in dirs}
        # A framework dir of the scope is a state dir even before it holds a store (a Hermes
        # home with only config.yaml/.env, a fresh `hermes setup` home): its config and its
        # modes are still the deployment's, so STO-04/05 judge it instead of skipping it.
        for root in scope.roots:
            if root.path not in known and access.get(root.path, Access(root.path, "")).ok:
                dirs.append(StateDir(root.product, root.path, root.found_by))
                known.add(root.path)
        for path in sorted(configured.keys() - known):  # named by the operator: checked
            a = access.get(path, Access(path, ""))
            below = [k for k in known] + [u[1].path for u in unreadable]
            if a.unreadable or any(k.startswith(path.rstrip("/") + "/") for k in below):
                continue  # reported once as unreadable, or a home above found state dirs
            dirs.append(StateDir("configured", path, configured[path], empty=a.ok))
        return Located(stores, dirs, unreadable, len(access),
                       len({item[1] for item in readable}), _missing_stores(stores, dirs),
                       outside)

    return ctx.cached("storage:locate", compute)


def _scoped_servers(scope: Scope, servers: list[Store], app_databases: list[Store]
                    ) -> tuple[list[Store], list[Store]]:
    """(database servers judged, servers left outside a closed scope). An open scope judges
    every server running on the target; a closed one only those it names (their data dir
    in its dirs) and, where one of its apps keeps history in PostgreSQL, the PostgreSQL
    servers: another deployment's cluster on the same host is "also seen", not judged."""
    if not scope.closed:
        return servers, []
    kept, outside = [], []
    for server in servers:
        mine = scope.owns_path(server.state_dir) or (
            server.kind == "postgres" and any(d.kind == "postgresql" for d in app_databases))
        (kept if mine else outside).append(server)
    return kept, outside


def _missing_stores(stores: list[Store], dirs: list[StateDir]) -> list[tuple[str, str, str]]:
    """Open WebUI data dirs of the deployment whose webui.db is found nowhere: DATABASE_URL
    puts the store elsewhere (open_webui/env.py), so its chats, config table and backups
    were not read; never judged on what the data dir alone holds."""
    from aiaudit.products import open_webui

    if any(s.app == open_webui.APP and (open_webui.is_db(s.path) or s.kind == "postgresql")
           for s in stores):
        return []  # webui.db, or the PostgreSQL database its DATABASE_URL names
    return [(open_webui.APP, d.path,
             f"{d.path} is an Open WebUI data dir without {open_webui.db_name()}: "
             "DATABASE_URL keeps the store elsewhere (open_webui/env.py: another SQLite "
             "path, or a PostgreSQL server whose tables files cannot show), so its chats, "
             "config table and backups were not read; name the dir holding webui.db in "
             "[deployment] homes, or the service in [deployment] units (a PostgreSQL "
             "DATABASE_URL is then read from its unit), or the database in a "
             "[[storage.databases]] entry")
            for d in dirs if d.app == open_webui.APP]


def locate(ctx: Any) -> tuple[list[Store], list[StateDir]]:
    """Every store and state dir on the target (cached per run)."""
    found = locate_all(ctx)
    return found.stores, found.dirs
