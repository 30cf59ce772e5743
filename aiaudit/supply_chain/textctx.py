"""What kind of file this is and what each line of it is: code, comment, prose, example.

Scoring by context is what keeps a security skill that *lists* attack patterns from being
condemned: the same `curl … | sh` is an instruction in a Prerequisites section, an example
under "Red flags", and inert inside a regex literal of a detector.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiaudit.supply_chain.anchors import AnchorIndex

LANG_BY_EXT = {
    ".py": "python", ".pyw": "python",
    ".js": "js", ".mjs": "js", ".cjs": "js", ".ts": "js", ".tsx": "js", ".jsx": "js",
    ".mts": "js", ".cts": "js",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ksh": "shell", ".fish": "shell",
    ".command": "shell",
    ".ps1": "powershell", ".psm1": "powershell", ".bat": "shell", ".cmd": "shell",
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".txt": "markdown",
    ".rst": "markdown",
    ".yaml": "config", ".yml": "config", ".json": "config", ".json5": "config",
    ".jsonc": "config", ".toml": "config", ".ini": "config", ".cfg": "config",
    ".conf": "config", ".env": "config", ".properties": "config", ".xml": "config",
    ".html": "markdown", ".htm": "markdown", ".svg": "config", ".csv": "data", ".tsv": "data",
    # compiled and scripting languages read as generic code: their lines run (Go, Ruby, Rust,
    # Java, Kotlin, C#, PHP, Perl, Lua, Swift, C/C++)
    ".go": "code", ".rb": "code", ".rs": "code", ".java": "code", ".kt": "code", ".kts": "code",
    ".cs": "code", ".php": "code", ".pl": "code", ".pm": "code", ".lua": "code", ".swift": "code",
    ".c": "code", ".cc": "code", ".cpp": "code", ".h": "code", ".scala": "code", ".groovy": "code",
    # detection signatures (YARA): they quote attacks to find them and run nothing
    ".yar": "signatures", ".yara": "signatures",
}
WINDOWED_FROM = 20_000  # characters: bigger files run anchored regexes line by line
CODE_LANGS = ("python", "js", "shell", "powershell", "code")
ARCHIVE_EXTS = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".whl",
                ".egg", ".apk", ".deb", ".rpm", ".zst", ".cab", ".iso", ".dmg", ".pkg", ".msi")
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"\x00\x00\x01\x00", b"BM")
EXEC_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
              b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh",
                 b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")
_SHEBANG = re.compile(rb"^#!\s*(?:/usr/bin/env\s+(?:-S\s+)?)?\S*?(python|node|deno|bun|bash|sh|"
                      rb"zsh|ksh|dash|pwsh|perl|ruby)")
_SHEBANG_LANG = {b"python": "python", b"node": "js", b"deno": "js", b"bun": "js",
                 b"pwsh": "powershell", b"perl": "code", b"ruby": "code"}

DESCRIPTIVE_HEADING = re.compile(
    r"(?i)(detect|pattern|indicator|red.?flag|warning sign|signs? of|look(s)? (out )?for|"
    r"watch (out )?for|examples? of (malicious|bad|attack|suspicious)|what .{0,30}looks? like|"
    r"threat|\bioc|malicious|suspicious|attack|never do|anti-?pattern|do not run|what to flag|"
    r"how .{0,40}works?\b|anatomy|case stud|incident|post-?mortem|analysis|write-?up|campaign|"
    r"explained|\bttps?\b|payload|exploit|vulnerab|\bcve-|known.{0,20}(bad|abuse)|"
    r"stealer|backdoor|malware|phishing|tool poisoning|prompt injection|"
    r"what (?:\w+ ){0,3}(?:flags|catches|finds|checks for)\b|\bflagged\b|\bchecks? for\b)")
DESCRIPTIVE_LEAD = re.compile(
    r"(?i)(examples? of (a )?(malicious|bad|suspicious|attack)|malicious|red flags?|never run|"
    r"do not run|don't run|patterns?\b|\bflag (it|this|that|code|skills?|any|lines?|prose|"
    r"text|instructions?|descriptions?|sentences?|comments?|commands?)\b|"
    # reported speech: "prose that tells the agent to read ~/.ssh" describes an attack
    r"\b(?:that|which)\s+(?:tells?|asks?|instructs?|orders?|directs?)\s+(?:the\s+|an?\s+)?"
    r"(?:agent|model|assistant|llm|ai)\s+to\b|"
    r"attackers?|\bbad:|suspicious|indicators?|is a sign|warn (the user|if|when)|detects?\b)")


def language_of(path: str, head: bytes) -> str:
    """A file's language from its name, else its shebang; "text" when neither says."""
    ext = posixpath.splitext(path)[1].lower()
    base = posixpath.basename(path)
    if ext in LANG_BY_EXT:
        return LANG_BY_EXT[ext]
    if base in ("Makefile", "Dockerfile", "Procfile", "Justfile"):
        return "shell"
    if base.startswith(".env"):
        return "config"
    if base.startswith(".") and base.endswith("ignore"):
        return "data"  # .dockerignore, .gitignore: paths left out, read by no one
    match = _SHEBANG.match(head)
    if match:
        return _SHEBANG_LANG.get(match.group(1), "shell")
    return "text"


def decode_text(data: bytes) -> str | None:
    """Text of a file (UTF-8, or UTF-16 with a BOM); None when it is binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data[:8192]:
        return None
    return data.decode("utf-8", "replace")


def line_start(text: str, line: int) -> int | None:
    """Offset where 1-based `line` starts (None: the text has fewer lines), found by a binary
    search over newline counts: str.count runs in C and the halving intervals read the text
    about once, where an index of every line start builds one Python int per line (a file of
    100,000 blank lines costs ~8 ms to index and ~0.1 ms to search)."""
    need = line - 1
    if need <= 0:
        return 0
    lo, below, hi = 0, 0, len(text)  # below: newlines in text[:lo]
    while lo < hi:
        mid = (lo + hi) // 2
        upto = below + text.count("\n", lo, mid)  # newlines in text[:mid]
        if upto >= need:
            hi = mid
        else:
            lo, below = mid + 1, upto + (text[mid] == "\n")
    return lo if below >= need else None


@dataclass
class TextFile:
    """A decoded text file with line lookup and a context per line."""

    path: str
    lang: str
    text: str
    is_manifest: bool = False  # the skill's SKILL.md
    frontmatter_end: int = 0  # last frontmatter line (SKILL.md only)
    _lookups: int = 0

    @cached_property
    def _starts(self) -> list[int]:
        """Offset of every line's start: the running sum of the line lengths, all in C (a
        match object per line made this the review's hottest spot on long data files)."""
        starts = list(itertools.accumulate(map((1).__add__, map(len, self.text.split("\n"))),
                                           initial=0))
        starts.pop()  # the end of the last line starts no line
        return starts

    @cached_property
    def docstring_lines(self) -> frozenset[int]:
        """Lines of Python docstrings (module, class, function): documentation, not code, so
        a path a docstring names (`set the token in ~/.hermes/.env`) is read by no one."""
        if self.lang != "python" or '"""' not in self.text and "\'\'\'" not in self.text:
            return frozenset()
        try:
            tree = ast.parse(self.text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return frozenset()
        lines: set[int] = set()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                     ast.AsyncFunctionDef)) or not body:
                continue
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and \
                    isinstance(first.value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
        return frozenset(lines)

    def line_of(self, offset: int) -> int:
        """1-based line of an offset; counting beats indexing a file for a few lookups."""
        self._lookups += 1
        if self._lookups < 32 and "_starts" not in self.__dict__:
            return self.text.count("\n", 0, offset) + 1
        return bisect.bisect_right(self._starts, offset)

    def line_span(self, line: int) -> tuple[int, int]:
        if self._lookups < 32 and "_starts" not in self.__dict__ and line >= 1:
            self._lookups += 1  # a few lines of a big file: no index of every line
            start = line_start(self.text, line)
            if start is not None:
                end = self.text.find("\n", start)
                return start, len(self.text) if end == -1 else end
        starts = self._starts
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return start, end

    def text_at(self, offset: int) -> str:
        """The whole line around an offset (no line index needed)."""
        start = self.text.rfind("\n", 0, offset) + 1
        end = self.text.find("\n", offset)
        return self.text[start:len(self.text) if end == -1 else end]

    def context_at(self, offset: int) -> str:
        """Context of the line around an offset; line-comment languages need no full pass."""
        if self.lang in ("python", "shell", "powershell"):
            stripped = self.text_at(offset).lstrip()
            return "comment" if stripped.startswith("#") and not stripped.startswith("#!") \
                else "code"
        if self.lang == "code":
            return "comment" if _generic_comment(self.text_at(offset).lstrip()) else "code"
        return self.context(self.line_of(offset))

    def is_comment_at(self, offset: int) -> bool:
        return self.context_at(offset) == "comment"

    def line_text(self, line: int) -> str:
        start, end = self.line_span(line)
        return self.text[start:end]

    @cached_property
    def lowered(self) -> str:
        """Lower-cased text for the rules' literal pre-checks."""
        return self.text.lower()

    @property
    def line_count(self) -> int:
        return self.text.count("\n") + 1

    @cached_property
    def _scan(self) -> tuple[AnchorIndex, set[str], frozenset[int], bool,
                             dict[int, tuple[int, ...]]]:
        """One Hyperscan pass (anchors.AnchorIndex.scan): the anchors present, id() of every
        regex proved to have no match, whether the pass could read the text, and the
        alternatives of each alternation it did not rule out."""
        from aiaudit.supply_chain.anchors import index

        idx = index()
        return (idx, *idx.scan(self.text, lambda: self.lowered))

    @property
    def excluded(self) -> frozenset[int]:
        """id() of every regex the prefilter pass proved has no match in the text."""
        return self._scan[2]

    def may_match(self, pattern: re.Pattern[str]) -> bool:
        """False only when the prefilter pass proves the regex has no match in the text."""
        return id(pattern) not in self._scan[2]

    def has_any(self, anchors: tuple[str, ...]) -> bool:
        """Whether any of the lower-case literals occurs in the file (literals outside the
        index are checked once each and memoised: the rules share many)."""
        if not anchors:
            return True
        idx, found = self._scan[:2]
        extra = self._extra
        for anchor in anchors:
            if anchor in found:
                return True
            if anchor in idx.anchor_set:
                continue
            hit = extra.get(anchor)
            if hit is None:
                hit = extra[anchor] = anchor in self.lowered
            if hit:
                return True
        return False

    @cached_property
    def _extra(self) -> dict[str, bool]:
        return {}

    def finditer(self, pattern: re.Pattern[str], anchors: tuple[str, ...] = ()
                 ) -> Iterator[re.Match[str]]:
        """Matches of a single-line pattern, run only when the prefilter lets it through and
        only on lines holding one of the anchors (lower-case literals every match contains):
        regexes cost too much on big files. Matches are memoised as they are drawn: both
        reviews ask for some regexes (network use), often stopping at the first match."""
        if not self.may_match(pattern) or not self.has_any(anchors):
            return iter(())
        memo = self._matches.get((id(pattern), anchors))
        if memo is None:
            kept = self._scan[4].get(id(pattern))
            regex = pattern if kept is None else self._scan[0].reduced(pattern, kept)
            if regex is None:
                source: Iterator[re.Match[str]] = iter(())
            elif not anchors or len(self.text) < WINDOWED_FROM or \
                    len(self.lowered) != len(self.text):
                source = regex.finditer(self.text)
            else:
                source = self._windowed(regex, anchors)
            memo = self._matches[(id(pattern), anchors)] = ([], source)
        return _replay(*memo)

    @cached_property
    def _matches(self) -> dict[tuple[int, tuple[str, ...]],
                              tuple[list[re.Match[str]], Iterator[re.Match[str]]]]:
        return {}

    def _windowed(self, pattern: re.Pattern[str], anchors: tuple[str, ...]):
        spans: set[tuple[int, int]] = set()
        for anchor in anchors:
            spans.update(self._anchor_lines(anchor))
        for start, end in sorted(spans):
            yield from pattern.finditer(self.text, start, end)

    def _anchor_lines(self, anchor: str) -> list[tuple[int, int]]:
        """(start, end) of every line holding the anchor (lower-case, as `lowered` has it)."""
        known = self._anchor_offsets
        if known is not None and anchor in self._scan[0].anchor_set:
            offsets = known.get(anchor, [])
        else:
            offsets, at = [], self.lowered.find(anchor)
            while at != -1:
                offsets.append(at)
                at = self.lowered.find(anchor, at + 1)
        text, spans = self.text, []
        for at in offsets:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            spans.append((start, len(text) if end == -1 else end))
        return spans

    @cached_property
    def _anchor_offsets(self) -> dict[str, list[int]] | None:
        return self._scan[0].positions(self.text)

    @cached_property
    def contexts(self) -> list[str]:
        """Context of every line (index 0 is line 1)."""
        if self.lang == "markdown":
            return _markdown_contexts(self.text, self.frontmatter_end)
        if self.lang in CODE_LANGS:
            return _code_contexts(self.text, self.lang)
        if self.lang == "config":
            return ["config"] * self.line_count
        return ["text"] * self.line_count

    @cached_property
    def detection_rules(self) -> bool:
        """A file of detection signatures (YARA, Sigma, Semgrep): it quotes attack strings to
        find them, as a scanner's documentation does, and runs none of them."""
        if self.lang == "signatures":
            return True
        if self.lang != "config" or not self.path.endswith((".yml", ".yaml")):
            return False
        return bool(_SIGMA.search(self.text) and _SIGMA_SOURCE.search(self.text) or
                    _SEMGREP.search(self.text) and _SEMGREP_PATTERN.search(self.text))

    @cached_property
    def descriptive(self) -> list[bool]:
        """Lines inside a section or example that describes patterns rather than asks for them."""
        if self.lang != "markdown":
            return [False] * self.line_count
        return _descriptive_lines(self.text.split("\n"), self.contexts)

    def context(self, line: int) -> str:
        return self.contexts[line - 1] if 0 < line <= len(self.contexts) else "text"

    def is_descriptive(self, line: int) -> bool:
        if self.lang != "markdown":
            return False
        return self.descriptive[line - 1] if 0 < line <= len(self.descriptive) else False


def _replay(seen: list[re.Match[str]], source: Iterator[re.Match[str]]
            ) -> Iterator[re.Match[str]]:
    """The matches drawn so far, then more from the shared source (recording them)."""
    i = 0
    while True:
        if i == len(seen):
            match = next(source, None)
            if match is None:
                return
            seen.append(match)
        yield seen[i]
        i += 1


_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+-]*)")
# Markdown's comment idiom: a link reference definition no text uses renders as nothing
# (`[//]: # (hidden text)`, `[comment]: <> "hidden text"`); group 1 is the hidden text.
MD_COMMENT = re.compile(r"^ {0,3}\[(?://|#|comment|_|-+)\]:\s*(?:#|<>)\s*"
                        r"(?:\((.*)\)|\"(.*)\"|'(.*)')\s*$", re.I)


def _markdown_contexts(text: str, frontmatter_end: int) -> list[str]:
    contexts = []
    fence: str | None = None
    lang = ""
    in_comment = False
    for i, line in enumerate(text.split("\n"), start=1):
        if i <= frontmatter_end:
            contexts.append("frontmatter")
            continue
        match = _FENCE.match(line)
        if fence is None and match and not in_comment:
            fence, lang = match.group(1), (match.group(2) or "text").lower()
            contexts.append(f"fence:{lang}")
            continue
        if fence is not None:
            contexts.append(f"fence:{lang}")
            if line.strip().startswith(fence[0] * len(fence)) and line.strip(fence[0] + " ") == "":
                fence = None
            continue
        if in_comment or "<!--" in line or line.startswith("[") and MD_COMMENT.match(line):
            contexts.append("html-comment")
            opened = line.rfind("<!--")
            closed = line.rfind("-->")
            in_comment = (in_comment and closed == -1) or (opened != -1 and closed < opened)
            continue
        contexts.append("prose")
    return contexts


def _descriptive_lines(lines: list[str], contexts: list[str]) -> list[bool]:
    out = []
    heading = False  # the current section (or one enclosing it) describes patterns
    sections: list[tuple[int, bool]] = []  # (level, descriptive) of the enclosing headings
    lead = False  # the current paragraph introduces examples ("such as", "red flag")
    previous_prose = False
    for line, ctx in zip(lines, contexts, strict=False):
        stripped = line.strip()
        if ctx == "prose" and stripped.startswith("#"):
            level = len(stripped) - len(stripped.lstrip("#"))
            while sections and sections[-1][0] >= level:
                sections.pop()
            sections.append((level, bool(DESCRIPTIVE_HEADING.search(stripped))))
            heading, lead = any(d for _, d in sections), False
        elif ctx == "prose" and stripped:
            match = bool(DESCRIPTIVE_LEAD.search(stripped))
            lead = (lead or match) if previous_prose else match
        previous_prose = ctx == "prose" and bool(stripped)
        if ctx == "prose" or ctx.startswith("fence:"):
            out.append(heading or lead)
        else:
            out.append(heading)
    return out


_SIGMA = re.compile(r"(?m)^detection:[ \t]*$")
_SIGMA_SOURCE = re.compile(r"(?m)^logsource:[ \t]*$")
_SEMGREP = re.compile(r"(?m)^rules:[ \t]*$")
_SEMGREP_PATTERN = re.compile(r"(?m)^[ \t]+-?[ \t]*pattern(?:s|-either|-regex|-inside)?:")


def _generic_comment(stripped: str) -> bool:
    """A comment line of Go, Rust, Java, C (// and /* */) or Ruby, Perl (#)."""
    return stripped.startswith(("//", "/*", "* ", "*/")) or \
        stripped.startswith("#") and not stripped.startswith(("#!", "#include", "#["))


def _code_contexts(text: str, lang: str) -> list[str]:
    contexts = []
    in_block = False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if lang == "js":
            if in_block:
                contexts.append("comment")
                in_block = "*/" not in stripped
                continue
            if stripped.startswith("/*"):
                contexts.append("comment")
                in_block = "*/" not in stripped[2:]
                continue
            contexts.append("comment" if stripped.startswith("//") else "code")
        elif lang == "powershell":
            contexts.append("comment" if stripped.startswith("#") else "code")
        elif lang == "code":
            contexts.append("comment" if _generic_comment(stripped) else "code")
        else:
            is_comment = stripped.startswith("#") and not stripped.startswith("#!")
            contexts.append("comment" if is_comment else "code")
    return contexts


_REGEX_CALL = re.compile(r"\bre\.(?:compile|search|match|fullmatch|findall|finditer|sub)\s*\(|"
                         r"\bnew\s+RegExp\s*\(|\bRegExp\s*\(")


def in_pattern_literal(line: str, col: int) -> bool:
    """Whether column col of a code line sits inside a detector's regex literal
    (`re.compile(r"xmrig|stratum")`), which describes a pattern rather than using it."""
    call = _REGEX_CALL.search(line)
    if call is None or call.end() > col:
        return False
    quote = max(line.rfind('"', 0, col), line.rfind("'", 0, col))
    return quote >= call.end() - 1


def in_quotes(line: str, start: int, end: int) -> bool:
    """Whether [start, end) of a line sits inside `inline code` or a quotation."""
    for opener, closer in (("`", "`"), ('"', '"'), ("\u201c", "\u201d"), ("'", "'")):
        left = line.rfind(opener, 0, start)
        if left == -1:
            continue
        right = line.find(closer, end)
        if right != -1 and (opener != "'" or line[left - 1:left].isspace() or left == 0):
            return True
    return False
