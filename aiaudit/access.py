"""What the audit account may read on the target, told apart from what is not there.

A shell glob or `[ -f ]` below a directory the account cannot search finds nothing, which
looks exactly like "nothing installed". Every area asks here before it concludes absence:
a path is `ok` (opened for real), `missing` (its nearest existing ancestor could be searched,
so its absence is proven), or unreadable: `noread` / `nosearch` on the path itself, or
`hidden` when an ancestor cannot be searched. Rights are tested by opening (`cd`, `ls`,
`<`), never with `test -r`: shells answer yes for uid 0 even when CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH are dropped.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Prints `state<TAB>path<TAB>blocker` for one path. Quoted paths only; no target text runs.
# A missing path's nearest existing ancestor is found with parameter expansion (what
# `dirname` prints, without a fork per level: thousands of missing candidates cost
# thousands of processes per level otherwise).
ACCESS_FN = r"""aia_access() {
  p=$1
  if [ -e "$p" ] || [ -L "$p" ]; then
    if [ -d "$p" ]; then
      (cd -- "$p") 2>/dev/null || { printf 'nosearch\t%s\t%s\n' "$p" "$p"; return; }
      ls -f -- "$p" >/dev/null 2>&1 || { printf 'noread\t%s\t%s\n' "$p" "$p"; return; }
    elif [ -f "$p" ]; then
      (: < "$p") 2>/dev/null || { printf 'noread\t%s\t%s\n' "$p" "$p"; return; }
    fi
    printf 'ok\t%s\t\n' "$p"; return
  fi
  a=$p
  while :; do
    while [ "$a" != / ] && [ "${a%/}" != "$a" ]; do a=${a%/}; done
    case $a in */*) a=${a%/*}; a=${a:-/} ;; *) a=. ;; esac
    { [ -e "$a" ] || [ "$a" = / ] || [ "$a" = . ]; } && break
  done
  # many candidates share a parent: its search right is tried once per run of them
  if [ "$a" != "${aia_seen-}" ]; then
    aia_seen=$a; aia_open=0; (cd -- "$a") 2>/dev/null && aia_open=1
  fi
  if [ "$aia_open" = 1 ]; then printf 'missing\t%s\t\n' "$p"
  else printf 'hidden\t%s\t%s\n' "$p" "$a"; fi
}"""

UNREADABLE = ("noread", "nosearch", "hidden")


@dataclass(frozen=True)
class Access:
    """How far the audit account gets to one path."""

    path: str
    state: str  # "ok" | "missing" | "noread" | "nosearch" | "hidden"
    blocker: str = ""  # the path that refused: the path itself or an unsearchable ancestor

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def missing(self) -> bool:
        return self.state == "missing"

    @property
    def unreadable(self) -> bool:
        return self.state in UNREADABLE

    @property
    def right(self) -> str:
        """The right the audit account lacks, in words a person acts on."""
        if self.state == "noread":
            return "read (r)"
        return "search (x)" if self.unreadable else ""

    def reason(self) -> str:
        """One line naming the path and the missing right."""
        if self.state == "hidden":
            return (f"cannot tell whether {self.path} exists: permission denied on "
                    f"{self.blocker} (the audit account lacks the search (x) right on it)")
        if self.unreadable:
            return (f"cannot read {self.path}: permission denied (the audit account lacks "
                    f"the {self.right} right on it)")
        if self.missing:
            return f"{self.path} does not exist (its parent directory was searched)"
        return f"{self.path} is readable"


SCRIPT_LIMIT = 64 * 1024  # one argv string may hold 128 KiB (Linux MAX_ARG_STRLEN)


def access_script(paths: Iterable[str]) -> str:
    """Shell that prints one access line per path (one script, however long: callers with
    many paths use access_scripts)."""
    words = " ".join(shlex.quote(p) for p in dict.fromkeys(paths))
    return f"{ACCESS_FN}; for p in {words}; do aia_access \"$p\"; done; true"


def access_scripts(paths: Iterable[str], limit: int = SCRIPT_LIMIT) -> list[str]:
    """The access script over every path, split so each script stays under `limit` bytes:
    one script over thousands of paths is longer than one argv string may be ("Argument
    list too long" over SSH, where the script is one `sh -c` argument). One round trip
    per script."""
    room = limit - len(access_script([]))
    batches: list[list[str]] = [[]]
    size = 0
    for path in dict.fromkeys(p for p in paths if p):
        n = len(shlex.quote(path).encode()) + 1
        if n > room:
            raise ValueError(f"path too long to check: {path[:80]}...")
        if batches[-1] and size + n > room:
            batches.append([])
            size = 0
        batches[-1].append(path)
        size += n
    return [access_script(b) for b in batches if b]


def parse_access(out: str) -> dict[str, Access]:
    found: dict[str, Access] = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) == 3 and cols[0] in ("ok", "missing", *UNREADABLE):
            found[cols[1]] = Access(cols[1], cols[0], cols[2])
    return found


def check_access(fs: Any, paths: Iterable[str], timeout: float = 60.0) -> dict[str, Access]:
    """{path: Access} for every path, one round trip per script of access_scripts (paths
    are taken literally)."""
    found: dict[str, Access] = {}
    for script in access_scripts(paths):
        _, out, _ = fs.run(script, timeout=timeout)
        found.update(parse_access(out))
    return found


def denied_line(path: str, detail: str) -> str:
    """A read error as one line that names the path and, for EACCES, the missing right."""
    low = detail.lower()
    if "permission denied" in low or "errno 13" in low:
        return (f"cannot read {path}: permission denied (the audit account lacks the read (r) "
                "right on it, or search (x) on a directory above it)")
    return f"cannot read {path}: {detail}"


def coalesce(accesses: Iterable[Access]) -> list[Access]:
    """One entry per refusing path: twenty candidate dirs below one closed home are one
    problem, named by the home."""
    out: dict[str, Access] = {}
    for a in accesses:
        if a.unreadable:
            key = a.blocker or a.path
            out.setdefault(key, a)
    return list(out.values())
