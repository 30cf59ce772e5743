"""STO-05 facts: modes, owners and symlinks below a state dir.

The walk is one `find -printf` (names and metadata only: a multi-GB store costs nothing
here). Files must have no group/other bits (0600 or stricter; an owner execute bit on a
script is tolerated), directories 0700 or stricter, everything owned by the service user,
and no symlink may lead out of the state dir. Loose bits count only where group/other can
reach the entry through the directories above it (within the state dir).
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass, field
from typing import Any

from aiaudit.access import check_access
from aiaudit.hostfs import HostFS
from aiaudit.products import openclaw
from aiaudit.status import CouldNotCheck
from aiaudit.storage.settings import settings_for

MAX_ENTRIES = 200_000


@dataclass(frozen=True)
class Entry:
    kind: str  # find's %y: f, d, l, ...
    mode: int
    owner: str
    path: str
    link: str


@dataclass
class PermissionFacts:
    root: str
    service_user: str
    user_source: str
    entries: int = 0
    loose_dirs: list[Entry] = field(default_factory=list)
    loose_files: list[Entry] = field(default_factory=list)
    wrong_owner: list[Entry] = field(default_factory=list)
    escaping_links: list[tuple[Entry, str]] = field(default_factory=list)
    shielded: list[Entry] = field(default_factory=list)  # loose bits, unreachable to others
    own_links: list[tuple[Entry, str]] = field(default_factory=list)  # made by the app itself
    truncated: bool = False
    denied: list[str] = field(default_factory=list)  # dirs find could not open, with the right
    outside: list[Entry] = field(default_factory=list)  # the product's files judged outside
    package_dir: bool = False  # a pip install's package dir: only the app's store judged

    @property
    def problems(self) -> list[str]:
        out = [f"dir {e.path} is {e.mode:04o}" for e in self.loose_dirs]
        out += [f"file {e.path} is {e.mode:04o}" for e in self.loose_files]
        out += [f"{e.path} is owned by {e.owner}, not {self.service_user}"
                for e in self.wrong_owner]
        out += [f"symlink {e.path} -> {target} leaves the state dir"
                for e, target in self.escaping_links]
        return out


def parse_find(out: str) -> list[Entry]:
    entries = []
    for line in out.split("\0"):
        cols = line.split("\t", 4)
        if len(cols) != 5:
            continue
        kind, mode, owner, path, link = cols
        try:
            entries.append(Entry(kind, int(mode, 8), owner, path, link))
        except ValueError:
            continue
    return entries


def resolve_link(path: str, target: str) -> str:
    base = posixpath.dirname(path)
    return posixpath.normpath(target if target.startswith("/") else posixpath.join(base, target))


_GROUP, _OTHER = 0o070, 0o007


def _reach(mode: int, classes: int) -> int:
    """Which of group/other (as mode bits) can traverse a directory they could reach."""
    out = 0
    if classes & _GROUP and mode & 0o010:
        out |= _GROUP
    if classes & _OTHER and mode & 0o001:
        out |= _OTHER
    return out


def judge(root: str, entries: list[Entry], service_user: str, user_source: str,
          app: str = "") -> PermissionFacts:
    """Group/other bits count only where group/other can reach the entry: a 0644 file below
    a 0700 directory is unreadable to them, which is how apps such as Hermes Agent protect
    what they create at the umask (hermes_cli/config.py _secure_dir chmods the home 0700;
    state.db keeps its 0644)."""
    facts = PermissionFacts(root, service_user, user_source, len(entries))
    prefix = root.rstrip("/") + "/"
    top = root.rstrip("/") or "/"
    reach: dict[str, int] = {}  # dir path -> classes that can traverse into it
    for e in entries:
        if e.kind == "l":
            target = resolve_link(e.path, e.link)
            if target != root and not target.startswith(prefix):
                rel = e.path[len(prefix):] if e.path.startswith(prefix) else e.path
                if app == openclaw.APP and openclaw.own_link(rel, target):
                    facts.own_links.append((e, target))
                else:
                    facts.escaping_links.append((e, target))
            continue
        parent = posixpath.dirname(e.path)
        classes = (_GROUP | _OTHER) if e.path.rstrip("/") == top else reach.get(parent, 0)
        exposed = e.mode & classes & 0o077
        if e.kind == "d":
            reach[e.path.rstrip("/") or "/"] = _reach(e.mode, classes)
        if e.mode & 0o077 and not exposed:
            facts.shielded.append(e)
        elif e.kind == "d" and exposed:
            facts.loose_dirs.append(e)
        elif e.kind != "d" and exposed:
            facts.loose_files.append(e)
        if e.owner != service_user:
            facts.wrong_owner.append(e)
    return facts


def _service_user_script(root: str) -> str:
    """Owners of processes holding files below root open (the service's account)."""
    q = shlex.quote(root.rstrip("/") + "/")
    return (f"for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null | grep -qF -- {q} && "
            "stat -c %U $p; done 2>/dev/null | sort | uniq -c | sort -rn; true")


def _denied_reason(line: str) -> str:
    path = line.removeprefix("find: ").rsplit(": Permission denied", 1)[0].strip("'\u2018\u2019")
    return (f"cannot list {path}: permission denied (the audit account lacks the read (r) or "
            "search (x) right on it)")


def permission_facts(ctx: Any, root: str, app: str = "") -> PermissionFacts:
    fs = HostFS.for_context(ctx)
    access = check_access(fs, [root]).get(root)
    if access is not None and access.unreadable:
        raise CouldNotCheck(access.reason())
    if access is not None and access.missing:
        raise CouldNotCheck(f"state dir {root} does not exist on the target (its parent "
                            "was searched)")
    q = shlex.quote(root)
    pkg = _package_app(app, root)
    depth = " -maxdepth 1" if pkg else ""  # the package's code below is not state
    rc, out, err = fs.run(
        f"find -H {q}{depth} -printf '%y\\t%m\\t%u\\t%p\\t%l\\0' | head -z -n "
        f"{MAX_ENTRIES + 1}", timeout=120,
    )
    denied = [line for line in err.splitlines()
              if line.startswith("find: ") and line.endswith("Permission denied")]
    entries = parse_find(out)
    if pkg and entries:  # the dir itself (who can reach in) and the app's store files
        entries = [entries[0], *(e for e in entries[1:] if e.kind != "d" and
                                 pkg.owns_file_in_package(posixpath.basename(e.path)))]
    if not entries:
        raise CouldNotCheck(f"cannot list {root}: {err.strip()[:200] or 'no entries'}")
    configured = settings_for(ctx).service_user
    if configured:
        user, source = configured, "[storage] service_user"
    else:
        _, owners, _ = fs.run(_service_user_script(root), timeout=60)
        top = owners.split()
        if len(top) >= 2:
            user, source = top[1], "owner of the process holding the store open"
        else:
            user, source = entries[0].owner, "owner of the state dir (no process holds it open)"
    facts = judge(root, entries[:MAX_ENTRIES], user, source, app)
    if pkg:  # pip makes the package dir 0755 and owns it: its mode only says who reaches in
        facts.package_dir = True
        facts.loose_dirs = []
        facts.wrong_owner = [e for e in facts.wrong_owner if e.kind != "d"]
    facts.truncated = len(entries) > MAX_ENTRIES
    facts.denied = [_denied_reason(line) for line in denied]
    _outside_configs(fs, root, app, facts)
    return facts


def _package_app(app: str, root: str) -> Any:
    """The store app whose pip package dir `root` is (Langflow's default store place)."""
    from aiaudit.products.appstore import store_app

    pkg = store_app(app) if app else None
    return pkg if pkg is not None and pkg.is_package_dir(root) else None


def _outside_configs(fs: HostFS, root: str, app: str, facts: PermissionFacts) -> None:
    """The product's config files outside its state dir (OpenClaw's OPENCLAW_CONFIG_PATH
    file and its `$include`s, as OpenClaw recorded loading them; Open WebUI's
    `.webui_secret_key` in the server's working directory) are state too: each is judged
    with its own directory."""
    from aiaudit.products import open_webui

    prefix = root.rstrip("/") + "/"
    if app == open_webui.APP:  # `serve` writes .webui_secret_key in its working directory
        from aiaudit.storage.configsecrets import open_webui_key_files

        outside = open_webui_key_files(fs, root, outside_only=True)
    elif app == openclaw.APP:
        cfg = openclaw.read_config(fs, root)
        outside = [p for p in cfg.files if not p.startswith(prefix)]
    else:
        return
    for path in outside:
        d = posixpath.dirname(path)
        _, out, _ = fs.run(f"find -H {shlex.quote(d)} {shlex.quote(path)} -maxdepth 0 "
                           "-printf '%y\\t%m\\t%u\\t%p\\t%l\\0'", timeout=30)
        entries = parse_find(out)
        if len(entries) != 2:
            facts.denied.append(f"cannot read the modes of {path} (outside the state dir)")
            continue
        more = judge(d, entries, facts.service_user, facts.user_source, app)
        facts.entries += 1
        facts.outside += [e for e in entries if e.path == path]
        seen = {e.path for e in facts.loose_dirs}
        if app != open_webui.APP:  # the key's dir is wherever `serve` ran (a home, /srv):
            facts.loose_dirs += [e for e in more.loose_dirs if e.path not in seen]
        facts.loose_files += more.loose_files  # the key file itself is judged
        facts.wrong_owner += [e for e in more.wrong_owner
                              if e.path not in {w.path for w in facts.wrong_owner}]
