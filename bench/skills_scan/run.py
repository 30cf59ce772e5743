"""Benchmark: aiaudit's skill scanner against GuardDog on a generated tree of 1,000 skills.

One run does everything: materialises the labelled corpus (selftests/fixtures/skills),
replicates it with variations into 1,000 skills across the OpenClaw, Hermes, Claude and
.agents layouts, scans that tree several times with each tool (wall time with
time.perf_counter), and scores both on the labelled corpus: a malicious fixture counts as
detected by aiaudit when the control that names its technique fails on it, and by GuardDog
when any of its threat rules fires inside the skill; a benign fixture flagged by any rule of
either tool is a false alarm. GuardDog (PyPI `guarddog`) is installed into its own venv
under ~/.cache/aiaudit-bench the first time; it scans the tree in its local-directory mode,
once as PyPI and once as npm (skills mix Python and JavaScript).

    python bench/skills_scan/run.py [--skills 1000] [--repeat 3]

Before anything is timed, aiaudit is installed as bin/setup installs it: its modules
byte-compiled (compileall, as pip does for GuardDog's venv) and its supply-chain rule
databases compiled into aiaudit/data/rules-db (`python -m aiaudit.supply_chain.rulesdb`).
Neither is part of a user's audit: both happen once, at install.

What is timed, per repetition (median of --repeat repetitions, same tree, same run):
- aiaudit as a command (`scan_tree.py`, a fresh interpreter): start-up, imports, discovery
  of the tree (the local skill roots walked and read, every SKILL.md frontmatter parsed),
  SUP-03 `static_review` and SUP-04 `manifest_review` of every skill through `review_all`
  (forked workers over the machine's cores, as the audit runs them), in three states:
  - first run after install (the `speedup` figure): an empty user cache dir
    (AIAUDIT_CACHE_DIR), the rule databases loaded from the install-time directory. This
    is what a user who installed with bin/setup meets on their first audit.
  - compiling from nothing: an empty user cache and no install-time databases
    (AIAUDIT_RULES_DB_DIR set to an empty dir), so the command compiles the databases
    (about 1 s of CPU, on a thread while discovery reads) as GuardDog compiles its rules at
    every run; printed with its own ratio, for an install that skipped bin/setup.
  - warm: the databases loaded from the user cache a first run wrote (~/.cache/aiaudit).
- aiaudit in-process (printed for reference): the same work inside a warm interpreter,
  single-threaded.
- GuardDog as its CLI runs: two processes per repetition (pypi and npm scans).
- printed beside the scanner time: the whole audit as a user runs it (`pytest
  --target=local --audit-config=... tests_supply_chain` over the tree: every SUP-01..07
  case and both reports), wall time and CPU time, first run after install and warm.
The machine's load average is printed at the start and the end: on a shared machine the
wall times follow it.
The speedup compares the two commands, start-up included on both sides.

The last line reads `speedup: N.Nx` (median GuardDog command time against the median
aiaudit command time of a first run after install).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from aiaudit.hostfs import HostFS  # noqa: E402
from aiaudit.lab.parts.supply_chain import corpus_labels, materialize_corpus  # noqa: E402
from aiaudit.supply_chain.discovery import discover  # noqa: E402
from aiaudit.supply_chain.honesty import manifest_review  # noqa: E402
from aiaudit.supply_chain.review import failing, static_review  # noqa: E402
from aiaudit.supply_chain.settings import Settings  # noqa: E402

VENV = Path(os.environ.get("AIAUDIT_BENCH_CACHE", Path.home() / ".cache" / "aiaudit-bench"))
GUARDDOG = VENV / "guarddog-venv" / "bin" / "guarddog"
FAIL_AT = {"SUP-03": "high", "SUP-04": "medium"}
SKILL_PARENTS = (".openclaw/workspace/skills", ".hermes/skills", ".claude/skills",
                 ".agents/skills")


def ensure_guarddog() -> Path:
    if not GUARDDOG.exists():
        print("installing guarddog into", GUARDDOG.parent.parent, file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(GUARDDOG.parent.parent)], check=True)
        subprocess.run([str(GUARDDOG.parent / "pip"), "install", "-q", "guarddog"], check=True)
    return GUARDDOG


def skill_dirs(home: Path) -> list[Path]:
    return sorted(p.parent for p in home.rglob("SKILL.md")
                  if not any(part.startswith(".hub") for part in p.parts))


def generate_tree(corpus_home: Path, dest: Path, count: int) -> int:
    """`count` skills: copies of the corpus skills, renamed, with a varied line per text file
    (large data files are cut to 2,000 lines in the copies); returns the number of files."""
    sources = skill_dirs(corpus_home)
    files = 0
    for i in range(count):
        src = sources[i % len(sources)]
        parent = SKILL_PARENTS[i % len(SKILL_PARENTS)]
        target = dest / parent / f"{src.name}-v{i:04d}"
        shutil.copytree(src, target, symlinks=True)
        for path in target.rglob("*"):
            if path.is_symlink() or not path.is_file():
                continue
            files += 1
            if path.suffix == ".csv":
                lines = path.read_text(encoding="utf-8").splitlines()[:2000]
                path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            elif path.suffix in (".md", ".py", ".js", ".sh", ".yaml", ".ts"):
                data = path.read_bytes()
                marker = {".md": b"\n<!-- variant %d -->\n", ".yaml": b"\n# variant %d\n",
                          ".py": b"\n# variant %d\n", ".sh": b"\n# variant %d\n"}.get(
                              path.suffix, b"\n// variant %d\n")
                if path.name == "SKILL.md":
                    marker = b"\nVariant %d of this skill.\n"
                path.write_bytes(data + marker % i)
    return files


def aiaudit_scan(home: Path) -> dict[str, dict[str, list]]:
    """Discovery plus SUP-03 and SUP-04 review of every skill under home."""
    inventory = discover(HostFS("local"), Settings(home_dirs=(str(home),)))
    return {s.id: {"SUP-03": static_review(s), "SUP-04": manifest_review(s)}
            for s in inventory.skills}


def install_aiaudit() -> None:
    """What bin/setup does once at install (untimed, as GuardDog's pip install is): the
    modules byte-compiled and the rule databases compiled into aiaudit/data/rules-db."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "aiaudit")],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "aiaudit.supply_chain.rulesdb"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


def cold_env(cold: bool, from_nothing: bool = False) -> dict[str, str] | None:
    """The environment of one run: cold ones get a user cache dir of their own, empty;
    from nothing, the install-time databases are hidden too (an empty directory)."""
    if not cold:
        return None
    env = dict(os.environ, AIAUDIT_CACHE_DIR=tempfile.mkdtemp(prefix="aiaudit-cold-cache-"))
    if from_nothing:
        env["AIAUDIT_RULES_DB_DIR"] = env["AIAUDIT_CACHE_DIR"]  # empty: nothing installed
    return env


def aiaudit_command(home: Path, cold: bool, from_nothing: bool = False) -> str:
    env = cold_env(cold, from_nothing)
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).with_name("scan_tree.py")),
                               str(home)], capture_output=True, text=True, timeout=3600,
                              check=True, env=env)
    finally:
        if env:
            shutil.rmtree(env["AIAUDIT_CACHE_DIR"], ignore_errors=True)
    return done.stdout


def whole_audit(home: Path, work: Path, repeat: int, cold: bool) -> tuple[float, float, str]:
    """(median wall s, median CPU s of the run and its children, pytest's last line) of
    `repeat` whole `pytest --target=local ... tests_supply_chain` audits of home:
    collection, discovery, every SUP-01..07 case, the HTML and JSON reports (a fresh report
    dir each time)."""
    config = work / "audit.toml"
    config.write_text(f"[supply_chain]\nhome_dirs = [{str(home)!r}]\n"
                      f"baseline_file = {str(work / 'baseline.json')!r}\n", encoding="utf-8")
    walls, cpus, last = [], [], ""
    for run in range(repeat):
        env = cold_env(cold)
        before = os.times()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "--target=local",
                               f"--audit-config={config}", "--report-dir",
                               str(work / f"reports-{'cold' if cold else 'warm'}-{run}"),
                               "-q", "-p", "no:cacheprovider", "tests_supply_chain"],
                              cwd=ROOT, capture_output=True, text=True, timeout=3600, env=env)
        walls.append(time.perf_counter() - start)
        after = os.times()
        if env:
            shutil.rmtree(env["AIAUDIT_CACHE_DIR"], ignore_errors=True)
        cpus.append((after.children_user - before.children_user)
                    + (after.children_system - before.children_system))
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        if done.returncode not in (0, 1):
            raise RuntimeError(f"the audit run failed ({done.returncode}): "
                               f"{done.stderr[-500:]}")
    return statistics.median(walls), statistics.median(cpus), last


def load_average() -> str:
    """The 1-minute load average: the machine may be shared, and wall times follow it."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def guarddog_scan(guarddog: Path, home: Path) -> dict[str, dict]:
    out = {}
    for ecosystem in ("pypi", "npm"):
        done = subprocess.run([str(guarddog), ecosystem, "scan", str(home), "--output-format",
                               "json", "--no-sandbox"], capture_output=True, text=True,
                              timeout=3600)
        start = done.stdout.find("{")
        if start < 0:
            raise RuntimeError(f"guarddog {ecosystem} printed no JSON: {done.stderr[-500:]}")
        out[ecosystem] = json.loads(done.stdout[start:])
    return out


def guarddog_flags(results: dict[str, dict], home: Path) -> dict[str, set[str]]:
    """Skill directory (relative to home) -> GuardDog threat rules that fired inside it."""
    dirs = [str(d.relative_to(home)) for d in skill_dirs(home)]
    flags: dict[str, set[str]] = {d: set() for d in dirs}
    for doc in results.values():
        for rule, hits in (doc.get("results") or {}).items():
            if not hits or rule.startswith("capability-") or not isinstance(hits, list):
                continue
            for hit in hits:
                location = str(hit.get("location", "")).split(":")[0].removeprefix("./")
                owner = max((d for d in dirs if location.startswith(d + "/")), key=len,
                            default=None)
                if owner:
                    flags[owner].add(rule)
    return flags


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def score_aiaudit(corpus_home: Path) -> tuple[int, int, int, int]:
    reviews = aiaudit_scan(corpus_home)
    malicious = detected = benign = false_alarms = 0
    for fixture in corpus_labels():
        review = reviews[fixture["skill"]]
        failed = {c for c, findings in review.items() if failing(findings, FAIL_AT[c])}
        if fixture["label"] == "benign":
            benign += 1
            false_alarms += bool(failed)
        else:
            malicious += 1
            named = fixture["control"]
            rules = {f.rule for f in failing(review[named], FAIL_AT[named])}
            detected += named in failed and set(fixture["rules"]) <= rules
    return malicious, detected, benign, false_alarms


def score_guarddog(guarddog: Path, corpus_home: Path) -> tuple[int, int]:
    flags = guarddog_flags(guarddog_scan(guarddog, corpus_home), corpus_home)
    inventory = discover(HostFS("local"), Settings(home_dirs=(str(corpus_home),)))
    by_id = {s.id: str(Path(s.path).relative_to(corpus_home)) for s in inventory.skills}
    detected = false_alarms = 0
    for fixture in corpus_labels():
        hit = bool(flags.get(by_id[fixture["skill"]]))
        if fixture["label"] == "benign":
            false_alarms += hit
        else:
            detected += hit
    return detected, false_alarms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skills", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    guarddog = ensure_guarddog()
    install_aiaudit()
    with tempfile.TemporaryDirectory(prefix="aiaudit-skills-bench-") as tmp:
        corpus_home = materialize_corpus(Path(tmp) / "corpus")
        tree = Path(tmp) / "tree"
        files = generate_tree(corpus_home, tree, args.skills)
        size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file() and
                   not p.is_symlink())
        print(f"tree: {args.skills} skills, {files} files, {size / 1e6:.1f} MB "
              f"({args.repeat} runs per tool; load average {load_average()} on "
              f"{os.cpu_count()} cores)")
        ours, _ = timed(lambda: aiaudit_command(tree, cold=True), args.repeat)
        ours_nothing, _ = timed(lambda: aiaudit_command(tree, cold=True, from_nothing=True),
                                args.repeat)
        ours_warm, _ = timed(lambda: aiaudit_command(tree, cold=False), args.repeat)
        in_process, reviews = timed(lambda: aiaudit_scan(tree), args.repeat)
        theirs, _ = timed(lambda: guarddog_scan(guarddog, tree), args.repeat)
        print(f"aiaudit:  {ours:7.2f} s median, {files / ours:8.0f} files/s, "
              f"{len(reviews)} skills reviewed (SUP-03 + SUP-04), as a command, first run "
              "after install (empty user cache, install-time rule databases)")
        print(f"          {ours_nothing:7.2f} s median as a command, compiling from nothing "
              "(empty user cache, no install-time databases: the rules compiled)")
        print(f"          {ours_warm:7.2f} s median as a command, warm (rule databases "
              "loaded from the cache)")
        print(f"          {in_process:7.2f} s median in a warm process, single-threaded")
        for cold in (True, False):
            audit_wall, audit_cpu, last = whole_audit(tree, Path(tmp), args.repeat, cold)
            state = "first run after install" if cold else "warm"
            print(f"          {audit_wall:7.2f} s median whole audit, {state}"
                  f" (pytest --target=local tests_supply_chain, reports written; "
                  f"{audit_cpu:.1f} s CPU): {last}")
        print(f"guarddog: {theirs:7.2f} s median, {files / theirs:8.0f} files/s "
              "(pypi + npm local-directory scans)")
        malicious, detected, benign, false_alarms = score_aiaudit(corpus_home)
        gd_detected, gd_false = score_guarddog(guarddog, corpus_home)
        print(f"labelled fixtures: {malicious} malicious/defective, {benign} benign")
        print(f"aiaudit:  {detected}/{malicious} flagged by the control naming the technique, "
              f"{false_alarms} false alarms")
        print(f"guarddog: {gd_detected}/{malicious} flagged by any threat rule, "
              f"{gd_false} false alarms")
        print(f"load average at the end: {load_average()}")
        print(f"speedup compiling from nothing: {theirs / ours_nothing:.1f}x")
        print(f"speedup: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
