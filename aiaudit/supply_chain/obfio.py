"""obfuscator.io's rotated string array, folded back (parsed as text, never run).

javascript-obfuscator (obfuscator.io), the most common JavaScript obfuscator in real npm
malware, moves every string into one array returned by a function, reads it through a decoder
`DEC(0x1a2)` (index minus a fixed offset) and rotates the array at start-up with
`arr.push(arr.shift())` until a checksum of `parseInt(DEC(..))` terms equals a constant. Here
the rotation is replayed (the checksum is plain arithmetic, evaluated over numbers only), and
every `DEC(0x..)` call, directly or through an alias (`const a = DEC`), is replaced by its
string, on the same line, so the JavaScript folder and the rules read the plain program.
The 'base64' `stringArrayEncoding` (a lower-case-first alphabet) is decoded, so is 'rc4'
(the same Base64, then RC4 keyed by each call's second argument, `DEC(0x1a2, 'k!3Z')`), and
function wrappers (`W(a, b)` returning `DEC(b - K, a)`) unwrapped.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re

_STR = r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\""
# the items as one unambiguous run (string, comma, string...): `(\s*STR\s*,?)*` could split
# the blanks between items many ways and backtracked exponentially on an unclosed array
_ITEMS = r"\s*(?:(?:" + _STR + r")\s*(?:,\s*(?:" + _STR + r")\s*)*,?\s*)?"
_ARRAY_FN = re.compile(r"function\s+(?P<name>[\w$]+)\(\)\{(?:const|var|let)\s+(?P<arr>[\w$]+)="
                       r"\[(?P<items>" + _ITEMS + r")\];\s*(?P=name)=function\(\)"
                       r"\{return\s+(?P=arr);?\};?\s*return\s+(?P=name)\(\);?\}")
_DECODER = re.compile(r"function\s+(?P<name>[\w$]+)\((?P<a>[\w$]+),[\w$]+\)\{")
_OFFSET = r"(?P=a)=(?P=a)-(?P<off>0x[0-9a-fA-F]+|\d+);"
_CHECK = re.compile(r"=(?P<expr>[^;{}]*parseInt[^;{}]*);if\([\w$]+===[\w$]+\)break;")
_TARGET = r"\}\(\s*NAME\s*,\s*(?P<target>0x[0-9a-fA-F]+|\d+)\s*\)\)"
MAX_CHECKSUM_CHARS = 4_000  # obfuscator.io's checksums are a few hundred characters
_INT = re.compile(r"\s*[+-]?\d+")
MAX_ROTATIONS = 5_000


_B64_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/="
_TO_STD = str.maketrans("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _b64(value: str) -> str:
    """stringArrayEncoding 'base64': Base64 over a lower-case-first alphabet, then the bytes
    read as UTF-8 (decodeURIComponent of their %XX form)."""
    import base64
    import binascii

    text = value.translate(_TO_STD).rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return value


def _keystream(key: str, length: int) -> list[int]:
    """RC4's keystream for a key, `length` bytes: it never depends on the text, so one
    file's decoder calls that share a key (every rotation tried reads the same keys) derive
    it once."""
    s, j = list(range(256)), 0
    codes = [ord(c) for c in key]
    size = len(codes)
    for i in range(256):  # `& 255` is `% 256` for these non-negative sums
        si = s[i]
        j = (j + si + codes[i % size]) & 255
        s[i], s[j] = s[j], si
    i = j = 0
    out = [0] * length
    for n in range(length):
        i = (i + 1) & 255
        si = s[i]
        j = (j + si) & 255
        sj = s[j]
        s[i], s[j] = sj, si
        out[n] = s[(si + sj) & 255]
    return out


def _rc4(text: str, key: str, streams: dict[str, list[int]] | None = None) -> str:
    """stringArrayEncoding 'rc4' after its Base64 step: RC4 over the characters' codes
    (streams: keystreams already derived, by key, reused and extended here)."""
    streams = {} if streams is None else streams
    stream = streams.get(key)
    if stream is None or len(stream) < len(text):
        stream = streams[key] = _keystream(key, max(len(text), 64))
    # the stream is at least as long as the text
    return "".join([chr(ord(ch) ^ k) for ch, k in zip(text, stream, strict=False)])


def _items(text: str) -> list[str]:
    from aiaudit.supply_chain.jsfold import _unescape

    return [_unescape(m.group(0)[1:-1]) for m in re.finditer(_STR, text)]


def _parse_int(text: str) -> float:
    m = _INT.match(text)
    return float(int(m.group(0))) if m else math.nan


def _checksum(expr: str, calls: re.Pattern[str]
              ) -> tuple[ast.expr, list[tuple[int, str | None]]] | None:
    """The checksum as an arithmetic tree over P(i) and the (index, key) pairs it reads."""
    idx: list[tuple[int, str | None]] = []

    def one(m: re.Match[str]) -> str:
        idx.append((int(m.group("i"), 0), _key(m.group("k"))))
        return f"P({len(idx) - 1})"

    if len(expr) > MAX_CHECKSUM_CHARS:
        return None
    code = re.sub(r"parseInt\(\s*(?:" + calls.pattern + r")\s*\)", one, expr)
    tree = _arithmetic(code) if idx else None
    return (tree, idx) if tree is not None else None


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv}


def _arithmetic(code: str) -> ast.expr | None:
    """The checksum's syntax tree when it is numbers, + - * /, unary signs, parentheses and
    P(<index>) only (never run as code: `_value` walks it); None for anything else."""
    from aiaudit import astlock

    try:
        tree = astlock.parse(code.replace("\n", " "), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Expression | ast.Load) or type(node) in _OPS:
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            continue
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            continue
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            continue
        if isinstance(node, ast.Name) and node.id == "P":
            continue
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "P" and len(node.args) == 1 and not node.keywords
                and isinstance(node.args[0], ast.Constant) and type(node.args[0].value) is int):
            continue
        if isinstance(node, ast.USub | ast.UAdd):
            continue
        return None
    return tree.body if isinstance(tree, ast.Expression) else None


def _value(tree: ast.expr, strings: list[str]) -> float:
    """The checksum over the picked strings' parseInt values, NaN where JavaScript's would
    be NaN or the arithmetic fails."""

    def walk(node: ast.expr) -> float:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            inner = walk(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        assert isinstance(node, ast.Call)  # P(k), checked by _arithmetic
        return _parse_int(strings[node.args[0].value])  # type: ignore[attr-defined]

    try:
        return walk(tree)
    except (ZeroDivisionError, IndexError, OverflowError, RecursionError):
        return math.nan


def _key(arg: str | None) -> str | None:
    """An rc4 key written as a string literal; None for anything else."""
    if not arg or len(arg) < 2 or arg[0] not in "'\"" or arg[-1] != arg[0]:
        return None
    from aiaudit.supply_chain.jsfold import _unescape

    return _unescape(arg[1:-1]) or None


def unroll(source: str) -> str | None:
    """The source with obfuscator.io string-array reads replaced by their strings; None when
    the file has no such array or the rotation does not check out."""
    if "push" not in source or "shift" not in source:
        return None
    out = source
    for arr in _ARRAY_FN.finditer(source):
        strings = _items(arr.group("items"))
        name = re.escape(arr.group("name"))
        for dec in _DECODER.finditer(source):
            body = source[dec.end():dec.end() + 400]
            off = re.match(r"\s*" + _OFFSET.replace("(?P=a)", re.escape(dec.group("a"))), body)
            if off is None:
                off = re.search(_OFFSET.replace("(?P=a)", re.escape(dec.group("a"))), body)
            if off is None or not re.search(name + r"\(\)", body):
                continue
            window = source[dec.end():dec.end() + 2_500]
            decoded, rc4 = strings, False
            if _B64_ALPHABET in window and "0x100" not in window:  # 'base64', not 'rc4'
                decoded = [_b64(v) for v in strings]
            elif _B64_ALPHABET in window and "0x100" in window and "charCodeAt" in window:
                decoded, rc4 = [_b64(v) for v in strings], True  # RC4 per call, keyed
            elif re.search(r"atob|charCodeAt|fromCharCode|decodeURIComponent",
                           body[:off.end() + 200]):
                continue  # an encoding this module does not know
            fixed = _replace(out, dec.group("name"), int(off.group("off"), 0), decoded, name,
                             rc4)
            if fixed is not None:
                out = fixed
                break
    return out if out != source else None


_NUM = r"-?\s*(?:0x[0-9a-fA-F]+|\d+)"


def _num(text: str) -> int:
    text = text.replace(" ", "")
    return -int(text[1:], 0) if text.startswith("-") else int(text, 0)


def _unwrap(source: str, dec: str) -> str:
    """`function W(a, b) { return DEC(b - 0x38f, a); }` wrappers (stringArrayWrappersType
    'function'), and wrappers of wrappers: each call `W(0x4f0, 'k')` written as the decoder
    call it makes (`DEC(0x161, 'k')`, the key kept for rc4)."""
    found = re.finditer(
        r"function\s+([\w$]+)\(([\w$]+),([\w$]+)\)\{return\s+([\w$]+)"
        r"\(\s*([\w$]+)\s*([-+])\s*(" + _NUM + r")\s*,\s*([\w$]+)\s*\);?\}", source)
    wrappers = {w.group(1): w for w in list(found)[:400] if w.group(5) in (w.group(2), w.group(3))}
    reaching = {dec}  # the decoder and the wrappers that end in it
    for _ in range(6):
        more = reaching | {n for n, w in wrappers.items() if w.group(4) in reaching}
        if more == reaching:
            break
        reaching = more
    arg = r"(" + _NUM + r"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\")"
    for _ in range(6):  # outer wrappers become calls of inner ones, then of the decoder
        before = source
        for name, w in wrappers.items():
            if name not in reaching:
                continue
            params, sign, k = (w.group(2), w.group(3)), w.group(6), _num(w.group(7))
            pick = params.index(w.group(5))
            other = params.index(w.group(8)) if w.group(8) in params else None

            def call(m: re.Match[str], pick: int = pick, sign: str = sign, k: int = k,
                     other: int | None = other, target: str = w.group(4)) -> str:
                value = _num(m.group(pick + 1))
                key = f",{m.group(other + 1)}" if other is not None else ""  # rc4's key
                return f"{target}({hex(value - k if sign == '-' else value + k)}{key})"
            source = re.sub(r"(?<![\w$.])" + re.escape(name) + r"\(\s*" + arg + r"\s*,\s*" +
                            arg + r"\s*\)", call, source)
        if source == before:
            break
    return source


def _replace(source: str, dec: str, offset: int, strings: list[str], arr_fn: str,
             rc4: bool = False) -> str | None:
    source = _unwrap(source, dec) if "return " + dec + "(" in source else source
    names = {dec}
    for _ in range(4):  # aliases of aliases (`const a = DEC` at the top, `b = a` in a function)
        alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        more = names | {m.group(1) for m in re.finditer(
            r"(?<![\w$])([\w$]+)\s*=\s*(?:" + alt + r")(?![\w$])(?!\s*\()", source)}
        if more == names:
            break
        names = more
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    calls = re.compile(r"(?<![\w$.])(?:" + alt + r")\(\s*(?P<i>0x[0-9a-fA-F]+|\d+)\s*"
                       r"(?:,\s*(?P<k>'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|[^()]{0,40}))?\)")
    memo: dict[tuple[str, str | None], str] = {}
    streams: dict[str, list[int]] = {}

    def text(raw: str, key: str | None) -> str:
        """A string as the decoder returns it (rc4: decrypted with the call's key)."""
        if not rc4:
            return raw
        if key is None:
            return ""
        if (raw, key) not in memo:
            memo[(raw, key)] = _rc4(raw, key, streams)
        return memo[(raw, key)]

    rotated = strings
    target = re.search(_TARGET.replace("NAME", arr_fn), source)
    check = _CHECK.search(source[:target.start()]) if target else None
    if target is not None and check is not None:
        parsed = _checksum(check.group("expr"), calls)
        if parsed is None:
            return None
        tree, idx = parsed
        want = float(int(target.group("target"), 0))
        for k in range(min(len(strings), MAX_ROTATIONS)):
            rotated = strings[k:] + strings[:k]
            picked = [text(rotated[i - offset], key) if 0 <= i - offset < len(rotated) else ""
                      for i, key in idx]
            if _value(tree, picked) == want:
                break
        else:
            return None

    def one(m: re.Match[str]) -> str:
        i = int(m.group("i"), 0) - offset
        if not 0 <= i < len(rotated) or rc4 and _key(m.group("k")) is None:
            return m.group(0)
        return json.dumps(text(rotated[i], _key(m.group("k"))))

    return calls.sub(one, source)
