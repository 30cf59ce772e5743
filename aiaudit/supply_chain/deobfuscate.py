"""See through obfuscation: fold the constant parts of Python and JavaScript code, then let
the same rules read the folded text.

A payload split into `'cu' + 'rl'`, built from `chr()` codes, reached through
`getattr(__import__('o'+'s'), 'sys'+'tem')` or wrapped in base64/zlib/rot13 layers reads as
plain text to a regex only after the constants are folded. This is a small partial evaluator
over the syntax tree: it computes what can be known without running anything (string
operations, the standard decoders, imports and attribute lookups by computed name) and
leaves everything else alone. Nothing under audit is executed, imported or compiled to run.

`fold(tf)` returns the file with every folded expression replaced, on its own line, by its
value (`os.system('curl … | sh')`), so line numbers still point at the source, plus the
code handed to `exec`/`eval`/`Function` (and long decoded texts), reviewed as code of their own.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import lzma
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiaudit.supply_chain.textctx import TextFile

MAX_SOURCE = 300_000  # characters: bigger files get the rules unfolded (folding is per-AST)
MAX_VALUE = 1_000_000  # characters or bytes of one folded value
MAX_DEPTH = 4  # exec(decoded(exec(decoded(...)))) layers followed
UNKNOWN = object()
# Cheap test before parsing: a file with none of these has nothing to fold (substring
# searches run at memory speed; one regex with all of them is ten times slower).
INDICATOR_LITERALS = ("chr(", "fromCharCode", "fromCodePoint", "getattr", "__import__",
                      "import_module", "fromhex", "decompress", "inflate", "gunzip", "unzip",
                      "compile(", "exec(", "eval(", "Function(", "\\x", "\\u", "[::-1]",
                      "codecs", "b64decode", "b32decode", "b16decode", "b85decode", "a85decode",
                      "decodebytes", "unhexlify", "a2b_", "atob", "Buffer.from", "reverse(",
                      "unescape", "decodeURI", "vm.run",
                      # paths under home built in steps (persistence through variables)
                      "homedir(", "expanduser(", ".home()", "env.HOME", "environ[\"HOME\"]",
                      "environ['HOME']", "getenv(\"HOME\")", "getenv('HOME')")
INDICATORS = re.compile(r"['\"`]\s*\+|\+\s*['\"`]|['\"][ \t]+['\"]|\[\s*['\"`]|"
                        r"require\s*\(\s*[^'\"`\s)]|"
                        # a command assembled by str.format or an f-string from constants
                        r"\.format\s*\(\s*['\"]|\bf['\"][^'\"\n]*\{\w+\}[^'\"\n]*['\"]\s*,\s*shell\s*=")
# Split strings alone are everywhere; they matter next to something that runs or sends.
SINKS = ("system", "popen", "subprocess", "spawn", "child_process", "exec", "eval", "urlopen",
         "requests.", "fetch(", "http", "socket", "open(", "writefile", "os.", "require(")


def worth_folding(text: str) -> bool:
    if any(lit in text for lit in INDICATOR_LITERALS):
        return True
    if not INDICATORS.search(text):
        return False
    lowered = text.lower()
    return any(sink in lowered for sink in SINKS)


@dataclass(frozen=True)
class Ref:
    """A module, builtin or attribute reached by name (never imported)."""

    name: str
    text: str = ""  # how it is written back into the folded source

    def attr(self, name: str) -> Ref:
        return Ref(f"{self.name}.{name}", f"{self.text or self.name}.{name}")

    def shown(self) -> str:
        return self.text or self.name


@dataclass(frozen=True)
class Code:
    """Source text handed to compile(): run only if exec'd, reviewed like code."""

    text: str


@dataclass
class Inner:
    """Code or decoded text found inside a file, reviewed as a file of its own."""

    line: int
    lang: str
    text: str
    how: str


@dataclass
class Folded:
    text: str  # the file with folded expressions written out
    replaced: dict[int, list[str]] = field(default_factory=dict)  # line -> folded snippets
    inner: list[Inner] = field(default_factory=list)


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, Code):
        return value.text
    return None


def _bytes(value: Any) -> bytes | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")
    return None


HOME_VARS = ("HOME", "USERPROFILE")


class PathStr(str):
    """A file path the code builds (`Path.home() / ".config"`, `path.join(os.homedir(),
    ...)`), the user's home written `~`: folding writes the path out where it is assigned, so
    the persistence rules read `~/.config/autostart/x.desktop` however it was assembled."""


def join_path(*parts: Any) -> Any:
    """os.path.join / path.join / Path `/` of known strings (an absolute part restarts)."""
    import posixpath

    if not parts or not all(isinstance(p, str) for p in parts):
        return UNKNOWN
    return PathStr(posixpath.join(*(str(p).replace("\\", "/") for p in parts)))


def _bounded(value: Any) -> Any:
    if isinstance(value, str | bytes | list | tuple) and len(value) > MAX_VALUE:
        return UNKNOWN
    return value


def inflate(data: bytes, wbits: int = zlib.MAX_WBITS) -> bytes | Any:
    """zlib/gzip/raw deflate, bounded: a decompression bomb stops at MAX_VALUE bytes."""
    try:
        out = zlib.decompressobj(wbits).decompress(data, MAX_VALUE)
    except zlib.error:
        return UNKNOWN
    return out


def decode_layer(kind: str, value: Any) -> Any:
    """One decoding layer by name (base64, base32, hex, rot13, zlib, ...)."""
    raw = _bytes(value)
    try:
        if kind in ("b64decode", "decodebytes", "base64", "standard_b64decode", "a2b_base64",
                    "decodestring", "b64"):
            text = re.sub(rb"\s+", b"", raw or b"")
            return base64.b64decode(text + b"=" * (-len(text) % 4))
        if kind in ("urlsafe_b64decode", "base64url"):
            return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
        if kind in ("b32decode", "base32"):
            return base64.b32decode(raw + b"=" * (-len(raw) % 8), casefold=True)
        if kind in ("b16decode", "unhexlify", "a2b_hex", "fromhex", "hex", "hex_codec"):
            return binascii.unhexlify(re.sub(rb"\s+", b"", raw or b""))
        if kind == "b85decode":
            return base64.b85decode(raw)
        if kind == "a85decode":
            return base64.a85decode(raw)
        if kind in ("rot13", "rot_13"):
            text = _str(value)
            return codecs.decode(text, "rot13") if text is not None else UNKNOWN
        if kind in ("decompress", "zlib", "zlib_codec", "inflateSync", "unzipSync"):
            return inflate(raw or b"", zlib.MAX_WBITS | 32)
        if kind in ("inflateRawSync",):
            return inflate(raw or b"", -zlib.MAX_WBITS)
        if kind in ("gunzipSync", "gzip"):
            return inflate(raw or b"", zlib.MAX_WBITS | 16)
        if kind == "bz2":
            return bz2.BZ2Decompressor().decompress(raw or b"", MAX_VALUE)
        if kind == "lzma":
            return lzma.LZMADecompressor().decompress(raw or b"", MAX_VALUE)
    except (ValueError, TypeError, binascii.Error, OSError, EOFError, lzma.LZMAError):
        return UNKNOWN
    return UNKNOWN


def literal(value: Any, lang: str) -> str | None:
    """How a folded value is written back: one line, so line numbers hold."""
    if isinstance(value, Ref):
        return value.shown()
    if isinstance(value, Code):
        value = value.text
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "replace")
        if sum(ch.isprintable() or ch in "\n\t\r" for ch in text) < 0.9 * max(1, len(text)):
            return None  # binary: nothing a rule could read
        value = text
    if isinstance(value, str):
        return repr(value) if lang == "python" else _js_quote(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "[" + ", ".join(literal(v, lang) or "''" for v in value) + "]"
    return None


def _js_quote(text: str) -> str:
    out = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace(
        "\r", "\\r")
    return "'" + out + "'"


def splice(source: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace [start, end) spans (outermost, non-overlapping) keeping every newline count."""
    out, pos = [], 0
    for start, end, text in sorted(edits):
        if start < pos:
            continue
        out.append(source[pos:start])
        out.append(text + "\n" * source.count("\n", start, end))
        pos = end
    out.append(source[pos:])
    return "".join(out)


def fold(tf: TextFile, depth: int = 0, modules: dict[str, Any] | None = None
         ) -> Folded | None:
    """The folded form of a Python or JavaScript file; None when nothing folds. `modules`:
    constants of the skill's other Python modules ("pkg.mod.NAME" -> value)."""
    imports = bool(modules) and any(f".{name.rsplit('.', 1)[-1]}" in tf.text or
                                    f" {name.rsplit('.', 1)[-1]}" in tf.text
                                    for name in modules)
    if tf.lang == "shell" and len(tf.text) <= MAX_SOURCE:
        from aiaudit.supply_chain.shfold import fold_shell
        return fold_shell(tf.text)
    if tf.lang not in ("python", "js") or len(tf.text) > MAX_SOURCE or depth > MAX_DEPTH \
            or not (worth_folding(tf.text) or imports and tf.lang == "python"):
        return None
    if tf.lang == "python":
        from aiaudit.supply_chain.pyfold import fold_python
        result = fold_python(tf.text, modules)
    else:
        from aiaudit.supply_chain.jsfold import fold_js
        from aiaudit.supply_chain.obfio import unroll
        unrolled = unroll(tf.text)
        result = fold_js(unrolled or tf.text)
        if unrolled is not None:  # string-array reads written out: those lines changed too
            result = result or Folded(unrolled)
            before = tf.text.split("\n")
            for n, line in enumerate(unrolled.split("\n"), 1):
                if n > len(before) or line != before[n - 1]:
                    result.replaced.setdefault(n, []).append(line[:200])
    if result is None or (not result.replaced and not result.inner):
        return None
    return result
