"""SUP-03 on what obfuscated code means: the same rules over the folded text, the code
handed to exec/eval, and the disassembly of `.pyc` files that come without source.

A finding here cites the source file and line, shows the folded snippet as its excerpt
(`os.system('curl http://… | sh')`) and says in its note what it was folded from, so a
reviewer sees both what is written and what it does. Context "folded" or "bytecode".
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from aiaudit.supply_chain import review, rules
from aiaudit.supply_chain.bytecode import disassemble
from aiaudit.supply_chain.deobfuscate import MAX_DEPTH, Folded, fold
from aiaudit.supply_chain.findings import Finding, at_most, excerpt
from aiaudit.supply_chain.model import Skill
from aiaudit.supply_chain.textctx import TextFile

_TEXT_RULES = {"download-exec", "decode-exec", "reverse-shell", "crypto-miner",
               "suspicious-host", "raw-ip-url", "persistence-cron", "persistence-service",
               "ssh-key-implant", "sudoers-edit", "git-mirror-exfil"}


def folded_files(skill: Skill) -> list[tuple[TextFile, TextFile, Folded]]:
    """(source, folded, fold result) for every code file of a skill that folds (cached)."""
    cached = skill.__dict__.get("_folded")
    if cached is not None:
        return cached
    out = []
    files = review.text_files(skill)
    modules = _module_constants(files)
    for tf in files:
        result = fold(tf, modules=modules)
        if result is not None:
            out.append((tf, TextFile(tf.path, tf.lang, result.text), result))
    skill.__dict__["_folded"] = out
    return out


def _module_constants(files: list[TextFile]) -> dict[str, Any]:
    """Constants of every Python module of a skill, under the dotted names an import in the
    skill can give it (`cfg/endpoints.py`: `cfg.endpoints.X` and `endpoints.X`)."""
    out: dict[str, Any] = {}
    if not 2 <= sum(tf.lang == "python" for tf in files) <= 40:
        return out  # one module imports none; a package that big is an application
    from aiaudit.supply_chain.pyfold import module_constants

    imports = " ".join(line for tf in files if tf.lang == "python" and "import" in tf.text
                       for line in tf.text.split("\n") if "import " in line)
    for tf in files:
        if tf.lang != "python" or not tf.path.endswith(".py") or len(tf.text) > 20_000:
            continue
        dotted = tf.path[:-3].replace("/", ".").removesuffix(".__init__")
        names = {dotted, dotted.rsplit(".", 1)[-1]}
        if not any(re.search(rf"\b{re.escape(n.rsplit('.', 1)[-1])}\b", imports) for n in names):
            continue  # imported by no file of the skill
        for name in names:
            out |= module_constants(name, tf.text)
    return out


def _keyed(findings: list[Finding]) -> set[tuple[str, str, int]]:
    return {(f.rule, f.file, f.line) for f in findings}


def _relabel(found: list[Finding], context: str, note_of, excerpt_of, line_of=None
             ) -> list[Finding]:
    return [Finding(f.control, f.rule, f.severity, f.file,
                    line_of(f) if line_of else f.line, excerpt_of(f), context, note_of(f))
            for f in found]


def _inner_findings(tf: TextFile, code: str, lang: str, line: int, how: str, depth: int
                    ) -> list[Finding]:
    """Code run by exec/eval (or a long decoded text), reviewed as a file of its own."""
    inner = TextFile(tf.path, "shell" if lang == "text" else lang, code)
    if lang == "text":
        found = review._line_findings(inner, [r for r in rules.LINE_RULES
                                              if r.name in _TEXT_RULES], context="folded")
    else:
        found = review._line_findings(inner, rules.LINE_RULES)
        found += review._compound_findings([inner])
        result = fold(inner, depth + 1) if depth < MAX_DEPTH else None
        if result is not None:
            folded = TextFile(tf.path, inner.lang, result.text)
            found += review._line_findings(folded, rules.LINE_RULES)
            found += review._compound_findings([folded])
            for sub in result.inner:
                found += _inner_findings(tf, sub.text, sub.lang, 1, sub.how, depth + 1)
    first = excerpt(code.strip().split("\n")[0])
    descriptive = tf.lang == "markdown" and tf.is_descriptive(line)
    return [Finding(f.control, f.rule, at_most(f.severity, "low") if descriptive else f.severity,
                    tf.path, line, f.excerpt, "folded",
                    f"{f.note or f.rule}; in {how} at line {line}: {first}") for f in found]


def _bytecode_findings(skill: Skill) -> list[Finding]:
    """`.pyc` files without source, disassembled (never executed) and reviewed."""
    found: list[Finding] = []
    names = {f.path for f in skill.own_files()}
    for f in skill.own_files():
        if f.kind != "file" or f.data is None or \
                posixpath.splitext(f.path)[1].lower() not in (".pyc", ".pyo"):
            continue
        stem = posixpath.basename(f.path).split(".")[0]
        folder = posixpath.dirname(f.path)
        base = posixpath.dirname(folder) if folder.endswith("__pycache__") else folder
        if posixpath.join(base, stem + ".py").lstrip("/") in names:
            continue
        text, why = disassemble(f.data)
        if text is None:
            found.append(Finding("SUP-03", "bytecode-not-disassembled", "low", f.path, 0,
                                 f.path, "bytecode", why))
            continue
        pseudo = TextFile(f.path, "python", text)
        hits = review._line_findings(pseudo, rules.LINE_RULES, context="bytecode")
        hits += review._compound_findings([pseudo])
        found += _relabel(hits, "bytecode",
                          lambda h, p=pseudo: f"{h.note or h.rule}; in the disassembly "
                          f"(line {h.line}: {excerpt(p.line_text(h.line))})",
                          lambda h: h.excerpt, lambda h: 0)
    return found


def folded_review(skill: Skill, original: list[Finding]) -> list[Finding]:
    """SUP-03 findings that only the folded text, exec'd code or bytecode shows."""
    seen = _keyed(original)
    found: list[Finding] = []
    folded = folded_files(skill)
    for tf, ftf, result in folded:
        hits = review._line_findings(ftf, rules.LINE_RULES)
        hits += review._decoded_findings(ftf)
        found += _relabel(
            [h for h in hits if (h.rule, h.file, h.line) not in seen], "folded",
            lambda h, t=tf: f"{h.note or h.rule}; folded from: {excerpt(t.line_text(h.line))}",
            lambda h, f=ftf: excerpt(f.line_text(h.line)))
        for inner in result.inner:
            found += _inner_findings(tf, inner.text, inner.lang, inner.line, inner.how, 0)
    if folded:
        by_path = {tf.path: ftf for tf, ftf, _ in folded}
        code = [by_path.get(tf.path, tf) for tf in review.text_files(skill)
                if tf.lang in rules.EXECUTABLE_LANGS]
        compound = review._compound_findings(code)
        originals = {tf.path: tf for tf, _, _ in folded}
        found += _relabel(
            [h for h in compound if (h.rule, h.file, h.line) not in seen], "folded",
            lambda h: f"{h.note}; folded from: {excerpt(originals[h.file].line_text(h.line))}"
            if h.file in originals else f"{h.note}; seen after folding", lambda h: h.excerpt)
    found += _bytecode_findings(skill)
    found += _shell_view_findings(skill, seen | _keyed(found), folded)
    return found


def _shell_view_findings(skill: Skill, seen: set[tuple[str, str, int]],
                         folded: list[tuple[TextFile, TextFile, Folded]]) -> list[Finding]:
    """The shell command lines code hands to a shell (`os.system`, `exec.Command("sh", "-c",
    ...)`, Ruby backticks), each read as the shell script it is: a rule anchored on a line's
    end or on a command's start (`| crontab -`, `scp ~/.gnupg ...`) cannot match it inside a
    quoted literal. Folded files' commands count as folded."""
    from aiaudit.supply_chain.honesty import shell_view

    by_path = {tf.path: ftf for tf, ftf, _ in folded}
    found: list[Finding] = []
    for tf in review.text_files(skill):
        if tf.lang not in ("python", "js", "code"):
            continue
        for source, context in ((tf, None), (by_path.get(tf.path), "folded")):
            view = shell_view(source) if source is not None else None
            if view is None:
                continue
            shell, lines = view
            hits = review._line_findings(shell, rules.LINE_RULES)
            hits += review._compound_findings([shell])
            for h in hits:
                line = lines[min(h.line, len(lines)) - 1]
                directive = tf.line_text(line).startswith("//go:generate")  # a comment run
                if not directive and ((h.rule, tf.path, line) in seen or
                                      tf.is_comment_at(tf.line_span(line)[0])):
                    continue
                seen.add((h.rule, tf.path, line))
                note = re.sub(re.escape(shell.path) + r":(\d+)",
                              lambda m, ls=lines, p=tf.path: f"{p}:{ls[int(m.group(1)) - 1]}",
                              h.note or h.rule)
                found.append(Finding(h.control, h.rule, h.severity, tf.path, line, h.excerpt,
                                     context or ("code" if directive else
                                                 tf.context_at(tf.line_span(line)[0])),
                                     f"{note}; in a command line handed to a shell: "
                                     f"{excerpt(tf.line_text(line))}"))
    return found
