"""SUP-04: a skill's manifest and instructions say what the skill really does.

Two kinds of dishonesty: text the user does not see but the model reads (HTML comments,
invisible Unicode, "do not tell the user", fake prerequisites), and capabilities the code
uses that the manifest does not declare (environment variables, binaries, network).
A skill fails SUP-04 on any finding rated medium or above.
"""

from __future__ import annotations

import json
import posixpath
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace

from aiaudit import astlock
from aiaudit.supply_chain import homoglyph, prose, rules
from aiaudit.supply_chain.findings import Finding, excerpt
from aiaudit.supply_chain.frontmatter import Manifest
from aiaudit.supply_chain.model import Skill
from aiaudit.supply_chain.review import own_dotenv, sort_findings, text_files
from aiaudit.supply_chain.textctx import MD_COMMENT, TextFile, in_pattern_literal

FAIL_AT = "medium"

_BENIGN_COMMENT = re.compile(r"(?i)^\s*(markdownlint|prettier-ignore|toc|/?toc|end ?toc|"
                             r"(begin|end)\b[^>]{0,60}|vale |cspell|omit in toc|"
                             r"keep this line|more)\b")
# An HTML comment is an order to the model when it addresses the model or overrides its
# instructions, or when an imperative meets something private or a destination; labels of a
# fenced diagram ("N5 · Send reset email") and template hints ("MUST be fixed before merge")
# are neither.
_ADDRESSED = re.compile(
    r"(?i)\bignore\b|\bdisregard\b|\binstructions?\b|\bsystem (?:prompt|note)\b|"
    r"\b(?:ai|assistant|agent|model|llm|claude|gpt)\s*[:,]|"
    r"\b(?:for|to) the (?:assistant|agent|model|ai)\b|\byou (?:must|should|will|are to|need to)\b|"
    r"\b(?:silently|secretly|covertly)\b|"
    r"\bwithout (?:telling|informing|asking)\b|\b(?:do not|don't|never) (?:tell|mention|inform)\b")
_IMPERATIVE = re.compile(
    r"(?i)\b(?:send|read|run|execute|curl|fetch|upload|include|post|forward|copy|cat|append|"
    r"download|install|must|always|never|do not|don't)\b")
_PRIVATE_OR_AWAY = re.compile(
    r"(?i)\b(?:secrets?|tokens?|passwords?|api[ _-]?keys?|credentials?|cookies?|wallet|"
    r"private key|env(?:ironment)? var\w*)\b|\.env\b|\.ssh\b|\.aws\b|id_rsa|https?://|"
    r"\bwebhook\b|[\w.+-]+@[\w-]+\.\w")
_HIDDEN_MARKUP = re.compile(
    r"(?i)<(?:div|span|p|section)[^>]*(?:display\s*:\s*none|visibility\s*:\s*hidden|"
    r"font-size\s*:\s*0(?![.\d])|\shidden(?=[\s/>=])|opacity\s*:\s*0(?![.\d])|"
    r"(?<![-\w])color\s*:\s*(?:#fff(?:fff)?|white)\b)")
# White text is only invisible on the page's own (white) background.
_OWN_BACKGROUND = re.compile(r"(?i)background(?:-color)?\s*:\s*(?!\s*(?:#fff(?:fff)?|white|"
                             r"transparent|none)\b)[^;\"'>]+")
# Nothing but whitespace before the element's closing tag (a script fills it in, or never).
_EMPTY_ELEMENT = re.compile(r"\s*</(?:div|span|p|section)\s*>", re.I)
_PASSWORD_NEAR = re.compile(r"(?i)\bpass(?:word|phrase)\b\s*[:=]?\s*\S+")
_ARCHIVE_WORD = re.compile(r"(?i)\.(?:zip|7z|rar)\b|\barchive\b")
_RUN_WORD = re.compile(r"(?i)\b(?:paste|copy|run|execute|terminal|shell|launch|open)\b")
_DOWNLOAD_RUN = re.compile(r"(?i)\bdownload\b[^.\n]{0,80}\b(?:run|execute|open|install|launch)\b"
                           r"[^.\n]{0,60}\.(?:exe|dmg|pkg|msi|appimage|bin|sh|zip|7z)\b")
# Sites that serve snippets to copy (a tunnel or request catcher serves no snippet: `ssh -R0:...
# a.pinggy.io` opens a tunnel, which rules.py's suspicious-host already reports).
_PASTE_HOST = re.compile(r"(?i)(?:https?://)?(?:" + "|".join(rules.PASTE_HOSTS) + r")")

_METADATA = ("package.json", "package-lock.json", "_meta.json", "openclaw.plugin.json")
TAG_BLOCK = range(0xE0000, 0xE0080)
ZERO_WIDTH = {0x200B, 0x200C, 0x200E, 0x200F, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x180E,
              0xFEFF, 0x034F}
BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
_INVISIBLE = re.compile("[\U000E0000-\U000E007F\u200B-\u200F\u202A-\u202E\u2060-\u2064"
                        "\u2066-\u2069\u180E\uFEFF\u034F]")

STANDARD_ENV = {
    "HOME", "PATH", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "TMPDIR", "TMP", "TEMP", "LANG",
    "LANGUAGE", "TERM", "HOSTNAME", "IFS", "RANDOM", "SECONDS", "LINENO", "UID", "EUID", "PPID",
    "BASH_SOURCE", "BASH_VERSION", "OSTYPE", "EDITOR", "VISUAL", "PAGER", "DISPLAY", "TZ",
    "NODE_ENV", "DEBUG", "CI", "PYTHONPATH", "VIRTUAL_ENV", "NO_COLOR", "FORCE_COLOR", "COLUMNS",
    "LINES", "SHLVL", "PS1", "MAIL", "HISTFILE", "OPTARG", "OPTIND", "BASH_REMATCH", "PIPESTATUS",
    "FUNCNAME", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    # Windows' own (where a cross-platform script looks for a browser or a config dir)
    "ProgramFiles", "ProgramFiles(x86)", "ProgramW6432", "ProgramData", "LOCALAPPDATA",
    "APPDATA", "USERPROFILE", "SystemRoot", "SYSTEMROOT", "windir", "WINDIR", "COMSPEC",
    "HOMEDRIVE", "HOMEPATH", "USERNAME", "COMPUTERNAME", "PATHEXT",
    "REPLY",  # set by bash's own `read` without a name
}
_ENV_PREFIXES = ("XDG_", "LC_", "OPENCLAW_", "HERMES_", "CLAUDE_", "SKILL_", "npm_", "BASH_")
STANDARD_BINS = {
    "sh", "bash", "zsh", "python", "python3", "node", "npm", "npx", "git", "ls", "cat", "echo",
    "grep", "sed", "awk", "find", "curl", "wget", "tar", "gzip", "gunzip", "unzip", "zip", "mkdir",
    "rm", "cp", "mv", "chmod", "date", "env", "which", "test", "true", "false", "sort", "uniq",
    "head", "tail", "wc", "cut", "tr", "xargs", "tee", "touch", "printf", "sleep", "uname", "id",
    "whoami", "pwd", "basename", "dirname", "readlink", "realpath", "stat", "df", "du", "ps",
    "kill", "open", "xdg-open", "pip", "pip3", "uv", "deno", "bun", "cmd", "powershell", "pwsh",
}
_ENV_USE = {
    "python": re.compile(r"\bos\.environ\s*\[\s*['\"](\w+)['\"](?!\s*\]\s*=(?!=))|"  # not a write
                         r"\b(?:os\.environ|environ)\.get\s*\(\s*['\"](\w+)['\"]|\bos\.getenv\s*\(\s*['\"](\w+)['\"]"),
    "js": re.compile(r"\bprocess\.env\.([A-Za-z_]\w*)|\bprocess\.env\[\s*['\"](\w+)['\"]|"
                     r"\bDeno\.env\.get\(\s*['\"](\w+)['\"]"),
    "shell": re.compile(r"\$\{?([A-Z][A-Z0-9_]{2,})\b"),
    "powershell": re.compile(r"\$env:([A-Za-z_]\w*)"),
    # Go os.Getenv/LookupEnv, Rust env::var, Ruby ENV[...]/ENV.fetch, Java System.getenv,
    # C/PHP getenv, Perl $ENV{...}
    "code": re.compile(r"\b(?:os\.(?:Getenv|LookupEnv)|env::var(?:_os)?|System\.getenv|getenv)"
                       r"\s*\(\s*\"(\w+)\"|\bENV(?:\[\s*|\.fetch\(\s*)['\"](\w+)['\"]|"
                       r"\$ENV\{['\"]?(\w+)['\"]?\}"),
}
_ENV_ANCHORS = {"python": ("environ", "getenv"), "js": ("process.env", "deno.env"),
                "shell": ("$",), "powershell": ("$env:",),
                "code": ("getenv", "lookupenv", "env::var", "env[", "env.fetch", "$env{")}
_BIN_ANCHORS = {"python": ("subprocess", "os.system", "os.popen", "shutil.which"),
                "js": ("exec", "spawn"),
                "code": ("exec.command", "command::new", "system(", "open3", "spawn(",
                         "processbuilder", "getruntime")}
INDEXED_ANCHORS = ("pass", "download", *{a for v in _ENV_ANCHORS.values() for a in v},
                   *{a for v in _BIN_ANCHORS.values() for a in v}, "http")
_SHELL_ASSIGN = re.compile(r"(?m)(?:^|[\s;(])(?:export\s+|local\s+|declare\s+(?:-\w+\s+)?|"
                           r"readonly\s+)?([A-Z][A-Z0-9_]*)=|\bread\s+(?:-\w+\s+)*([A-Z][A-Z0-9_]*)|"
                           r"\bfor\s+([A-Z][A-Z0-9_]*)\s+in\b")
_BIN_USE = {
    "python": re.compile(r"\bsubprocess\.\w+\s*\(\s*\[?\s*['\"]([\w.+-]+)|\bos\.(?:system|popen)\s*"
                         r"\(\s*['\"]([\w.+-]+)|\bshutil\.which\s*\(\s*['\"]([\w.+-]+)"),
    "js": re.compile(r"\b(?:exec|execSync|spawn|spawnSync|execFile|execFileSync)\s*\(\s*['\"`]"
                     r"([\w.+-]+)"),
    # Go exec.Command, Rust Command::new, Ruby system/spawn/Open3, Java ProcessBuilder/exec
    "code": re.compile(r"\bexec\.Command(?:Context)?\s*\(\s*(?:\w+\s*,\s*)?\"([\w.+-]+)\"|"
                       r"\bCommand::new\s*\(\s*\"([\w.+-]+)\"|"
                       r"\b(?:system|spawn|Open3\.\w+)\s*\(?\s*['\"]([\w.+-]+)[\s'\"]|"
                       r"\bnew\s+ProcessBuilder\s*\(\s*\"([\w.+-]+)\"|"
                       r"\bgetRuntime\(\)\.exec\s*\(\s*\"([\w.+-]+)"),
}
# Literals every match holds: "pass" (_PASSWORD_NEAR), "download" (_DOWNLOAD_RUN), a host.
_PREREQ_ANCHORS = ("pass", "download", *rules.HOST_ANCHORS)
_PIPE_RULES = tuple(r for r in rules.LINE_RULES if r.name in ("download-exec", "decode-exec"))
_URL_HOST = re.compile(r"\bhttps?://([A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})")
# Regexes run on whole files (or on every line), prefiltered in one pass (anchors.py).
PREFILTERED = (_PASSWORD_NEAR, _PASTE_HOST,
               _DOWNLOAD_RUN, _HIDDEN_MARKUP, _SHELL_ASSIGN, _URL_HOST, *_ENV_USE.values(),
               *_BIN_USE.values())


def _comment_bodies(tf: TextFile) -> Iterator[tuple[re.Match[str], str]]:
    """HTML comments and Markdown's `[//]: # (...)` comments: text the page never shows."""
    for match in re.finditer(r"<!--(.*?)(?:-->|$)", tf.text, re.S):
        yield match, match.group(1)
    if "]:" in tf.text:
        for match in re.finditer(r"(?m)^ {0,3}\[.*$", tf.text):
            hidden = MD_COMMENT.match(match.group(0))
            if hidden:
                yield match, next(g for g in hidden.groups() if g is not None)


def _comment_findings(tf: TextFile) -> list[Finding]:
    out = []
    for match, hidden in _comment_bodies(tf):
        body = " ".join(hidden.split())
        if not body or _BENIGN_COMMENT.match(body) or len(body.split()) < 4:
            continue
        line = tf.line_of(match.start())
        if tf.context(tf.line_of(match.start())).startswith("fence:"):
            continue  # a fenced block shows the comment as text: nothing is hidden
        severity = "high" if _ADDRESSED.search(body) or (
            _IMPERATIVE.search(body) and _PRIVATE_OR_AWAY.search(body)) else "low"
        out.append(Finding("SUP-04", "html-comment-instruction", severity, tf.path, line,
                           excerpt(body), "html-comment", "hidden from the rendered page, "
                           "read by the model"))
    for match in _HIDDEN_MARKUP.finditer(tf.text) if tf.may_match(_HIDDEN_MARKUP) else ():
        line = tf.line_of(match.start())
        if tf.context(line).startswith("fence:"):
            continue  # a fenced block shows its markup as text: nothing is hidden
        tag = tf.text[match.start():tf.text.find(">", match.end()) % (len(tf.text) + 1)]
        if match.group(0).lower().rstrip().endswith(("white", "#fff", "#ffffff")) and \
                _OWN_BACKGROUND.search(tag):
            continue  # white text on its own coloured background is visible
        if _EMPTY_ELEMENT.match(tf.text, match.start() + len(tag) + 1):
            continue  # `<div class="cursor" hidden></div>`: a hidden empty element hides no text
        out.append(Finding("SUP-04", "hidden-markup", "high", tf.path, line,
                           excerpt(tf.line_text(line)), "markup", "text styled to be invisible"))
    return out


def _is_emoji_joiner(text: str, i: int) -> bool:
    """U+200D between two pictographs joins an emoji sequence; that is not hiding anything."""
    def pictograph(ch: str) -> bool:
        return ord(ch) >= 0x2190 and unicodedata.category(ch) in ("So", "Sk") or \
            0x1F000 <= ord(ch) <= 0x1FAFF
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    if before in ("\ufe0f",) and i > 1:
        before = text[i - 2]
    return bool(before and after) and pictograph(before) and pictograph(after)


BIDI_OVERRIDES = {0x202D, 0x202E}  # LRO/RLO reorder what is shown: the Trojan Source trick
# Scripts whose words need ZWNJ/ZWJ (Arabic, Hebrew, Syriac, Thaana, N'Ko, Indic, Sinhala,
# Myanmar, Khmer, Mongolian, Arabic presentation forms) and those written right to left.
_JOINING = ((0x0590, 0x08FF), (0x0900, 0x0DFF), (0x1000, 0x109F), (0x1780, 0x18AF),
            (0xA8E0, 0xA8FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFC))
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_FLAG_TAGS = re.compile("\U0001F3F4[\U000E0030-\U000E0039\U000E0061-\U000E007A]{2,8}"
                        "\U000E007F")


def _joins_script(text: str, i: int) -> bool:
    """Whether a joiner sits between or beside letters of a script that uses joiners."""
    def joining(ch: str) -> bool:
        return any(lo <= ord(ch) <= hi for lo, hi in _JOINING)
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    return bool(before and joining(before)) or bool(after and joining(after))


def _rtl_line(text: str, i: int) -> bool:
    start = text.rfind("\n", 0, i) + 1
    end = text.find("\n", i)
    return _RTL.search(text, start, len(text) if end == -1 else end) is not None


def _in_emoji_flag(text: str, i: int) -> bool:
    """Tag characters inside a subdivision flag (England: U+1F3F4 g b e n g U+E007F)."""
    start = text.rfind("\U0001F3F4", max(0, i - 9), i)
    return start != -1 and _FLAG_TAGS.match(text, start) is not None and \
        _FLAG_TAGS.match(text, start).end() > i


def invisible_unicode(tf: TextFile) -> list[Finding]:
    """Tag-block characters (decoded), zero-width and bidi controls, one finding per line."""
    out: list[Finding] = []
    text = tf.text
    if text.isascii():
        return out
    by_line: dict[int, dict[str, list[str]]] = {}
    for hit in _INVISIBLE.finditer(text):
        i, ch = hit.start(), hit.group(0)
        cp = ord(ch)
        kind = None
        if cp in TAG_BLOCK:
            kind = None if _in_emoji_flag(text, i) else "tag"
        elif cp in BIDI:
            kind = None if cp not in BIDI_OVERRIDES and _rtl_line(text, i) else "bidi"
        elif cp in (0x200C, 0x200D) and _joins_script(text, i):
            kind = None  # ZWNJ/ZWJ shape Arabic, Persian, Hebrew and Indic words
        elif cp in (0x200E, 0x200F) and _rtl_line(text, i):
            kind = None  # LRM/RLM order mixed right-to-left text
        elif cp in ZERO_WIDTH and not (cp == 0xFEFF and i == 0):
            kind = "zero-width"
        elif cp == 0x200D and not _is_emoji_joiner(text, i):
            kind = "zero-width"
        if kind:
            by_line.setdefault(tf.line_of(i), {}).setdefault(kind, []).append(ch)
    for line, kinds in sorted(by_line.items()):
        notes = []
        if "tag" in kinds:
            hidden = "".join(chr(ord(c) - 0xE0000) for c in kinds["tag"]
                             if 0x20 <= ord(c) - 0xE0000 < 0x7F)
            notes.append(f"Unicode tag characters decode to: {hidden!r}")
        if "bidi" in kinds:
            notes.append(f"{len(kinds['bidi'])} bidirectional control character(s)")
        if "zero-width" in kinds:
            notes.append(f"{len(kinds['zero-width'])} zero-width character(s)")
        visible = "".join(ch for ch in tf.line_text(line)
                          if ord(ch) not in TAG_BLOCK and ord(ch) not in ZERO_WIDTH | BIDI)
        severity = "critical" if "tag" in kinds else "high"
        if set(kinds) == {"zero-width"} and len(kinds["zero-width"]) < MIN_ZERO_WIDTH_RUN:
            severity = "low"  # a stray zero-width space from pasted web text hides nothing
        out.append(Finding("SUP-04", "invisible-unicode", severity, tf.path, line,
                           excerpt(visible), tf.context(line), "; ".join(notes)))
    return out


# Zero-width characters carry hidden text only in numbers (each hides a bit or a letter).
MIN_ZERO_WIDTH_RUN = 4


def _candidate_lines(tf: TextFile, lines: list[str], anchors: tuple[str, ...]) -> list[int]:
    """1-based lines that can match a pattern whose matches hold one of the anchors: ASCII
    lines holding one, and every non-ASCII line (Unicode case folding needs no literal)."""
    lowered = tf.lowered
    if len(lowered) != len(tf.text):
        return list(range(1, len(lines) + 1))
    found = {tf.line_of(at) for anchor in anchors for at in _occurrences(lowered, anchor)}
    if not tf.text.isascii():
        found.update(i for i, text in enumerate(lines, start=1) if not text.isascii())
    return sorted(found)


def _occurrences(text: str, literal: str) -> Iterator[int]:
    at = text.find(literal)
    while at != -1:
        yield at
        at = text.find(literal, at + 1)


def _fake_prerequisites(tf: TextFile) -> list[Finding]:
    cached = tf.__dict__.get("_fake_prerequisites")  # SUP-03 and SUP-04 both read them
    if cached is None:
        cached = tf.__dict__["_fake_prerequisites"] = _find_fake_prerequisites(tf)
    return list(cached)


def _find_fake_prerequisites(tf: TextFile) -> list[Finding]:
    out: list[Finding] = []
    scan_lines = tf.has_any(_PREREQ_ANCHORS) and any(
        tf.may_match(p) for p in (_PASSWORD_NEAR, _PASTE_HOST, _DOWNLOAD_RUN))
    lines = tf.text.split("\n") if scan_lines else []

    def near(line: int, pattern: re.Pattern[str], span: int) -> bool:
        lo, hi = max(0, line - 1 - span), min(len(lines), line + span)
        return any(pattern.search(lines[i]) for i in range(lo, hi))

    def add(line: int, note: str) -> None:
        if tf.is_descriptive(line) or tf.context(line) == "frontmatter":
            return
        out.append(Finding("SUP-04", "fake-prerequisite", "high", tf.path, line,
                           excerpt(tf.line_text(line)), tf.context(line), note))

    for i in _candidate_lines(tf, lines, _PREREQ_ANCHORS) if scan_lines else ():
        text = lines[i - 1]
        if _PASSWORD_NEAR.search(text) and near(i, _ARCHIVE_WORD, 4):
            add(i, "asks to download a password-protected archive (scanners cannot open it)")
        elif _PASTE_HOST.search(text) and near(i, _RUN_WORD, 3):
            add(i, "asks to copy a snippet from a paste site and run it")
        elif _DOWNLOAD_RUN.search(text):
            add(i, "asks to download and run a program")
    for rule in _PIPE_RULES:
        if not tf.may_match(rule.pattern) or not tf.has_any(rule.anchors):
            continue
        for match in tf.finditer(rule.pattern):  # whole text (no anchors: no windows)
            line = tf.line_of(match.start())
            if not rules.KNOWN_INSTALLERS.search(match.group(0)):
                add(line, "asks to pipe a download or a decoded blob into a shell")
    return out


def hidden_instructions(tf: TextFile) -> list[Finding]:
    """Findings about text meant for the model only (Markdown, manifests, tool descriptions)."""
    out = invisible_unicode(tf)
    if tf.lang != "markdown":
        return out
    if "<" in tf.text or "]:" in tf.text:
        out += _comment_findings(tf)
    out += _fake_prerequisites(tf)
    return out


def manifest_problems(manifest: Manifest) -> list[Finding]:
    out = [Finding("SUP-04", "manifest-invalid", "medium", "SKILL.md", 1, error, "frontmatter",
                   "the agent may load it differently from what reviewers read")
           for error in manifest.errors]
    # the Agent Skills rules bind SKILL.md; an OpenClaw plugin's openclaw.plugin.json needs
    # only its id (src/plugins/manifest.ts): a plugin without a description is no finding
    if not manifest.errors and manifest.syntax != "openclaw.plugin.json":
        for key, limit in (("name", 64), ("description", 1024)):
            value = manifest.fields.get(key)
            if not isinstance(value, str) or not value.strip():
                out.append(Finding("SUP-04", "manifest-incomplete", "medium", "SKILL.md", 1,
                                   f"no {key}", "frontmatter",
                                   f"the manifest must state its {key}"))
            elif len(value) > limit:
                out.append(Finding("SUP-04", "manifest-incomplete", "low", "SKILL.md", 1,
                                   f"{key} is {len(value)} characters", "frontmatter",
                                   f"Agent Skills allow at most {limit}"))
    return out


def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text) is not None


_LOCAL_URL = re.compile(r"\bhttps?://(?:localhost|127\.0\.0\.1|\[::1\])\b")


def _names_service(host: str, documented: str, described: str = "") -> bool:
    """Whether SKILL.md names the service behind `host`: its registrable domain, also as the
    end of another of its hosts (homepage platform.openai.com for api.openai.com), or its
    brand (`Imgflip`, `Know Your Meme`); never for raw IPs, tunnels or request catchers."""
    domain = _registrable(host)
    if re.search(rf"(?<![\w.-])(?:[\w-]+\.)*{re.escape(domain)}(?![\w-])", documented):
        return True
    brand = domain.split(".")[0]
    if _suspicious_host(host):
        return False
    if brand in _GENERIC_BRANDS:  # `GitHub` in a description, not any mention in the body
        return bool(described) and re.search(rf"(?i)\b{re.escape(brand)}\b", described) is not None
    squeezed = re.sub(r"[\s_-]+", "", documented.lower())
    if len(brand) >= 5 and brand in squeezed:
        return True
    stem = re.sub("(?:" + "|".join(_HOST_WORDS) + ")$", "", brand) if len(brand) > 6 else brand
    if len(stem) >= 4 and stem not in _GENERIC_BRANDS and _word_in(stem, documented):
        return True  # `ICIJ` for icij.org, `GDELT` for gdeltproject.org, `Google` for googleapis
    labels = domain.split(".")
    if all(len(w) >= 3 and w not in _HOST_WORDS and _word_in(w, documented) for w in labels):
        return True  # `Google DNS` for dns.google
    # the distinctive word of a hyphenated name (router.project-osrm.org: "OSRM")
    words = [w for w in brand.split("-") if len(w) >= 4 and w not in _HOST_WORDS]
    return len(words) == 1 and len(brand.split("-")) > 1 and _word_in(words[0], documented)


def _word_in(word: str, text: str) -> bool:
    return re.search(rf"(?i)(?<![\w.-]){re.escape(word)}(?![\w-])", text) is not None


# Words of a hyphenated domain that name no service.
_HOST_WORDS = frozenset({"project", "router", "data", "open", "online", "official", "cloud",
                         "service", "services", "server", "static", "files", "cdn", "app",
                         "apps", "site", "web", "portal", "global", "public", "secure", "my",
                         "get", "the", "api", "apis", "docs", "status", "labs", "tools", "team",
                         "com", "org", "net", "io", "dev", "co", "www"})


# Domain labels that are ordinary words of a skill's prose, not the name of a service.
_GENERIC_BRANDS = frozenset({"webhook", "github", "pastebin", "discord", "telegram", "ngrok",
                             "requestbin", "pipedream", "transfer", "upload", "files", "storage",
                             "example", "localhost", "server", "cloud", "share", "paste"})


def _registrable(host: str) -> str:
    parts = host.lower().split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else host.lower()


def declared_vs_used(skill: Skill, files: Iterable[TextFile]) -> list[Finding]:
    """Environment variables, binaries and hosts the code uses that the manifest omits
    (computed once per skill: the static review asks for it too)."""
    cached = skill.__dict__.get("_declared_vs_used")
    if cached is None:
        cached = skill.__dict__["_declared_vs_used"] = _declared_vs_used(skill, files)
    return cached


_SECRET_ENV = re.compile(r"(?i)(?:key|token|secret|passw(?:or)?d|credential|session|cookie)")


def undeclared_secret_reads(skill: Skill, files: Iterable[TextFile]) -> list[Finding]:
    """undeclared-env findings whose variable holds a secret (`*_API_KEY`, `*_TOKEN`)."""
    return [f for f in declared_vs_used(skill, files) if f.rule == "undeclared-env"
            and _SECRET_ENV.search(f.note.split("$", 1)[-1].split(",", 1)[0])]


Usage = tuple[list[Finding], list[tuple[TextFile, int]], dict[str, tuple[TextFile, int]]]


def _declared_vs_used(skill: Skill, files: Iterable[TextFile]) -> list[Finding]:
    out, uses_network, hosts = _usage(skill, files)
    skill.__dict__["_usage"] = (out, uses_network, hosts)
    return scaffolding_low(out + _network_findings(skill, uses_network, hosts))


# Files a skill writes out for the user's own project (fastmcp's templates/api_wrapper.py,
# a paper template's Makefile): their env vars, programs and hosts are the generated
# project's, not what the skill itself uses. The static review (SUP-03) still reads them.
_SCAFFOLD = re.compile(r"(?:^|/)(?:templates?|scaffolds?|boilerplates?|skeletons?)/")


def scaffolding_low(findings: list[Finding]) -> list[Finding]:
    """Declared-vs-used findings in a template directory, rated low (shown, not failing)."""
    return [replace(f, severity="low", note=f"{f.note}; in a template the skill writes out, "
                    "not code it runs") if _SCAFFOLD.search(f.file) and f.severity == "medium"
            else f for f in findings]


def _usage(skill: Skill, files: Iterable[TextFile], declared_bins: set[str] | None = None
           ) -> Usage:
    """Per file: undeclared env and binaries; where the code uses the network; hosts named."""
    manifest = skill.manifest
    skill_md = skill.text_of("SKILL.md") or ""
    declared_env = manifest.declared_env()
    declared_bins = manifest.declared_bins() if declared_bins is None else declared_bins
    out: list[Finding] = []
    uses_network: list[tuple[TextFile, int]] = []
    hosts: dict[str, tuple[TextFile, int]] = {}
    for tf in files:
        if tf.lang not in rules.EXECUTABLE_LANGS and tf.lang != "config":
            continue
        if any(p.startswith(".") for p in tf.path.split("/")) or tf.path.endswith(_METADATA):
            continue  # provenance and package metadata name hosts the code never calls
        if tf.lang == "text" and not tf.text.startswith("#!"):
            continue  # a file of no known language (.tex, .bib, .sty) calls nobody
        seen_env: set[str] = set()
        env_rx = _ENV_USE.get(tf.lang)
        assigned = {g for m in _SHELL_ASSIGN.finditer(tf.text) for g in m.groups() if g} \
            if tf.lang == "shell" and tf.may_match(_SHELL_ASSIGN) else set()
        if tf.lang == "shell" and is_makefile(tf.path):
            assigned |= set(_MAKE_ASSIGN.findall(tf.text))  # `YEAR := 2025`: a make variable
        for match in tf.finditer(env_rx, _ENV_ANCHORS[tf.lang]) if env_rx else ():
            name = next(g for g in match.groups() if g)
            line = tf.line_of(match.start())
            if (name in seen_env or name in STANDARD_ENV or name.startswith(_ENV_PREFIXES)
                    or name in assigned or tf.context(line) == "comment"):
                continue
            seen_env.add(name)
            if name not in declared_env and not _mentioned(name, skill_md):
                out.append(Finding("SUP-04", "undeclared-env", "medium", tf.path, line,
                                   excerpt(tf.line_text(line)), tf.context(line),
                                   f"reads ${name}, which the manifest does not declare"))
        bin_rx = _BIN_USE.get(tf.lang)
        for match in tf.finditer(bin_rx, _BIN_ANCHORS[tf.lang]) if bin_rx else ():
            name = next(g for g in match.groups() if g)
            line = tf.line_of(match.start())
            if standard_bin(name) or name in declared_bins or name.startswith(".") \
                    or named_bin(name, skill_md) or tf.context(line) == "comment":
                continue
            declared_bins.add(name)  # report each binary once
            out.append(Finding("SUP-04", "undeclared-binary", "medium", tf.path, line,
                               excerpt(tf.line_text(line)), tf.context(line),
                               f"runs `{name}`, which requires.bins does not declare"))
        remote = rules.SIGNALS["git-remote-add"]
        for match in tf.finditer(remote.pattern, remote.anchors) if tf.lang != "config" else ():
            uses_network.append((tf, tf.line_of(match.start())))
            break
        network = rules.SIGNALS["network"]
        for match in tf.finditer(network.pattern, network.anchors) if tf.lang != "config" \
                else ():  # a config file names hosts; only code sends
            line = tf.line_of(match.start())
            col = match.start() - (tf.text.rfind("\n", 0, match.start()) + 1)
            text = tf.line_text(line)
            if tf.context(line) != "comment" and not in_pattern_literal(text, col) and \
                    not _quoted_word(text, col, col + len(match.group(0))):
                uses_network.append((tf, line))
                break
        for match in tf.finditer(_URL_HOST, ("http",)):
            host = match.group(1).lower()
            line = tf.line_of(match.start())
            if host in ("localhost", "127.0.0.1", "0.0.0.0") or tf.context(line) == "comment" \
                    or is_namespace_uri(host, tf.line_text(line)) or \
                    in_namespace_table(tf, line) or not_a_destination(
                        tf.text, match.start(), match.end(), host) or \
                    tf.lang == "python" and line in tf.docstring_lines:
                continue
            hosts.setdefault(host, (tf, line))
        for host, line in homoglyph.hosts_in(tf):  # `api.оpenai.com`: named nowhere as written
            if tf.context(line) != "comment":
                hosts.setdefault(host.lower(), (tf, line))
    return out, uses_network, hosts


def _quoted_word(line: str, start: int, end: int) -> bool:
    """A library's name inside a string (`'axios'` in a list of package names, "use axios
    or got instead" in a message): a name, not a client in use."""
    if not re.fullmatch(r"[\w.]+", line[start:end]):
        return False
    before = line[:start]
    return any(before.count(q) % 2 == 1 for q in "'\"`")


def _network_findings(skill: Skill, uses_network: list[tuple[TextFile, int]],
                      hosts: dict[str, tuple[TextFile, int]]) -> list[Finding]:
    manifest = skill.manifest
    homepage = str(manifest.fields.get("homepage") or manifest.openclaw().get("homepage") or "")
    documented = (skill.text_of("SKILL.md") or "") + "\n" + homepage
    out: list[Finding] = []
    if not uses_network:  # no client seen (a string table hides it): a raw public IP or a
        # tunnel that code names is still where it goes
        for host, (tf, line) in sorted(hosts.items()):
            if tf.lang in ("python", "js", "shell", "powershell") and _suspicious_host(host) \
                    and not _lan_ip(host) and not _mentioned(host, documented):
                out.append(Finding("SUP-04", "undeclared-network", "medium", tf.path, line,
                                   excerpt(tf.line_text(line)), tf.context(line),
                                   f"names {host} (a raw IP, tunnel or request catcher) that "
                                   "the documentation never names"))
        return out
    if manifest.declares_network():
        for host, (tf, line) in sorted(hosts.items()):
            if _suspicious_host(host) and not _mentioned(host, documented):
                out.append(Finding("SUP-04", "undeclared-network", "medium", tf.path, line,
                                   excerpt(tf.line_text(line)), tf.context(line),
                                   f"contacts {host} (a raw IP, tunnel or request catcher) "
                                   "that the documentation never names"))
        return out
    described = f"{manifest.description} {manifest.fields.get('name') or ''}"
    undeclared = {h: where for h, where in hosts.items()
                  if not _mentioned(h, documented) and not _names_service(h, documented,
                                                                          described)}
    if undeclared:
        for host, (tf, line) in sorted(undeclared.items()):
            out.append(Finding("SUP-04", "undeclared-network", "medium", tf.path, line,
                               excerpt(tf.line_text(line)), tf.context(line),
                               f"contacts {host}, which neither the manifest nor SKILL.md "
                               "names"))
    elif not hosts and not (manifest.declared_bins() & NETWORK_BINS or _URL_HOST.search(documented)
                            or _BARE_HOST.search(documented) or _LOCAL_URL.search(documented)
                            or _SAYS_NETWORK.search(documented)):
        tf, line = uses_network[0]
        out.append(Finding("SUP-04", "undeclared-network", "medium", tf.path, line,
                           excerpt(tf.line_text(line)), tf.context(line),
                           "uses the network; the manifest declares no network use"))
    return out


# Hosts whose URLs name XML namespaces and schemas (identifiers, never fetched).
NAMESPACE_HOSTS = ("www.w3.org", "w3.org", "schemas.xmlsoap.org", "schemas.openxmlformats.org",
                   "schemas.microsoft.com", "purl.org", "xmlns.com", "json-schema.org",
                   "ns.adobe.com", "www.opengis.net", "docs.oasis-open.org", "java.sun.com",
                   "xmlns.jcp.org", "maven.apache.org", "www.springframework.org",
                   "schemas.android.com", "www.apple.com", "ogp.me", "schema.org",
                   "xml.org", "www.xml.org", "relaxng.org", "www.omg.org")
_NAMESPACE_CONTEXT = re.compile(r"(?i)\bxmlns\b|schemaLocation|\$schema|\bnamespace|"
                                r"@context|<!DOCTYPE|\bDTD\b|register_namespace|\bNS\s*=|"
                                r"\bns\d?\s*[=:]")


# Identifiers written as URLs: OAuth scopes (`https://www.googleapis.com/auth/gmail.readonly`).
_IDENTIFIER_URL = re.compile(r"(?i)https?://www\.googleapis\.com/auth/")


def not_a_destination(text: str, start: int, end: int, host: str) -> bool:
    """A URL that names something rather than being contacted: an ElementTree
    `{namespace}tag`, an OAuth scope, the contact URL a crawler's User-Agent carries
    (`(+https://github.com/org/bot; ...)`). Reserved names (example.com, .test) are not
    among them: fixtures and real attacks alike use them for the attacker's host."""
    before = text[max(0, start - 2):start]
    return before.endswith(("{", "(+")) or _IDENTIFIER_URL.match(text, start) is not None


def is_namespace_uri(host: str, line: str) -> bool:
    """An XML namespace, DTD or schema identifier: a name, not a network destination."""
    return host in NAMESPACE_HOSTS or _NAMESPACE_CONTEXT.search(line) is not None or \
        any(uri in line for uri in NAMESPACE_URIS)


# Feed and sitemap extension namespaces on hosts that also serve pages (Media RSS on
# search.yahoo.com, iTunes podcast tags, Google's sitemap schemas).
NAMESPACE_URIS = ("search.yahoo.com/mrss", "www.itunes.com/dtds/", "www.google.com/schemas/",
                  "www.sitemaps.org/schemas/", "wellformedweb.org/CommentAPI",
                  "backend.userland.com/creativeCommonsRssModule", "webns.net/mvcb",
                  "www.georss.org/georss", "podcastindex.org/namespace")
# A table of namespaces (`NS = {`, `nsmap = dict(`, `namespaces: {`) whose entries follow,
# one per line: every URL in it is a namespace.
_NS_TABLE = re.compile(r"(?i)\b(?:ns|nsmap|namespaces?|xmlns|ns_?map)\b['\"]?\s*[=:]\s*"
                       r"(?:\{|dict\(|\[)")
_TABLE_ENTRY = re.compile(r"^\s*(?:['\"]?[\w:-]+['\"]?\s*[:=]\s*)?['\"][^'\"]*['\"],?\s*"
                          r"(?:#.*|//.*)?$")


def in_namespace_table(tf: TextFile, line: int) -> bool:
    """Whether a line is an entry of a namespace table opened a few lines above."""
    for above in range(line - 1, max(0, line - 20), -1):
        text = tf.line_text(above)
        if _NS_TABLE.search(text):
            return True
        if not _TABLE_ENTRY.match(text):
            return False
    return False


_LAN = ("10.", "192.168.", "169.254.", "127.") + tuple(f"172.{n}." for n in range(16, 32)) + \
    tuple(f"100.{n}." for n in range(64, 128))


def _lan_ip(host: str) -> bool:
    """A private, link-local, loopback or CGNAT address: a device on the user's network."""
    return host.startswith(_LAN)


def _suspicious_host(host: str) -> bool:
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", host):
        return host not in ("127.0.0.1", "0.0.0.0")
    return any(re.fullmatch(p, host, re.I) for p in rules.PASTE_TUNNEL_HOSTS) or \
        host.startswith(("discord.com", "discordapp.com", "api.telegram.org", "hooks.slack.com"))


_SHELL_WORDS = {
    "if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until", "case",
    "esac", "function", "return", "local", "export", "set", "unset", "shift", "source", ".",
    "cd", "read", "exit", "trap", "eval", "exec", "wait", "declare", "readonly", "let",
    "break", "continue", "select", "time", "nohup", "command", "builtin", "type", "hash",
    "alias", "unalias", "umask", "ulimit", "pushd", "popd", "dirs", "getopts", "mapfile",
    "printf", "echo", "test", "[", "[[", "]]", "{", "}", "!", "sudo", "env", "xargs", "timeout",
    "shopt", "disown", "jobs", "fg", "bg", "caller", "enable", "logout",
}
_COREUTILS = {
    "ln", "chown", "chgrp", "seq", "yes", "base64", "md5sum", "sha1sum", "sha256sum",
    "sha512sum", "shasum", "diff", "patch", "less", "more", "file", "mktemp", "column", "paste",
    "join", "comm", "fold", "nl", "od", "rmdir", "install", "sync", "nproc", "hostname",
    "getent", "tput", "clear", "expr", "bc", "split", "csplit", "tac", "rev", "fmt", "pr",
    "cmp", "truncate", "shuf", "iconv", "locale", "logger", "pgrep", "pkill", "lsof", "free",
    "uptime", "groups", "tty", "stty", "printenv", "envsubst", "gettext", "mkfifo", "dd",
    "awk", "gawk", "mawk", "nawk", "egrep", "fgrep", "zcat", "bzip2", "xz", "unxz",
    "python3.11", "python3.12", "pip3", "node", "corepack", "pnpm", "yarn", "make", "go",
    "cargo", "rustc", "java", "ruby", "perl", "php", "osascript", "say", "pbcopy", "pbpaste",
    # cmd.exe's own commands and the programs every Windows has (a .bat/.cmd script's `del`)
    "del", "erase", "copy", "move", "ren", "rename", "start", "call", "setlocal", "endlocal",
    "goto", "rd", "md", "cls", "ver", "vol", "title", "pause", "rem", "choice", "where",
    "findstr", "xcopy", "robocopy", "attrib", "chcp", "tasklist", "taskkill", "ipconfig", "color",
    "winget",
}
# Programs documented by their product's name ("LibreOffice is required": soffice).
_BIN_PRODUCTS = {"soffice": ("LibreOffice", "OpenOffice"), "libreoffice": ("LibreOffice",),
                 "magick": ("ImageMagick",), "convert": ("ImageMagick",),
                 "pdftotext": ("poppler",), "pdftoppm": ("poppler",), "gs": ("Ghostscript",),
                 "chromium": ("Chrome", "Chromium"), "google-chrome": ("Chrome",)}


def standard_bin(name: str) -> bool:
    """A program every system has: POSIX tools, coreutils and their GNU names on macOS
    (`gtimeout`, `gsed`, `gdate` from Homebrew's coreutils)."""
    plain = name[1:] if name.startswith("g") and len(name) > 3 else name
    return any(n in STANDARD_BINS or n in _COREUTILS or n == "timeout" for n in (name, plain))


def named_bin(name: str, skill_md: str) -> bool:
    """SKILL.md names the program, or the product that installs it."""
    return _mentioned(name, skill_md) or any(_word_in(p, skill_md)
                                             for p in _BIN_PRODUCTS.get(name, ()))


_SHELL_SPLIT = re.compile(r"\|\|?|&&|;|\$\(|`|\bthen\b|\bdo\b|\belse\b")
_SHELL_CMD = re.compile(r"\s*(?:(?:sudo|nohup|exec|time|command|env|timeout\s+\S+)\s+)*"
                        r"(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*([A-Za-z][\w.+-]*|/[\w./+-]+)"
                        r"(?=\s|$)")


_HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def shell_code(text: str) -> str:
    """The script with what the shell never runs as a command blanked out (line numbers
    kept): quoted strings (a `node -e '...'` program, `"socket path '$p'"`), comments and
    here-document bodies. Command substitutions inside double quotes are kept."""
    chars, i, n = list(text), 0, len(text)
    pending: list[str] = []  # here-document terminators opened on the current line
    while i < n:
        c = text[i]
        if c == "\n" and pending:
            end = i + 1
            for word in pending:
                found = re.compile(rf"(?m)^[ \t]*{re.escape(word)}[ \t]*$").search(text, end)
                end = found.end() if found else n
            _blank(chars, i + 1, end)
            pending, i = [], end
            continue
        if c == "\\":
            i += 2
            continue
        if c == "#" and (i == 0 or text[i - 1] in " \t\n;|&("):
            end = text.find("\n", i)
            end = n if end < 0 else end
            _blank(chars, i, end)
            i = end
            continue
        if c == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
            marker = _HEREDOC.match(text, i)
            if marker:
                pending.append(marker.group(2))
                _blank(chars, i, marker.end())
                i = marker.end()
                continue
        if c == "'":
            end = text.find("'", i + 1)
            end = n if end < 0 else end + 1
            _blank(chars, i, end)
            i = end
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                if text.startswith("$(", j):  # a command substitution runs: read it as code
                    end = _subst_end(text, j)
                    chars[j + 2:end - 1] = shell_code(text[j + 2:end - 1])
                    j = end
                    continue
                if text[j] == "\\" and j + 1 < n and chars[j + 1] != "\n":
                    chars[j + 1] = " "
                if chars[j] != "\n":
                    chars[j] = " "
                j += 2 if text[j] == "\\" else 1
            chars[i] = " "
            if j < n:
                chars[j] = " "
            i = j + 1
            continue
        i += 1
    return "".join(chars)


def _subst_end(text: str, i: int) -> int:
    """Index after the `)` closing the command substitution `$(` at i: quotes inside it,
    nested substitutions and parentheses (`print(u.hostname)`) are skipped as the shell
    skips them (a `)` inside a quoted program closed the substitution before)."""
    j, depth, n = i + 2, 1, len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c in "'`":
            k = text.find(c, j + 1)
            j = n if k < 0 else k + 1
            continue
        if c == '"':
            j = _dquote_end(text, j)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return n


def _dquote_end(text: str, i: int) -> int:
    """Index after the `"` closing the double-quoted string opened at i."""
    j, n = i + 1, len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
        elif text.startswith("$(", j):
            j = _subst_end(text, j)
        elif c == '"':
            return j + 1
        else:
            j += 1
    return n


_CASE_OPEN = re.compile(r"(?:^|[;&|(\s])case\s.*\sin(?=\s|$)")
_ESAC = re.compile(r"(?:^|[;&|\s])esac\b")
_CASE_PATTERN = re.compile(r"^\(?[^\s()|;&<>`]*(?:\s*\|\s*[^\s()|;&<>`]*)*\s*\)")
_MAKE_ASSIGN = re.compile(r"(?m)^(?:override\s+|export\s+)?([A-Za-z_][\w.-]*)\s*(?:::|[:?+!])?=")


def is_makefile(path: str) -> bool:
    """A make file: recipes run commands, `NAME := value` sets make variables."""
    base = path.rsplit("/", 1)[-1]
    return base in ("Makefile", "makefile", "GNUmakefile") or base.endswith(".mk")


def shell_commands(tf: TextFile) -> Iterator[tuple[str, int]]:
    """(program, line) of every command a shell script runs (first word of each pipeline
    stage, after sudo/env assignments); functions the script defines are not programs, and
    quoted text, comments and here-documents are not commands (shell_code)."""
    defined = set(re.findall(r"(?m)^[ \t]*(?:function[ \t]+)?([\w-]+)[ \t]*\(\s*\)", tf.text))
    defined |= set(re.findall(r"(?m)^[ \t]*function[ \t]+([\w-]+)", tf.text))
    heredoc: str | None = None
    make, cases = is_makefile(tf.path), 0
    originals = tf.text.split("\n")
    for number, line in enumerate(shell_code(tf.text).split("\n"), start=1):
        start = 0
        if make:  # only a rule's recipe lines (tab-led) run; the rest assigns make variables
            if not line.startswith("\t"):
                continue
            start = len(line) - len(line.lstrip("\t@-+ "))
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        marker = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if marker:
            heredoc = marker.group(1)
        start += len(line[start:]) - len(line[start:].lstrip())
        if cases:  # `html|htm) echo ...`: the patterns of a case branch are words, not commands
            pattern = _CASE_PATTERN.match(line[start:])
            start += pattern.end() if pattern else 0
        cases += len(_CASE_OPEN.findall(line)) - len(_ESAC.findall(line))
        end = len(line.rstrip())
        if start >= end or line.lstrip()[:1] == "#":
            continue
        orig = originals[number - 1] if number <= len(originals) else ""
        pos = start
        for sep in [*_SHELL_SPLIT.finditer(line, start, end), None]:
            stop = sep.start() if sep else end
            match = _SHELL_CMD.match(line, pos, stop)
            lead = orig[pos:match.start(1)].lstrip()[:1] if match else ""
            pos = sep.end() if sep else end
            if match is None or lead in ("\"", "'", "`", "$"):
                continue  # `"${cmd[@]}" list-sessions`: the program is a quoted expansion
            name = match.group(1).rsplit("/", 1)[-1]
            if name and name not in defined and not name.endswith(")"):
                yield name, number


_OUTSIDE_PATH = re.compile(
    r"~/[\w./-]+|\$\{?HOME\}?/?[\w./-]*|expanduser\s*\(|\bos\.homedir\s*\(|\bhomedir\s*\(|"
    r"\bPath\.home\s*\(|/etc/[\w.-]+|\bauthorized_keys\b|\.(?:bashrc|zshrc|profile|"
    r"bash_profile|zprofile|zshenv)\b|\b(?:SOUL|MEMORY|AGENTS|HEARTBEAT|IDENTITY|USER|TOOLS)"
    r"\.md\b|\.config/(?:autostart|systemd)|\.git/hooks|\bcrontab\b|/Library/LaunchAgents")
_OUTSIDE_ANCHORS = ("~/", "home", "expanduser", "/etc/", "authorized_keys", "bashrc", "zshrc",
                    "profile", "zshenv", ".md", "autostart", "systemd", "hooks", "crontab",
                    "launchagents")  # every _OUTSIDE_PATH match holds one (lower-cased)
_PATH_WORD = re.compile(r"[~\w/-]*\.[\w-]+(?:/[\w.-]+)*|[\w-]+\.md\b")


def undeclared_effects(skill: Skill, files: Iterable[TextFile]) -> list[Finding]:
    """What code does that the manifest and SKILL.md never mention: programs a shell script
    runs, private files it reads, and writes outside the skill's own directory."""
    skill_md = skill.text_of("SKILL.md") or ""
    lowered_md = skill_md.lower()
    declared_bins = skill.manifest.declared_bins()
    out: list[Finding] = []
    reported: set[str] = set()
    for tf in files:
        if tf.lang not in rules.EXECUTABLE_LANGS or tf.lang == "text" and not \
                tf.text.startswith("#!"):
            continue
        if tf.lang == "shell":
            for name, line in shell_commands(tf):
                if standard_bin(name) or name in _SHELL_WORDS or name in declared_bins or \
                        name in reported or named_bin(name, skill_md):
                    continue
                reported.add(name)
                out.append(Finding("SUP-04", "undeclared-binary", "medium", tf.path, line,
                                   excerpt(tf.line_text(line)), "code",
                                   f"runs `{name}`, which requires.bins does not declare"))
        creds = rules.SIGNALS["credential-path"]
        for match in tf.finditer(creds.pattern, creds.anchors):
            if tf.is_comment_at(match.start()) or in_pattern_literal(
                    tf.text_at(match.start()), match.start() - tf.text.rfind(
                        "\n", 0, match.start()) - 1):
                continue
            word = _HOME_PREFIX.sub("", match.group(0).strip(" /'\"`(~").lower())
            if word and word in lowered_md or own_dotenv(match.group(0),
                                                          tf.text_at(match.start())):
                continue
            line = tf.line_of(match.start())
            out.append(Finding("SUP-04", "undeclared-file-access", "medium", tf.path, line,
                               excerpt(tf.line_text(line)), "code",
                               f"reads {match.group(0).strip()}, which SKILL.md never mentions"))
            break
        own_data = False
        for line, target, expr in _outside_writes(tf):
            text = tf.line_text(line)
            words = [w.lower() for w in _PATH_WORD.findall(text + " " + target) if len(w) >= 4]
            parts = [p.strip("/") for p in _QUOTED_PART.findall(expr)]  # Path.home() / "a" / "b"
            if len(parts) >= 2:
                words.append("/".join(parts).lower())
            if any(w in lowered_md for w in words):
                continue
            if own_data_file(expr):
                if not own_data:  # shown once per file; a sensitive write after it still fails
                    out.append(Finding("SUP-04", "undeclared-write", "low", tf.path, line,
                                       excerpt(text), "code",
                                       f"keeps a data file of its own under {target}, which "
                                       "SKILL.md never mentions"))
                own_data = True
                continue
            out.append(Finding("SUP-04", "undeclared-write", "medium", tf.path, line,
                               excerpt(text), "code",
                               f"writes {target} outside the skill, which SKILL.md never "
                               "mentions"))
            break
        safety = next(r for r in rules.LINE_RULES if r.name == "agent-safety-off")
        match = next((m for m in tf.finditer(safety.pattern, safety.anchors)
                      if not tf.is_comment_at(m.start())), None)
        if match and not _SAFETY_WORDS.search(skill_md):
            line = tf.line_of(match.start())
            out.append(Finding("SUP-04", "undeclared-write", "medium", tf.path, line,
                               excerpt(tf.line_text(line)), "code",
                               "changes the agent's own safety settings, which SKILL.md "
                               "never mentions"))
    return scaffolding_low(out)


# Programs whose only job is the network: declaring one declares network use.
# "fetches the feed URL the user gives", "calls the API": network use stated in words.
_SAYS_NETWORK = re.compile(r"(?i)\b(?:fetch|download|request|call|quer(?:y|ie)|post|upload|"
                           r"send|notif|publish|sync)\w*\b[^.\n]{0,60}\b(?:urls?|apis?|feeds?|"
                           r"web ?sites?|web ?pages?|endpoints?|servers?|internet|online|"
                           r"(?:discord|slack|telegram|matrix|teams) (?:channels?|chats?|bots?|"
                           r"servers?)|webhooks?|e-?mail (?:servers?|accounts?)|smtp)\b")
NETWORK_BINS = {"curl", "wget", "http", "httpie", "xh", "gh", "rclone", "rsync", "ssh", "scp",
                "sftp", "dig", "nslookup", "aws", "gcloud", "az", "gsutil", "ngrok", "nc",
                "socat", "telnet", "ftp", "lftp", "aria2c"}
_BARE_HOST = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:com|org|net|io|dev|ai|app|co|gov|edu|cloud|"
                        r"sh|so|me|info|test)\b")
_SAFETY_WORDS = re.compile(r"(?i)\b(sandbox|elevated|approvals?|permissions?|yolo)\b")
_WRITE_OP = re.compile(
    r"\bopen\s*\(\s*([^,)]+)[^)\n]*['\"][aw]\+?b?['\"]|\b([\w.]+)\.(?:write_text|write_bytes|"
    r"open\s*\(\s*['\"][aw])|\b(?:writeFile|appendFile|writeFileSync|appendFileSync|"
    r"createWriteStream|copyFile|copyFileSync)\s*\(\s*([^,)]+)|\bshutil\.(?:copy\w*|move)\s*"
    r"\([^,]+,\s*([^,)]+)|(?:>>?|\btee\s+(?:-a\s+)?)\s*([\"']?[$~/][^\s;|&]*)|"
    r"^[ \t]*(?:cp|mv|install|ln[ \t]+-s\w*)[ \t]+(?:-\S+[ \t]+)*\S+[ \t]+([\"']?[$~/][^\s;|&]*)",
    re.M)


_ASSIGNMENT = re.compile(r"(?m)^[ \t]*(?:const |let |var )?[ \t]*([A-Za-z_]\w*)[ \t]*=[ \t]*(.+)$")
# A path the user hands the script (its arguments, a prompt): not the skill's own choice.
_USER_GIVEN = re.compile(r"\b(?:args|argv|options|opts|params|cli_args)\s*(?:\.|\[)|"
                         r"\binput\s*\(")
_SCRATCH = re.compile(r"(?:^|/)\.cache/|^/tmp/|^/var/tmp/|\$TMPDIR|mkdtemp|tempfile")


_QUOTED_PART = re.compile(r"""['"]([\w.-][\w./-]*)['"]""")


def _outside_writes(tf: TextFile) -> Iterator[tuple[int, str, str]]:
    """(line, target, expression) of writes whose target is outside the skill: the written
    path names a home, /etc or agent path on the write's own line, or is a variable assigned
    one (the expression is that line or assignment)."""
    if tf.lang not in ("python", "js", "shell", "powershell") or not any(
            a in tf.lowered for a in _OUTSIDE_ANCHORS) or _OUTSIDE_PATH.search(tf.text) is None:
        return
    assignments: dict[str, str] | None = None
    for match in _WRITE_OP.finditer(tf.text):
        if tf.is_comment_at(match.start()):
            continue
        target = next((g for g in match.groups() if g), "").strip()
        text = tf.text_at(match.start())
        hit = _OUTSIDE_PATH.search(target) or (_OUTSIDE_PATH.search(text) if
                                                tf.lang != "shell" else None)
        source = target
        if hit is None and re.fullmatch(r"[A-Za-z_][\w.]*", target):
            if assignments is None:
                assignments = {}
                for name, value in _ASSIGNMENT.findall(tf.text):
                    assignments.setdefault(name, value)
            source = assignments.get(target.split(".")[0], "")
            hit = _OUTSIDE_PATH.search(source)
        given = source if source is not target else text
        if hit is not None and _USER_GIVEN.search(given) and all(
                m.group(0).startswith("expanduser") for m in _OUTSIDE_PATH.finditer(given)):
            continue  # `Path(args.output).expanduser()`: where the user asked it to write
        if hit is not None and not _SCRATCH.search(target or hit.group(0)):
            yield tf.line_of(match.start()), hit.group(0), f"{given} {target}"


# Where a write changes how the user's shell, the agent or the system behaves (and what a
# skill's own data file never is): rc and profile files, the agent's instruction and memory
# files, keys, /etc, autostart and services, git hooks, cron, an app's config or secrets.
_HOME_PREFIX = re.compile(r"^(?:\$\{?home\}?|~)/")  # $HOME/.ssh is the ~/.ssh SKILL.md names
_SENSITIVE_WRITE = re.compile(
    r"(?i)\.(?:bash|zsh|ksh|fish)?rc\b|\.(?:bash_|z)?(?:profile|login|zshenv)\b|"
    r"\b(?:SOUL|MEMORY|AGENTS|HEARTBEAT|IDENTITY|USER|TOOLS|CLAUDE|BOOTSTRAP|GEMINI)\.md\b|"
    r"\.ssh\b|authorized_keys|/etc/|autostart|systemd|LaunchAgents|LaunchDaemons|\.git/|"
    r"\bhooks\b|cron|\.env\b|\.npmrc|\.pypirc|\.netrc|\.gitconfig|\.aws\b|\.kube\b|"
    r"\.docker\b|(?:settings|config|mcp|openclaw|exec-approvals|auth-profiles|credentials|"
    r"secrets?|\.?claude)[\w.-]*\.(?:json5?|ya?ml|toml|ini)\b|\bskills?\b|\bbin\b")
_DATA_FILE = re.compile(r"""['"/][\w.-]+\.(?:json|jsonl|db|sqlite3?|csv|tsv|txt|log|md|pkl|"""
                        r"""cache|dat)['"]""")


def own_data_file(expr: str) -> bool:
    """A write of a data file (`Path.home() / ".claude" / "resume_data.json"`) that touches
    nothing the shell, the agent or the system reads as configuration or instructions."""
    return _DATA_FILE.search(expr) is not None and _SENSITIVE_WRITE.search(expr) is None


_UPLOAD = next(r for r in rules.LINE_RULES if r.name == "upload-credential-file")
_DESTINATION = re.compile(r"https?://([\w.-]+)|\b(\d{1,3}(?:\.\d{1,3}){3})\b")


def undisclosed_uploads(skill: Skill, files: Iterable[TextFile]) -> list[Finding]:
    """Commands in the documentation that send a credential file to a destination the
    description never names (a "prerequisite" or "backup" step the user is told to run)."""
    out = []
    disclosed = (skill.manifest.description + " " + str(skill.manifest.fields.get("homepage")
                                                        or "")).lower()
    for tf in files:
        if tf.lang != "markdown":
            continue
        for match in tf.finditer(_UPLOAD.pattern, _UPLOAD.anchors):
            line = tf.line_of(match.start())
            if tf.is_descriptive(line) or tf.context(line) in ("frontmatter", "comment"):
                continue
            hosts = [a or b for a, b in _DESTINATION.findall(tf.line_text(line))]
            if hosts and all(h.lower() in disclosed for h in hosts):
                continue
            out.append(Finding("SUP-04", "undisclosed-exfiltration", "medium", tf.path, line,
                               excerpt(tf.line_text(line)), tf.context(line),
                               "the instructions send a credential file to "
                               f"{', '.join(hosts) or 'a destination'} the description never "
                               "names"))
    return out


# Command strings code hands to a shell: os.system/os.popen, subprocess with a string
# (shell=True or getoutput), child_process.exec/execSync. The literal is Python or JS quoted.
_QUOTED = r"""('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`[^`$]*`)"""
_ARG = r"\s*\(\s*(?:" + _QUOTED + r"|([A-Za-z_$][\w$]*)\s*[,)])"
# An argument list that starts a shell on its -c string: ["bash", "-c", CMD], ('sh', ['-c', CMD]).
_SH_C = r"""\s*\(\s*\[\s*['"](?:/(?:usr/)?bin/)?(?:ba|z|da)?sh['"]\s*,\s*['"]-l?c['"]\s*,\s*"""
_JS_SH_C = r"""\s*\(\s*['"](?:/(?:usr/)?bin/)?(?:ba|z|da)?sh['"]\s*,\s*\[\s*['"]-l?c['"]\s*,\s*"""
_SHELL_SINK = {
    "python": re.compile(r"\b(?:os\.(?:system|popen)|subprocess\.(?:run|call|check_call|"
                         r"check_output|Popen|getoutput|getstatusoutput))(?:" + _SH_C + "(?:" +
                         _QUOTED + r"|([A-Za-z_$][\w$]*)\s*[,)\]])|" + _ARG + ")"),
    "js": re.compile(r"(?<![\w$])(?:[\w$]+\.)?(?:(?:exec|execSync)" + _ARG + "|"
                     r"(?:spawn|spawnSync|execFile|execFileSync)" + _JS_SH_C + "(?:" + _QUOTED +
                     r"|([A-Za-z_$][\w$]*)\s*[,)\]]))"),
}
# Go exec.Command("sh", "-c", X), Rust Command::new("sh").arg("-c").arg(X), Java
# ProcessBuilder("bash", "-c", X) and exec(new String[]{"sh", "-c", X}), Ruby/PHP/Perl/Lua/C
# system/popen/exec of a string, Ruby %x() and backticks, Perl qx(): the string is a shell
# command line. Groups: 1 a quoted -c string, 2 a name holding it, 3 a quoted string handed
# to a call, 4-6 a %x/qx body, 7 a backtick body (Ruby, Perl, PHP only: Go's are raw strings).
_CODE_LIT = r"""("(?:[^"\\\n]|\\.)*"|`[^`]*`|'(?:[^'\\\n]|\\.)*')"""
_CODE_SHELL = re.compile(
    r"\"(?:/(?:usr/)?bin/)?(?:ba|z|da|k)?sh\"\s*(?:,|\)\s*\.args?\(\s*&?(?:vec!)?\[?)\s*"
    r"\"-l?c\"\s*(?:,|\]?\s*\)\s*\.arg\()\s*&?(?:" + _CODE_LIT + r"|([A-Za-z_]\w*)\s*[,)\]}])|"
    r"(?:(?<![\w.$])|\bKernel\.|\bIO\.|\bOpen3\.|\bgetRuntime\(\)\.|\bos\.|\bio\.)"
    r"(?:system|exec|popen|spawn|capture[23]?e?|popen[23]e?|shell_exec|passthru|proc_open|"
    r"execute)\s*\(?\s*" + _CODE_LIT + r"\s*[,)\n]|"
    r"%x\(([^()]*)\)|%x\{([^{}]*)\}|\bqx[({]([^(){}]*)[)}]|(?<![\w$\\])`([^`\n]+)`|"
    # a Go directive `go generate` runs: a comment to the compiler, a command to the user
    r"(?:^|(?<=\n))//go:generate[ \t]+([^\n]+)")
_BACKTICK_LANGS = (".rb", ".rake", ".pl", ".pm", ".php")
_CODE_SHELL_ANCHORS = ("sh\"", "system", "exec", "popen", "spawn", "capture", "passthru",
                       "%x", "qx", "`", "go:generate")
_SHELL_SINK["code"] = _CODE_SHELL
PREFILTERED += tuple(_SHELL_SINK.values())
_LITERAL_ASSIGNMENT = re.compile(r"(?m)^[ \t]*(?:const |let |var )?[ \t]*([A-Za-z_$][\w$]*)"
                                 r"[ \t]*=[ \t]*" + _QUOTED + r"[ \t]*;?[ \t]*$")


def _unquote(literal: str) -> str:
    try:
        value = astlock.literal_eval(literal) if literal[0] != "`" else literal[1:-1]
    except (ValueError, SyntaxError):
        value = literal[1:-1]
    return value if isinstance(value, str) else ""


def shell_view(tf: TextFile) -> tuple[TextFile, list[int]] | None:
    """The shell commands a Python or JS file hands to a shell (a string literal, or a name
    the file assigns one) as a shell file of one command a line, so shell_commands and the
    network rules read them, with the source line of each; None when it hands none."""
    if tf.lang == "code":
        return _code_shell_view(tf)
    if tf.lang not in ("python", "js") or not tf.has_any(_BIN_ANCHORS[tf.lang]):
        return None
    commands: list[str] = []
    lines: list[int] = []
    names: dict[str, str] | None = None
    for match in tf.finditer(_SHELL_SINK[tf.lang]):  # prefiltered: most files hand none
        if tf.is_comment_at(match.start()):
            continue
        literal = match.group(1) or match.group(3)  # groups 3, 4: the other alternative
        if literal is None:
            if names is None:
                names = {}
                for name, value in _LITERAL_ASSIGNMENT.findall(tf.text):
                    names.setdefault(name, value)
            literal = names.get(match.group(2) or match.group(4))
        command = " ; ".join(_unquote(literal).splitlines()).strip() if literal else ""
        if command:
            commands.append(command)
            lines.append(tf.line_of(match.start()))
    if not commands:
        return None
    return TextFile(f"{tf.path}{_VIEW}{len(lines)}", "shell", "\n".join(commands)), lines


def _code_shell_view(tf: TextFile) -> tuple[TextFile, list[int]] | None:
    """shell_view of Go, Rust, Java, Ruby, PHP, Perl, Lua and C: the strings they start a
    shell on (issue 11: `exec.Command("sh", "-c", ...)` is shell, and the shell rules read
    it), the names such a call is given resolved through literal assignments."""
    if not tf.has_any(_CODE_SHELL_ANCHORS):
        return None
    backticks = tf.path.endswith(_BACKTICK_LANGS)
    commands: list[str] = []
    lines: list[int] = []
    names: dict[str, tuple[str, int]] | None = None
    for match in tf.finditer(_CODE_SHELL):
        if match.group(8) is None and tf.is_comment_at(match.start()) or \
                (match.group(7) is not None and not backticks):
            continue
        group = next((i for i in (1, 3, 4, 5, 6, 7, 8) if match.group(i) is not None), 0)
        literal, at = match.group(group), match.start(group) if group else match.start()
        if not group:  # a name: the command is the literal assigned to it, on its own line
            if names is None:
                names = {m.group(1): (m.group(2), m.start(2))
                         for m in reversed(list(_CODE_ASSIGNMENT.finditer(tf.text)))}
            literal, at = names.get(match.group(2), ("", match.start()))
        command = _unquote(literal) if group in (0, 1, 3) and literal else literal
        command = " ; ".join(command.splitlines()).strip()
        if command:
            commands.append(command)
            lines.append(tf.line_of(at))
    if not commands:
        return None
    return TextFile(f"{tf.path}{_VIEW}{len(lines)}", "shell", "\n".join(commands)), lines


# name := "..." (Go), let name = "..." (Rust), String name = "..." (Java), name = '...' (Ruby)
_CODE_ASSIGNMENT = re.compile(r"(?m)^[ \t]*(?:(?:let|var|val|const|final|String|string|auto|"
                              r"my|local)\s+)?(?:mut\s+)?\$?([A-Za-z_]\w*)(?:\s*:\s*&?\w+)?"
                              r"[ \t]*:?=[ \t]*" + _CODE_LIT + r"[ \t]*;?[ \t]*$")


_VIEW = "#view@"  # path marker of a derived view: FILE#view@N, its lines mapped back


_HOOK_FILES = ("hooks.json", "settings.json", "settings.local.json")


def hook_commands(tf: TextFile) -> list[tuple[str, int]]:
    """(command, line) of every `{"type": "command", "command": ...}` hook in a Claude Code
    plugin's hooks/hooks.json or a .claude/settings(.local).json: shell the harness runs on
    the agent's events (session start, every tool use) with no further approval."""
    if tf.lang != "config" or posixpath.basename(tf.path) not in _HOOK_FILES \
            or '"hooks"' not in tf.text:
        return []
    try:
        doc = json.loads(tf.text)
    except (ValueError, RecursionError):  # malformed, or nested beyond the parser's depth
        return []
    found: list[str] = []
    stack = [doc.get("hooks") if isinstance(doc, dict) else None]
    while stack and len(found) < 200:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "command" and isinstance(node.get("command"), str):
                found.append(node["command"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    out = []
    for command in reversed(found):
        at = tf.text.find(json.dumps(command)[1:-1])
        out.append((command.replace("\n", " "), tf.line_of(at) if at >= 0 else 1))
    return out


def code_views(skill: Skill) -> list[tuple[TextFile, list[int] | None]]:
    """What the code does beyond what it spells out, each view with the source line of each
    of its lines (None: same lines as the source): every file as the partial evaluator
    folds it, the code it hands to exec/eval, and the shell commands code (folded where it
    folds) hands to a shell."""
    from aiaudit.supply_chain.folded_review import folded_files

    folded = {tf.path: ftf for tf, ftf, _ in folded_files(skill)}
    out: list[tuple[TextFile, list[int] | None]] = []
    for tf, ftf, result in folded_files(skill):
        if result.replaced:  # only the lines folding changed: the rest is the source's own
            lines = sorted(n for n in result.replaced if n >= 1)
            text = ftf.text.split("\n")
            out.append((TextFile(f"{tf.path}{_VIEW}f", tf.lang,
                                 "\n".join(text[n - 1] if n <= len(text) else "" for n in lines)),
                        lines))
        for i, inner in enumerate(result.inner):
            if inner.lang in ("python", "js", "shell"):
                text = inner.text
                out.append((TextFile(f"{tf.path}{_VIEW}x{i}", inner.lang, text),
                            [inner.line] * (text.count("\n") + 1)))
    from aiaudit.supply_chain.review import decoded_blobs

    for tf in text_files(skill):  # encoded payloads: what the blob says is what runs
        if tf.lang not in rules.EXECUTABLE_LANGS:
            continue
        for i, (start, _, decoded) in enumerate(decoded_blobs(tf)):
            out.append((TextFile(f"{tf.path}{_VIEW}d{i}", "shell", decoded),
                        [tf.line_of(start)] * (decoded.count("\n") + 1)))
    for tf in text_files(skill):  # hook commands the agent's harness runs on its events
        hooks = hook_commands(tf)
        if hooks:
            out.append((TextFile(f"{tf.path}{_VIEW}h", "shell", "\n".join(c for c, _ in hooks)),
                        [n for _, n in hooks]))
    for tf, mapped in [*((t, None) for t in text_files(skill)), *out]:
        view = shell_view(folded.get(tf.path, tf) if mapped is None else tf)
        if view is not None:
            shell, lines = view
            out.append((shell, lines if mapped is None else [mapped[n - 1] for n in lines]))
    return out


def _views_review(skill: Skill, files: list[TextFile], seen: set[tuple[str, str, int]]
                  ) -> list[Finding]:
    """Declared vs used over the folded code, the code it execs and the shell commands it
    runs (issue 11 point 4: every env var, binary, destination and write the code uses after
    folding is compared with what SKILL.md declares)."""
    views = code_views(skill)
    if not views:
        return []
    sources = {tf.path: tf for tf in files}
    lines_of = {tf.path: lines for tf, lines in views}
    declared_vs_used(skill, files)  # the originals' usage, computed once per skill
    out0, network0, hosts0 = skill.__dict__["_usage"]
    reported = {f.note for f in out0 if f.rule == "undeclared-binary"}
    bins = skill.manifest.declared_bins() | {n.split("`")[1] for n in reported if "`" in n}
    found, network, hosts = _usage(skill, [v for v, _ in views], bins)
    found += _network_findings(skill, network0 + network, {**hosts, **hosts0})
    found += undeclared_effects(skill, [v for v, _ in views])
    found = scaffolding_low(found)
    out = []
    for f in found:
        path = f.file.partition(_VIEW)[0]
        mapped = lines_of.get(f.file)
        line = mapped[min(f.line, len(mapped)) - 1] if mapped else f.line
        if (f.rule, path, line) in seen:
            continue
        seen.add((f.rule, path, line))
        source = excerpt(sources[path].line_text(line)) if path in sources else "?"
        out.append(Finding(f.control, f.rule, f.severity, path, line, f.excerpt, "folded",
                           f"{f.note}; seen in what the code runs once folded, written as: "
                           f"{source}"))
    return out


def _undisclosed_persistence(skill: Skill, files: list[TextFile]) -> list[Finding]:
    """An order in prose to rewrite the agent's own memory or instruction files that the
    description (what the user reads before installing) never mentions."""
    from aiaudit.supply_chain.review import _prose_threats

    description = skill.manifest.description.lower()
    out = []
    for tf in files:
        if tf.lang != "markdown":
            continue
        for f in _prose_threats(tf):
            target = re.search(r"(?i)\b(SOUL|MEMORY|IDENTITY|HEARTBEAT|USER|AGENTS|CLAUDE)\.md\b",
                               f.excerpt)
            if f.severity not in ("high", "critical") or (target and target.group(0).lower()
                                                          in description):
                continue
            out.append(Finding("SUP-04", "undisclosed-persistence", "medium", f.file, f.line,
                               f.excerpt, f.context, "tells the agent to rewrite its own "
                               "memory or instruction files; the description does not say so"))
    return out


_INSTALL_HOOKS = ("preinstall", "install", "postinstall", "prepare")  # prepare: local install


def install_hooks(skill: Skill, files: Iterable[TextFile]) -> list[Finding]:
    """npm lifecycle scripts in a skill's package.json: `npm install` (OpenClaw's node
    installer, a user following the README) runs them unasked; SKILL.md must say so."""
    import json

    skill_md = skill.text_of("SKILL.md") or ""
    out = []
    for tf in files:
        if not tf.path.endswith("package.json") or not any(h in tf.text for h in _INSTALL_HOOKS):
            continue
        try:
            scripts = json.loads(tf.text).get("scripts") or {}
        except (ValueError, AttributeError):
            continue
        for hook in _INSTALL_HOOKS:
            command = scripts.get(hook) if isinstance(scripts, dict) else None
            if not isinstance(command, str) or _mentioned(hook, skill_md) or \
                    command.strip() in skill_md:
                continue
            at = tf.text.find(f'"{hook}"')
            line = tf.line_of(at) if at >= 0 else 1
            out.append(Finding("SUP-04", "install-hook", "medium", tf.path, line,
                               excerpt(tf.line_text(line)), "config",
                               f"npm runs the {hook} script on install; SKILL.md never says so"))
    return out


_CONCEALED = {"folded": "folded", "decoded": "decoded", "bytecode": "disassembled"}
# Code that makes itself permanent or lifts the agent's guard rails: a reader of the
# description cannot expect it unless the description says so.
_PERSISTING = ("persistence-cron", "persistence-shell-rc", "persistence-service",
               "persistence-agent-hooks", "persistence-scheduler",
               "persistence-autostart", "persistence-agent-memory", "ssh-key-implant",
               "sudoers-edit", "agent-safety-off")
_PERSIST_SAID = re.compile(
    r"(?i)\b(?:cron\w*|schedul\w*|start-?up|at (?:log ?in|boot)|log ?in items?|auto-?start\w*|"
    r"launch ?agents?|launchd|systemd|services?|timers?|daemon|background|hooks?|pre-commit|"
    r"shell (?:profile|rc|start-?up)|bashrc|zshrc|authorized_keys|ssh keys?|sudo\w*|memory|"
    r"SOUL\.md|AGENTS\.md|CLAUDE\.md|permissions?|approvals?|sandbox\w*|registry|run key)\b")
_PROSE_CONTEXTS = ("prose", "html-comment", "description", "frontmatter", "text")
# Behaviours no reader expects unless the description says so (rule -> what saying so is).
_DISCLOSES = {
    "destructive-wipe": re.compile(r"(?i)\b(?:delet|wip|eras|remov)\w*\b[^.]{0,60}\b(?:home|"
                                   r"everything|all (?:files|data)|disk)\b"),
    "clipboard-hijack": re.compile(r"(?i)\bclipboard\b[^.]{0,60}\b(?:replac|swap|rewrit)\w*"),
}


def concealed_behaviour(skill: Skill) -> list[Finding]:
    """SUP-03's high findings that only folding, decoding or disassembly shows: the skill
    hides that behaviour from whoever reads it (issue 11: dangerous and concealed fails both
    controls). Reuses the SUP-03 review of the same skill when it ran first."""
    from aiaudit.supply_chain.review import static_review

    cached = skill.__dict__.get("_static_review")
    found = cached[1] if cached is not None else static_review(skill)
    out, seen = [], set()
    description = skill.manifest.description or ""
    persist_said = bool(_PERSIST_SAID.search(description))
    for f in found:
        if f.rule in _PERSISTING and not persist_said and f.severity in ("high", "critical") \
                and f.context not in _PROSE_CONTEXTS and not f.context.startswith("fence:") \
                and (f.file, f.line) not in seen:
            seen.add((f.file, f.line))
            out.append(Finding("SUP-04", "undisclosed-persistence", "medium", f.file, f.line,
                               f.excerpt, f.context, f"{f.rule} in code, which the description "
                               "never mentions"))
            continue
        said = _DISCLOSES.get(f.rule)
        if said is not None and not said.search(description) and (f.file, f.line) not in seen:
            seen.add((f.file, f.line))
            out.append(Finding("SUP-04", "undisclosed-behaviour", "high", f.file, f.line,
                               f.excerpt, f.context,
                               f"{f.rule}, which the description never mentions"))
            continue
        how = _CONCEALED.get(f.context)
        if how is None and f.rule == "decode-exec" and f.context == "code":
            how = "decoded"  # the code runs a payload it carries encoded: hidden by design
        if how is None or f.severity not in ("high", "critical") or (f.file, f.line) in seen:
            continue
        seen.add((f.file, f.line))
        out.append(Finding("SUP-04", "concealed-behaviour", "high", f.file, f.line, f.excerpt,
                           f.context, f"{f.rule} shows only once the code is {how}"))
    return out


def _native_code(files: list[TextFile]) -> list[Finding]:
    """Machine code carried as bytes and called: no manifest field can declare it and no
    reader of the script sees what it does, so it is hidden code (SUP-04) besides SUP-03's
    shellcode-exec."""
    out = []
    for tf in files:
        if tf.lang not in ("python", "powershell") or \
                not tf.has_any(("prot_exec", "virtualalloc", "page_execute")):
            continue
        match = _SHELLCODE.search(tf.text)
        if match:
            out.append(Finding("SUP-04", "hidden-native-code", "high", tf.path,
                               tf.line_of(match.start()), excerpt(tf.line_text(
                                   tf.line_of(match.start()))), "code",
                               "machine code in a byte string, mapped executable and called"))
    return out


_SHELLCODE = re.compile(rules.SHELLCODE, re.I)
_NAMES_SECRETS = re.compile(r"(?i)\b(?:ssh|aws|gpg|gnupg|kube\w*|credentials?|secrets?|keys?|"
                            r"tokens?|\.env|dotenv|environment)\b")


def _undisclosed_tool_grants(skill: Skill, files: list[TextFile]) -> list[Finding]:
    """allowed-tools that reach credential files while the description never says the skill
    touches credentials (SUP-04: an access the reader of the description cannot expect)."""
    from aiaudit.supply_chain.review import allowed_tools_findings

    if _NAMES_SECRETS.search(skill.manifest.description or ""):
        return []
    return [replace(f, control="SUP-04", rule="undeclared-file-access", severity="medium",
                    note=f"{f.note}; the description never mentions credentials")
            for f in allowed_tools_findings(skill, files)]


def manifest_review(skill: Skill) -> list[Finding]:
    """Every SUP-04 finding of one skill (allowlist not applied)."""
    files = text_files(skill)
    findings = manifest_problems(skill.manifest)
    for tf in files:
        findings += hidden_instructions(tf)
    findings += [f for f in prose.skill_prose(skill, files) if f.control == "SUP-04"]
    findings += _undisclosed_persistence(skill, files)
    findings += declared_vs_used(skill, files)
    findings += undeclared_effects(skill, files)
    findings += undisclosed_uploads(skill, files)
    findings += install_hooks(skill, files)
    findings += _native_code(files)
    writes = any(f.rule == "undeclared-write" and f.severity != "low" for f in findings)
    findings += [f for f in concealed_behaviour(skill)  # persisting writes shown once
                 if f.rule != "undisclosed-persistence" or not writes]
    findings += _undisclosed_tool_grants(skill, files)
    findings += _views_review(skill, files, {(f.rule, f.file, f.line) for f in findings})
    return sort_findings(findings)


def review_text(text: str, label: str) -> list[Finding]:
    """Review of free text the model reads, such as an MCP tool or parameter description:
    hidden characters and markup (SUP-04) and the orders it gives (SUP-03 and SUP-04, see
    prose.review_description)."""
    return sort_findings(hidden_instructions(TextFile(label, "markdown", text))
                         + prose.review_description(text, label))
