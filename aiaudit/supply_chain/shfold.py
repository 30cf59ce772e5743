"""Constant folding for shell scripts (read as text, never run).

What hides a command from a line-based reader in real droppers: ANSI-C strings
(`$'\\x63\\x75\\x72\\x6c'` is `curl`), a command glued from variables set to literals a line
before (`a=cu;b=rl;$a$b ...`) and `${IFS}` for the spaces. Each is written out on its own line
(lines never move) so the same rules read `curl -s URL | bash`.
"""

from __future__ import annotations

import re

from aiaudit.supply_chain.deobfuscate import Folded

_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'")
_ESC = re.compile(r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{4}|[0-7]{1,3}|.)")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
           "f": "\f", "v": "\v", "'": "'", '"': '"', "\\": "\\", "?": "?"}
_ASSIGN = re.compile(r"(?:^|[;&|(]\s*|\s)(?:export\s+|local\s+|readonly\s+)?"
                     r"([A-Za-z_]\w*)=('[^'\n]*'|\"[^\"$`\\\n]*\"|[^\s;&|()<>$`'\"\\]*)(?=[\s;&|)]|$)")
_USE = re.compile(r"\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)")
_IFS = re.compile(r"\$\{IFS\}|\$IFS\b|\$\{IFS%\?\?\}")
_RUN = re.compile(r"(?:\$\{[A-Za-z_]\w*\}|\$[A-Za-z_]\w*(?![\w{]))(?:\$\{[A-Za-z_]\w*\}|"
                  r"\$[A-Za-z_]\w*)+")  # a word glued from two or more variables
_ANSI_ESCAPED = re.compile(r"\$'[^'\n]*\\[x0-7u]")
INDICATOR = re.compile(r"\$'[^']*\\[x0-7u]|\$\{?IFS\b|\$\{?[A-Za-z_]\w*\}?\$\{?[A-Za-z_]")


def _ansi_c(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] in "xu":  # `\x` or `\u` without its hex digits: bash keeps the text
            return chr(int(s[1:], 16)) if len(s) > 1 else "\\" + s
        if s[0] in "01234567":
            return chr(int(s, 8) & 0xFF)
        return _SIMPLE.get(s, "\\" + s)
    return _ESC.sub(one, body)


def fold_shell(text: str) -> Folded | None:
    """The script with ANSI-C strings, literal variables and `$IFS` written out; None when
    nothing of the kind is there."""
    if not INDICATOR.search(text):
        return None
    values: dict[str, str] = {}
    counts: dict[str, int] = {}
    for m in _ASSIGN.finditer(text):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        raw = m.group(2)
        values[m.group(1)] = raw[1:-1] if raw[:1] in "'\"" and len(raw) >= 2 else raw
    known = {k: v for k, v in values.items() if counts[k] == 1 and k != "IFS"}
    out_lines, replaced = [], {}
    for n, line in enumerate(text.split("\n"), 1):
        glued = any(all((u.group(1) or u.group(2)) in known for u in _USE.finditer(run.group(0)))
                    for run in _RUN.finditer(line))
        if not (glued or _IFS.search(line) or _ANSI_ESCAPED.search(line)):
            out_lines.append(line)  # nothing hidden: the line is read as written
            continue
        new = _ANSI_C.sub(lambda m: _ansi_c(m.group(1)).replace("\n", " "), line)
        new = _IFS.sub(" ", new)
        new = _USE.sub(lambda m: known.get(m.group(1) or m.group(2), m.group(0)), new)
        if new != line:
            replaced[n] = [new[:200]]
        out_lines.append(new)
    return Folded("\n".join(out_lines), replaced) if replaced else None
