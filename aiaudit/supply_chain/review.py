"""SUP-03: static review of every file of a skill, scored by where each match sits.

Severity is the rule's, adjusted by context: executable code and hidden HTML comments keep
it, prose and non-shell examples lose a level, comments lose two, and anything inside a
section that describes attack patterns (or inside a detector's regex literal) is capped at
"low". A skill fails SUP-03 on any remaining finding rated high or critical.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import ipaddress
import itertools
import posixpath
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import replace

from aiaudit import secretshapes
from aiaudit.redact import mask
from aiaudit.supply_chain import deps, homoglyph, prose, rules
from aiaudit.supply_chain.findings import (
    SEVERITIES,
    Finding,
    at_least,
    at_most,
    excerpt,
    lower,
)
from aiaudit.supply_chain.frontmatter import parse_skill_md
from aiaudit.supply_chain.model import Skill, SkillFile
from aiaudit.supply_chain.settings import AllowedFinding
from aiaudit.supply_chain.textctx import (
    ARCHIVE_EXTS,
    ARCHIVE_MAGIC,
    EXEC_MAGIC,
    IMAGE_MAGIC,
    TextFile,
    decode_text,
    in_pattern_literal,
    in_quotes,
    language_of,
)

FAIL_AT = "high"
LARGE_FILE_BYTES = 10 * 1024 * 1024
_SHELL_FENCES = {"bash", "sh", "shell", "console", "zsh", "text", "powershell", "ps1", "ps",
                 "cmd", "terminal", ""}
_BLOB = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])")
# _BLOB's matches are exactly the maximal runs of Base64 characters that have its shape;
# finding the runs first is twice as fast as _BLOB's lookbehind at every position.
_BLOB_RUN = re.compile(r"[A-Za-z0-9+/=]{40,}")
_DECODED_RULES = {"download-exec", "decode-exec", "reverse-shell", "crypto-miner",
                  "suspicious-host", "raw-ip-url", "remote-code-eval"}
_PLACEHOLDER = re.compile(r"(?i)(x{6,}|your[_-]|example|changeme|dummy|placeholder|redacted|"
                          r"\.\.\.|<|\*{4,}|0{8,}|1234567|abcdef)")
_REGEX_SYNTAX = re.compile(r"\\[|sbdw.]|\.\*|\[\^|\(\?")
_TOKEN_URL = re.compile(r"(?im)^[ \t]*[\"']?[\w.-]*(token|oauth|cookie|session|credential|"
                        r"secret)[\w.-]*[\"']?\s*[:=]\s*[\"']?(https?://[^\s\"',]+)")
# Hex text (`Buffer.from("6375726c…", "hex")`, `bytes.fromhex`): 16 bytes or more.
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{2}){16,}(?![0-9A-Za-z])")
# Maximal runs of hex digits: the candidates for _HEX_RUN, found without its lookbehind at
# every position (the boundary and even length are checked on the few runs).
_HEX_CANDIDATE = re.compile(r"[0-9a-fA-F]{32,}")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# A run of decimal character codes (Lua string.char, bytes([...]), fromCharCode, [char[]]):
# twelve or more printable ASCII codes in a row are text spelled as numbers.
_CHAR_CODES = re.compile(r"(?<![\d.])(?:(?:3[2-9]|[4-9]\d|1[01]\d|12[0-6])\s*,\s*){11,}"
                         r"(?:3[2-9]|[4-9]\d|1[01]\d|12[0-6])(?![\d.])")
_BASE32 = re.compile(r"[A-Z2-7]{24,}={0,6}")
# regexes run on whole files, prefiltered (anchors.py)
PREFILTERED = (_BLOB, _TOKEN_URL, _HEX_RUN, _CHAR_CODES)


def _blob_shaped(run: str) -> bool:
    """Whether a run of Base64 characters is `[A-Za-z0-9+/]{40,}={0,2}`."""
    body = run.rstrip("=")
    return len(run) - len(body) <= 2 and len(body) >= 40 and "=" not in body


def text_files(skill: Skill) -> list[TextFile]:
    """Decoded text files of a skill (own files only), decoded once for both reviews;
    binary files are structure findings."""
    cached = skill.__dict__.get("_text_files")
    if cached is not None:
        return cached
    out = []
    for f in skill.own_files():
        if f.kind != "file" or f.data is None:
            continue
        text = decode_text(f.data)
        if text is None:
            continue
        tf = TextFile(f.path, language_of(f.path, f.data[:128]), text,
                      is_manifest=f.path == "SKILL.md")
        if tf.is_manifest:
            tf.frontmatter_end = skill.manifest.body_line - 1 if skill.manifest.fields else 0
        out.append(tf)
    skill.__dict__["_text_files"] = out
    return out


def _column(tf: TextFile, offset: int) -> int:
    return offset - (tf.text.rfind("\n", 0, offset) + 1)


def _context_severity(severity: str, tf: TextFile, offset: int, matched: str
                      ) -> tuple[str, str]:
    ctx = tf.context_at(offset)
    if ctx == "comment":
        severity = lower(severity, 2)
    elif ctx in ("prose", "frontmatter", "text") and tf.lang in ("markdown", "data"):
        severity = lower(severity, 1)
    elif ctx.startswith("fence:") and ctx[6:] not in _SHELL_FENCES:
        severity = lower(severity, 1)
    if ctx.startswith("fence:"):  # an example in documentation: never critical
        severity = at_most(severity, "high")
    if tf.detection_rules:  # YARA, Sigma, Semgrep: attack strings quoted to detect them
        severity = at_most(severity, "low")
    if _REGEX_SYNTAX.search(matched) or (
            ctx == "code" and in_pattern_literal(tf.text_at(offset), _column(tf, offset))) or (
            tf.lang == "markdown" and tf.is_descriptive(tf.line_of(offset))):
        severity = at_most(severity, "low")
    return severity, ctx


def _is_public_ip(text: str) -> bool | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified:
        return None
    return not (ip.is_private or ip.is_link_local) or ip in ipaddress.ip_network("192.0.2.0/24") \
        or ip in ipaddress.ip_network("198.51.100.0/24") \
        or ip in ipaddress.ip_network("203.0.113.0/24")


def _line_findings(tf: TextFile, rule_set: Iterable[rules.Rule], control: str = "SUP-03",
                   context: str | None = None, at_line: int | None = None,
                   note: str = "") -> list[Finding]:
    found = []
    excluded = tf.excluded
    for rule in rule_set:
        if rule.langs is not None and tf.lang not in rule.langs or \
                id(rule.pattern) in excluded:
            continue
        for match in tf.finditer(rule.pattern, rule.anchors):
            line = at_line or tf.line_of(match.start())
            severity = rule.severity
            text = match.group(0)
            if rule.name == "raw-ip-url":
                public = _is_public_ip(match.group(1))
                if public is None:
                    continue
                severity = severity if public else "medium"
            if rule.name == "hardcoded-secret":
                value = match.group(match.lastindex or 0)
                if _PLACEHOLDER.search(value) or len(set(value)) < 8 or \
                        _SECRET_REFERENCE.match(value) or _ENV_NAME.fullmatch(
                        value) or (
                        secretshapes.documented_example(value) if match.lastindex
                        else secretshapes.skill_secret(value) is None):
                    continue
            if rule.name == "download-exec" and rules.KNOWN_INSTALLERS.search(text):
                severity = "medium"
            if context is None:
                severity, ctx = _context_severity(severity, tf, match.start(), text)
            else:
                ctx = context
            source = tf.text_at(match.start())
            offset = _column(tf, match.start())
            shown = excerpt(source, offset, offset + len(text))
            if rule.name == "hardcoded-secret":
                shown = shown.replace(text, mask(text)) if text in shown else shown
            found.append(Finding(control, rule.name, severity, tf.path, line, shown, ctx,
                                 note or rule.what))
    return found


# A reference a secret manager resolves at run time (`op://vault/item/field` for 1Password's
# `op run`, Vault, AWS/GCP/Azure secret stores) names where the secret lives; it is no secret.
_SECRET_REFERENCE = re.compile(r"(?i)(?:op|vault|secretsmanager|ssm|gcpsm|azkv|bws|infisical)://"
                               r"|arn:aws:(?:secretsmanager|ssm):")
# `"OPENAI_API_KEY": "OPENAI_API_KEY"` maps names: an environment variable's name is no secret.
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def _signals(tf: TextFile) -> dict[str, int]:
    """First offset where a code file shows each signal (comments excluded); findings cite
    the first, so the search stops there."""
    hits: dict[str, int] = {}
    for name, signal in rules.SIGNALS.items():
        for match in tf.finditer(signal.pattern, signal.anchors):
            if tf.is_comment_at(match.start()) or in_pattern_literal(
                    tf.text_at(match.start()), _column(tf, match.start())):
                continue
            if name == "credential-path" and (own_dotenv(
                    match.group(0), tf.text_at(match.start())) or
                    _in_docstring(tf, match.start())):
                continue
            hits[name] = match.start()
            break
    return hits


def _in_docstring(tf: TextFile, offset: int) -> bool:
    """Whether an offset of a Python file lies in a docstring (parsed only when it lies
    inside some triple-quoted string)."""
    if tf.lang != "python":
        return False
    text = tf.text
    if not (text.count('"""', 0, offset) % 2 or text.count("'''", 0, offset) % 2 or
            tf.text_at(offset).lstrip()[:1] in ("'", '"')):  # folded: one-line literal
        return False
    return tf.line_of(offset) in tf.docstring_lines


_HOME_MARK = re.compile(r"~|\bHOME\b|home(?:dir)?\b|expanduser|\.\./|/(?:root|home|Users)/|"
                        r"\.(?:clawdbot|openclaw|hermes|config)\b|\*\*|glob|walk|find\s")


def own_dotenv(matched: str, line: str) -> bool:
    """A bare `.env` beside the skill (`source .env`, `open('.env')`): the skill's own
    settings, not the user's secrets elsewhere (a home path or a search for them is)."""
    return matched.strip(" /'\"`(").lower() in (".env", ".env.local") and \
        _HOME_MARK.search(line) is None


def _compound_findings(code_files: list[TextFile]) -> list[Finding]:
    """Findings that need two facts: what is read and where it goes."""
    found = []
    per_file = {tf.path: (tf, _signals(tf)) for tf in code_files}
    sender = next(((tf, s["network"]) for tf, s in per_file.values() if "network" in s), None)
    where = f"network use at {sender[0].path}:{sender[0].line_of(sender[1])}" if sender else ""

    def add(rule: str, severity: str, tf: TextFile, offset: int, note: str) -> None:
        found.append(Finding("SUP-03", rule, severity, tf.path, tf.line_of(offset),
                             excerpt(tf.text_at(offset)), tf.context_at(offset), note))

    for tf, sig in per_file.values():
        if "env-harvest" in sig and sender:
            add("env-exfiltration", "critical", tf, sig["env-harvest"],
                f"collects the whole environment; {where}")
        if "credential-path" in sig:
            if sender:
                add("credential-exfiltration", "critical", tf, sig["credential-path"],
                    f"reads credential files; {where}")
            else:
                add("credential-access", "medium", tf, sig["credential-path"],
                    "reads credential files")
        if "dynamic-eval" in sig and "network" in sig:
            add("remote-code-eval", "high", tf, sig["dynamic-eval"],
                f"evaluates dynamic code in a file that fetches from the network "
                f"(line {tf.line_of(sig['network'])})")
        if "keylogger" in sig:
            if sender:
                add("keylogger-exfiltration", "critical", tf, sig["keylogger"],
                    f"records the user's keystrokes; {where}")
            else:
                add("keylogger", "medium", tf, sig["keylogger"], "records the user's keystrokes")
        if "socket-connect" in sig and "shell-attach" in sig:
            add("reverse-shell", "critical", tf, sig["shell-attach"],
                f"attaches a shell to a socket (line {tf.line_of(sig['socket-connect'])})")
        if "download-to-file" in sig and "chmod-exec" in sig:
            add("download-exec", "high", tf, sig["chmod-exec"],
                f"downloads a file (line {tf.line_of(sig['download-to-file'])}) and makes it "
                "run")
        if "file-write" in sig:
            for rule, target in rules.PERSISTENCE_TARGETS.items():
                match = next(tf.finditer(target), None)  # the first: target.search
                needs = rules.PERSISTENCE_REQUIRES.get(rule)
                if match and not tf.is_comment_at(match.start()) and \
                        (needs is None or needs.search(tf.text)):
                    add(rule, "high", tf, match.start(),
                        f"writes files and names {match.group(0)} (line "
                        f"{tf.line_of(sig['file-write'])} writes)")
        if "git-remote-add" in sig and "git-push" in sig:
            add("git-push-exfil", "high", tf, sig["git-remote-add"],
                f"adds a remote with a literal URL and pushes to it (line "
                f"{tf.line_of(sig['git-push'])})")
        if "time-gate" in sig and ("credential-path" in sig or "env-harvest" in sig) and sender:
            add("time-gated-payload", "high", tf, sig["time-gate"],
                "sensitive reads run only at certain hours (time bomb)")
    return found


def decoded_blobs(tf: TextFile) -> list[tuple[int, str, str]]:
    """(offset, encoding, text) of each Base64 or hex run of a file that decodes to text
    (cached on the file: both reviews read them)."""
    cached = tf.__dict__.get("_decoded_blobs")
    if cached is None:
        cached = tf.__dict__["_decoded_blobs"] = list(_decode_blobs(tf))
    return cached


def _hex_runs(tf: TextFile) -> Iterator[re.Match[str]]:
    text = tf.text
    for match in _HEX_CANDIDATE.finditer(text):
        start, end = match.span()
        if (start and text[start - 1] in _ALNUM) or (end < len(text) and text[end] in _ALNUM):
            continue
        run = _HEX_RUN.fullmatch(text, start, end)
        if run is not None:
            yield run


def _decode_blobs(tf: TextFile) -> Iterator[tuple[int, str, str]]:
    if tf.lang == "data":
        return
    blobs = (m for m in _BLOB_RUN.finditer(tf.text) if _blob_shaped(m.group(0))) \
        if tf.may_match(_BLOB) else iter(())
    hexes = _hex_runs(tf) if tf.may_match(_HEX_RUN) else iter(())
    codes = tf.finditer(_CHAR_CODES) if tf.may_match(_CHAR_CODES) else iter(())
    for count, match in enumerate(itertools.chain(blobs, hexes, codes)):
        if count >= 200:
            break
        blob = match.group(0)
        if len(blob) > 1_000_000:
            continue
        if blob[0].isdigit() and "," in blob:  # decimal character codes
            yield match.start(), "character codes", "".join(
                chr(int(n)) for n in re.findall(r"\d+", blob))
            continue
        if _BASE32.fullmatch(blob):  # Base32 is Base64's alphabet too: try it first
            try:
                text = base64.b32decode(blob + "=" * (-len(blob) % 8)).decode("ascii")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                text = ""
            if text and all(ch.isprintable() or ch in "\n\t\r" for ch in text):
                yield match.start(), "Base32", text
                continue
        try:
            raw = bytes.fromhex(blob) if _HEX_RUN.fullmatch(blob) else \
                base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = raw.decode("utf-8", "replace")
        if len(raw) >= 8 and raw[1::2].count(0) * 10 >= len(raw) // 2 * 9:
            decoded = raw.decode("utf-16-le", "replace")  # powershell -EncodedCommand's form
        printable = sum(ch.isprintable() or ch in "\n\t\r" for ch in decoded)
        if not decoded or printable / len(decoded) < 0.9:
            kind, text = serialized_code(raw)
            if text:
                yield match.start(), f"{kind} in Base64", text
            continue
        yield match.start(), "Hex" if _HEX_RUN.fullmatch(blob) else "Base64", decoded


def serialized_code(raw: bytes) -> tuple[str, str]:
    """(kind, pseudo-source) of a blob that is a pickle or a marshalled code object, zlib-
    compressed or not: a pickle's calls read from its opcodes, a code object disassembled
    in a bounded child (bytecode.disassemble); ("", "") for anything else."""
    payload = raw
    if raw[:1] == b"\x78":  # a zlib stream: at most 4 MB of it
        try:
            payload = zlib.decompressobj().decompress(raw, 4_000_000)
        except zlib.error:
            payload = raw
    calls = pickle_calls(payload)
    if calls:
        return "a pickle", calls
    if payload[:1] in (b"\xe3", b"c") and len(payload) > 16:  # marshal's TYPE_CODE
        from aiaudit.supply_chain import bytecode

        text, _ = bytecode.disassemble(importlib.util.MAGIC_NUMBER + b"\0" * 12 + payload)
        if text:
            return "a marshalled code object", text
    return "", ""


def pickle_calls(raw: bytes) -> str:
    """The calls a pickle makes when loaded (`os.system('curl ... | sh')`), one a line, read
    from its opcodes with pickletools (nothing is unpickled); "" when raw is no pickle."""
    if not raw[:1] == b"\x80" and not raw.endswith(b"."):
        return ""
    import pickletools

    strings: list[str] = []
    calls: list[str] = []
    callee = ""
    try:
        for op, arg, _ in pickletools.genops(raw):
            if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
                callee, strings = arg.replace(" ", "."), []
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                callee, strings = f"{strings[-2]}.{strings[-1]}", []
            elif isinstance(arg, str):
                strings.append(arg)
            elif op.name in ("REDUCE", "OBJ", "NEWOBJ", "BUILD") and callee:
                module, _, name = callee.partition(".")
                module = "os" if module in ("posix", "nt") else module
                calls.append(f"{module}.{name}({', '.join(map(repr, strings))})")
                callee, strings = "", []
    except Exception:  # noqa: BLE001 - any malformed opcode stream: not a pickle to read
        return "\n".join(calls)
    return "\n".join(calls)


def _decoded_findings(tf: TextFile) -> list[Finding]:
    """Base64 and hex blobs decoded and reviewed again: a payload does not hide by encoding."""
    found: list[Finding] = []
    for start, encoding, decoded in decoded_blobs(tf):
        line = tf.line_of(start)
        around = tf.text_at(start)
        inner = TextFile(tf.path, "shell", decoded)
        shown = excerpt(decoded.split("\n")[0])
        for f in _line_findings(inner, [r for r in rules.LINE_RULES if r.name in _DECODED_RULES],
                                context="decoded", at_line=line):
            severity = f.severity if not tf.is_descriptive(line) else at_most(f.severity, "low")
            found.append(Finding("SUP-03", f.rule, severity, tf.path, line, excerpt(around),
                                 "decoded",
                                 f"{encoding} at line {line} decodes to: {shown}"))
    return found


def _config_token_redirects(tf: TextFile) -> list[Finding]:
    found = []
    if not tf.may_match(_TOKEN_URL):
        return found
    for match in _TOKEN_URL.finditer(tf.text):
        url = match.group(2)
        host = re.sub(r"^https?://([^/:]+).*$", r"\1", url)
        tunnel = any(re.fullmatch(p, host, re.I) for p in rules.PASTE_TUNNEL_HOSTS)
        if tunnel or _is_public_ip(host):
            line = tf.line_of(match.start())
            found.append(Finding("SUP-03", "config-token-redirect", "high", tf.path, line,
                                 excerpt(tf.line_text(line)), "config",
                                 f"sends {match.group(1)} material to {host}"))
    return found


def _structure_findings(skill: Skill, max_bytes: int) -> list[Finding]:
    found = []
    own = skill.own_files()
    names = {f.path for f in own}
    texts = {tf.path for tf in text_files(skill)}  # decoded once, there

    def add(rule: str, severity: str, f: SkillFile, note: str) -> None:
        found.append(Finding("SUP-03", rule, severity, f.path, 0, f.path, "structure", note))

    for f in own:
        ext = posixpath.splitext(f.path)[1].lower()
        if f.kind == "symlink":
            target = f.linkname
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(f.path), target))
            if target.startswith("/") or joined == ".." or joined.startswith("../"):
                add("symlink-escape", "high", f, f"symlink leaves the skill: -> {target}")
            continue
        if f.kind == "hardlink":
            add("hardlink", "medium", f, f"hard link to {f.linkname}")
            continue
        if f.kind == "other":
            add("special-file", "medium", f, "device, FIFO or socket inside a skill")
            continue
        if f.kind != "file":
            continue
        if f.data is None:
            add("unreviewed-file", "high", f, f"{f.size} bytes: over the {max_bytes}-byte "
                "review limit, not reviewed")
            continue
        head = f.data[:16]
        if f.size > LARGE_FILE_BYTES:
            add("large-file", "low", f, f"{f.size} bytes")
        if ext in (".pyc", ".pyo") or head[2:4] == b"\r\n" and ext == ".pyc":
            stem = posixpath.basename(f.path).split(".")[0]
            folder = posixpath.dirname(f.path)
            base = posixpath.dirname(folder) if folder.endswith("__pycache__") else folder
            source = posixpath.join(base, stem + ".py") if base else stem + ".py"
            if source not in names:
                add("pyc-without-source", "high", f, "compiled Python with no source to review")
            else:
                add("pyc-beside-source", "low", f, f"compiled copy of {source}")
            continue
        if head.startswith(EXEC_MAGIC):
            add("binary-executable", "high", f, "native executable: cannot be reviewed")
            continue
        if head.startswith(ARCHIVE_MAGIC) or ext in ARCHIVE_EXTS:
            office = ext in (".docx", ".xlsx", ".pptx", ".odt", ".ods")
            if ext in (".docm", ".xlsm", ".pptm"):
                add("office-document", "high", f, "macro-enabled document")
            elif office:
                add("office-document", "medium", f, "office document: contents not reviewed")
            else:
                add("archive", "high", f, "archive inside a skill: contents not reviewable")
            continue
        if f.path not in texts and not head.startswith(IMAGE_MAGIC) \
                and not head.startswith(b"%PDF"):
            add("opaque-binary", "medium", f, "binary data of unknown type")
        elif f.mode & 0o111 and not f.data.startswith(b"#!") and \
                language_of(f.path, head) not in ("shell", "python", "js", "powershell"):
            add("unexpected-executable", "low", f, "executable bit on a non-script file")
    return found


def prose_finding(control: str, rule: str, severity: str, tf: TextFile, match: re.Match[str],
                  note: str) -> Finding | None:
    """A finding on instructions in prose; rated down when it only quotes or describes them."""
    line = tf.line_of(match.start())
    ctx = tf.context(line)
    if ctx.startswith("fence:") or ctx in ("code", "config", "frontmatter"):
        return None
    source = tf.line_text(line)
    col = match.start() - (tf.text.rfind("\n", 0, match.start()) + 1)
    if tf.is_descriptive(line) or in_quotes(source, col, col + len(match.group(0))):
        severity = at_most(severity, "low")
    return Finding(control, rule, severity, tf.path, line, excerpt(source, col), ctx, note)


def _prose_threats(tf: TextFile) -> list[Finding]:
    """Instructions in Markdown prose that make the agent persist (rewrite its own memory)."""
    out = []
    pattern = rules.PROSE_MEMORY
    if not tf.may_match(pattern) or not any(a in tf.lowered for a in rules.MEMORY_FILE_ANCHORS):
        return out
    for match in tf.finditer(pattern):
        finding = prose_finding("SUP-03", "persistence-agent-memory", "high", tf, match,
                                "tells the agent to rewrite its own instruction or memory files")
        if finding is None:
            continue
        if match.group(1) in ("AGENTS", "CLAUDE"):
            finding = Finding(finding.control, finding.rule, "low", finding.file,
                              finding.line, finding.excerpt, finding.context,
                              "edits project docs (AGENTS.md/CLAUDE.md)")
        out.append(finding)
    return out


def _secret_env_exfiltration(skill: Skill, files: list[TextFile], code: list[TextFile]
                              ) -> list[Finding]:
    """A secret the manifest never asked for (another service's API key or token), read by
    code in a skill that sends data: the key is the payload."""
    network = rules.SIGNALS["network"]
    sender = next(((tf, m) for tf in code for m in tf.finditer(network.pattern, network.anchors)
                   if not tf.is_comment_at(m.start())), None)
    if sender is None:
        return []
    from aiaudit.supply_chain.honesty import undeclared_secret_reads  # honesty imports review

    where = f"{sender[0].path}:{sender[0].line_of(sender[1].start())}"
    texts = {tf.path: tf.text for tf in files}
    return [Finding("SUP-03", "secret-exfiltration", "high", f.file, f.line, f.excerpt,
                    f.context, f"{f.note.split(',')[0]} (a secret the manifest does not ask "
                    f"for); network use at {where}")
            for f in undeclared_secret_reads(skill, files)
            if not presence_only(texts.get(f.file, ""), f.line)]


_STRINGS = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|`[^`]*`")
_ENV_READ = (r"(?:os\.getenv|os\.environ\.get)\s*\([^()]*\)|os\.environ\s*\[[^\]]*\]|"
             r"process\.env(?:\.\w+|\[[^\]]*\])")
_TEST_HEAD = r"(?:\b(?:if|while)\s*\(?\s*!?|\belif|\band|\bor|\bnot|(?:&&|\|\|)\s*!?|!!|Boolean\()"
_TESTED = re.compile(rf"{_TEST_HEAD}\s*(?:not\s+)?(?:{_ENV_READ})\s*(?:\)|:|\band\b|\bor\b|&&|\|\||"
                     rf"\bis (?:not )?None\b|$)")
_ASSIGNED = re.compile(rf"^\s*(?:const\s+|let\s+|var\s+)?([A-Za-z_]\w*)\s*=\s*(?:{_ENV_READ})\s*"
                       r"(?:;|#|//|$)")


def presence_only(text: str, line: int) -> bool:
    """Whether the secret read on `line` is only tested for presence (`if os.getenv("K"):`,
    `token = os.getenv("K")` used only as `if not token`): its value goes nowhere."""
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        return False
    source = _STRINGS.sub('""', lines[line - 1]) if "os.environ[" not in lines[line - 1] \
        else lines[line - 1]
    if _TESTED.search(source.strip()):
        return True
    assigned = _ASSIGNED.match(lines[line - 1])
    if assigned is None:
        return False
    name = re.escape(assigned.group(1))
    use = re.compile(rf"(?<![\w.]){name}(?![\w])")
    test = re.compile(rf"{_TEST_HEAD}\s*(?:not\s+)?{name}\s*(?:\)|:|\band\b|\bor\b|&&|\|\||"
                      r"\bis (?:not )?None\b|$)")
    for number, other in enumerate(lines, start=1):
        if number == line:
            continue
        code = _STRINGS.sub('""', other)
        if len(use.findall(code)) > len(test.findall(code)):
            return False
    return True


def _install_commands(tf: TextFile) -> list[Finding]:
    """deps.install_command_findings scored by where the command stands: prose and fenced
    examples are what the user or agent runs (high), attack documentation is low."""
    out = []
    for f in deps.install_command_findings(tf):
        start, end = tf.line_span(f.line)
        offset = start + len(tf.text[start:end]) - len(tf.text[start:end].lstrip())
        ctx = tf.context_at(offset)
        low = ctx == "comment" or tf.detection_rules or \
            tf.lang == "markdown" and tf.is_descriptive(f.line)
        out.append(replace(f, severity="low" if low else f.severity, context=ctx))
    return out


def static_review(skill: Skill, max_bytes: int = 64 * 1024 * 1024) -> list[Finding]:
    """Every SUP-03 finding of one skill, most severe first (allowlist not applied)."""
    files = text_files(skill)
    findings = _structure_findings(skill, max_bytes)
    for tf in files:
        findings += _line_findings(tf, rules.LINE_RULES)
        findings += _decoded_findings(tf)
        findings += homoglyph.lookalike_findings(tf)
        if tf.lang == "config":
            findings += _config_token_redirects(tf)
        if tf.lang == "markdown":
            findings += _prose_threats(tf)
        if deps.is_dependency_file(tf.path):
            findings += deps.dependency_findings(tf)
        elif tf.has_any(deps.INSTALL_ANCHORS):
            findings += _install_commands(tf)
    findings += deps.manifest_install_findings(skill.manifest.install_specs(),
                                               skill.text_of("SKILL.md") or "")
    code = [tf for tf in files if tf.lang in rules.EXECUTABLE_LANGS]
    findings += _compound_findings(code)
    findings += _secret_env_exfiltration(skill, files, code)
    findings += [f for f in prose.skill_prose(skill, files) if f.control == "SUP-03"]
    findings += allowed_tools_findings(skill, files)
    findings += _prerequisite_payloads(files)
    from aiaudit.supply_chain.folded_review import folded_review  # imports this module

    findings += folded_review(skill, findings)
    out = sort_findings(findings)
    skill.__dict__["_static_review"] = (max_bytes, out)  # SUP-04 reads what was concealed
    return out


_SECRET_SCOPE = re.compile(
    r"(?i)(?:~|\$HOME|/home/[^/\s,)]+|/root)/(?:\.ssh\b|\.gnupg\b|\.netrc\b|\.git-credentials\b|"
    r"\.npmrc\b|\.pypirc\b|\.config/gh\b|\.aws(?:/\*|/credentials\b|(?=[\s,)])))|"
    r"\bid_(?:rsa|ed25519|ecdsa)\b|(?:[/(\s]|^)\.env(?![\w.-])|\bprintenv\b")

# A pre-approved tool that can send: web fetches, a shell with no scope or a network client.
_NET_TOOL = re.compile(r"(?i)\bWebFetch\b|\bBash(?:\(\s*\*\s*\))?(?=\s*(?:,|$))|"
                       r"\bBash\(\s*(?:curl|wget|nc|ncat|scp|rsync|ssh|http|python3?|node)\b")


def _prerequisite_payloads(files: list[TextFile]) -> list[Finding]:
    """ClawHavoc's delivery: a 'prerequisite' that has the user or agent download and run a
    program no one can review (a password-protected archive, a paste-site snippet, a
    downloaded installer). Running it is the behaviour (SUP-03); SUP-04 reports the same
    lines as hidden (honesty._fake_prerequisites)."""
    from aiaudit.supply_chain.honesty import _fake_prerequisites

    return [Finding("SUP-03", f.rule, f.severity, f.file, f.line, f.excerpt, f.context,
                    f"{f.note}: it runs a program no one reviewed")
            for tf in files if tf.lang == "markdown" for f in _fake_prerequisites(tf)]


def allowed_tools_findings(skill: Skill, files: list[TextFile]) -> list[Finding]:
    """Frontmatter `allowed-tools` that pre-approve reading credential files (Read(~/.ssh/**),
    Bash(cat ~/.aws/credentials)): the agent then reads them with no prompt for the user
    (issue 11 point 3: elevated tools)."""
    grants = [("SKILL.md", skill.manifest.fields.get("allowed-tools"))]
    for tf in files:  # a plugin's slash commands (allowed-tools) and subagents (tools)
        parts = tf.path.split("/")
        if tf.lang == "markdown" and len(parts) == 2 and parts[0] in ("commands", "agents") \
                and tf.text.startswith("---"):
            fields = parse_skill_md(tf.text).fields
            grants.append((tf.path, fields.get("allowed-tools") or fields.get("tools")))
    out = []
    for path, tools in grants:
        text = " ".join(map(str, tools)) if isinstance(tools, list) else str(tools or "")
        match = _SECRET_SCOPE.search(text)
        if match is None:
            continue
        sink = _NET_TOOL.search(text)
        md = next((tf for tf in files if tf.path == path), None)
        key = "allowed-tools" if path == "SKILL.md" or path.startswith("commands/") else "tools"
        at = md.text.find(key) if md is not None else -1
        line = md.line_of(at) if md is not None and at >= 0 else 1
        what = f"{key} pre-approves access to {match.group(0)} with no prompt"
        out.append(Finding("SUP-03", "allowed-tools-credentials", "high" if sink else "medium",
                           path, line, excerpt(text), "frontmatter",
                           f"{what} and a network sink ({sink.group(0)})" if sink else what))
    return out


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    best: dict[tuple[str, str, int], Finding] = {}
    for f in findings:
        key = (f.rule, f.file, f.line)
        if key not in best or SEVERITIES.index(f.severity) > SEVERITIES.index(best[key].severity):
            best[key] = f
    return sorted(best.values(), key=lambda f: (-SEVERITIES.index(f.severity), f.file, f.line))


def failing(findings: Iterable[Finding], floor: str = FAIL_AT) -> list[Finding]:
    return [f for f in findings if at_least(f.severity, floor)]


def apply_allowlist(skill: Skill, findings: list[Finding],
                    allowlist: Iterable[AllowedFinding]) -> tuple[list[Finding], list[Finding]]:
    """(still open, accepted): an entry matches path, rule and the file's current sha256."""
    entries = list(allowlist)
    open_, accepted = [], []
    for f in findings:
        entry = skill.file(f.file)
        digest = entry.sha256 if entry is not None and entry.data is not None else None
        paths = {f"{skill.id}/{f.file}", posixpath.join(skill.path, f.file)}
        if digest and any(a.rule == f.rule and a.path in paths and a.sha256 == digest
                          for a in entries):
            accepted.append(f)
        else:
            open_.append(f)
    return open_, accepted
