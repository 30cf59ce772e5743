"""obfuscator.io's rotated string array, folded back (parsed as text, never run).

javascript-obfuscator (obfuscator.io), the most common JavaScript obfuscator in real npm
malware, moves every string into one array returned by a function, reads it through a decoder
`DEC(0x1a2)` (index minus a fixed offset) and rotates the array at start-up with
`arr.push(arr.shift())` until a checksum of `parseInt(DEC(..))` terms equals a constant. Here
the rotation is replayed (the checksum is plain arithmetic, evaluated over numbers only), and
every `DEC(0x..)` call, directly or through an alias (`const a = DEC`), is replaced by its
string, on the same line, so the JavaScript folder and the rules read the plain program.
The 'base64' `stringArrayEncoding` (a lower-case-first alphabet) is decoded and function
wrappers (`W(a, b)` returning `DEC(b - K, a)`) unwrapped; 'rc4' arrays are left as they are.
"""

from __future__ import annotations

import json
import math
import re

_STR = r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\""
_ARRAY_FN = re.compile(r"function\s+(?P<name>[\w$]+)\(\)\{(?:const|var|let)\s+(?P<arr>[\w$]+)="
                       r"\[(?P<items>(?:\s*(?:" + _STR + r")\s*,?)*)\];\s*(?P=name)=function\(\)"
                       r"\{return\s+(?P=arr);?\};?\s*return\s+(?P=name)\(\);?\}")
_DECODER = re.compile(r"function\s+(?P<name>[\w$]+)\((?P<a>[\w$]+),[\w$]+\)\{")
_OFFSET = r"(?P=a)=(?P=a)-(?P<off>0x[0-9a-fA-F]+|\d+);"
_CHECK = re.compile(r"=(?P<expr>[^;{}]*parseInt[^;{}]*);if\([\w$]+===[\w$]+\)break;")
_TARGET = r"\}\(\s*NAME\s*,\s*(?P<target>0x[0-9a-fA-F]+|\d+)\s*\)\)"
_ARITH = re.compile(r"^[\sP()0-9a-fA-Fx+\-*/.]*$")
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


def _items(text: str) -> list[str]:
    from aiaudit.supply_chain.jsfold import _unescape

    return [_unescape(m.group(0)[1:-1]) for m in re.finditer(_STR, text)]


def _parse_int(text: str) -> float:
    m = _INT.match(text)
    return float(int(m.group(0))) if m else math.nan


def _checksum(expr: str, calls: re.Pattern[str]) -> tuple[str, list[int]] | None:
    """The checksum as Python arithmetic over P(i) and the indices it reads."""
    idx: list[int] = []

    def one(m: re.Match[str]) -> str:
        idx.append(int(m.group("i"), 0))
        return f"P({len(idx) - 1})"

    code = re.sub(r"parseInt\(\s*(?:" + calls.pattern + r")\s*\)", one, expr)
    return (code, idx) if idx and _ARITH.match(code) and "P(" in code else None


def _value(code: str, strings: list[str]) -> float:
    def p(k: int) -> float:
        return _parse_int(strings[k])

    try:  # the text is digits, operators, parentheses and P(k) only (checked by _ARITH)
        return float(eval(code, {"__builtins__": {}, "P": p}))  # noqa: S307
    except (ZeroDivisionError, IndexError, OverflowError, TypeError, ValueError):
        return math.nan


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
            decoded = strings
            if _B64_ALPHABET in window and "0x100" not in window:  # 'base64', not 'rc4'
                decoded = [_b64(v) for v in strings]
            elif re.search(r"atob|charCodeAt|fromCharCode|decodeURIComponent",
                           body[:off.end() + 200]):
                continue  # an encoding this module does not know
            fixed = _replace(out, dec.group("name"), int(off.group("off"), 0), decoded, name)
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
    'function'): each call `W(0x4f0, 0x4ea)` written as the decoder call it makes."""
    wrappers = re.finditer(
        r"function\s+([\w$]+)\(([\w$]+),([\w$]+)\)\{return\s+" + re.escape(dec) +
        r"\(\s*([\w$]+)\s*([-+])\s*(" + _NUM + r")\s*,\s*[\w$]+\s*\);?\}", source)
    for w in list(wrappers)[:200]:
        name, params, sign, k = w.group(1), (w.group(2), w.group(3)), w.group(5), _num(w.group(6))
        if w.group(4) not in params:
            continue
        pick = params.index(w.group(4))

        def call(m: re.Match[str], pick: int = pick, sign: str = sign, k: int = k) -> str:
            value = _num(m.group(pick + 1))
            return f"{dec}({hex(value - k if sign == '-' else value + k)})"
        source = re.sub(r"(?<![\w$.])" + re.escape(name) + r"\(\s*(" + _NUM + r")\s*,\s*(" +
                        _NUM + r")\s*\)", call, source)
    return source


def _replace(source: str, dec: str, offset: int, strings: list[str], arr_fn: str
             ) -> str | None:
    source = _unwrap(source, dec) if "return " + dec + "(" in source else source
    names = {dec} | {m.group(1) for m in re.finditer(
        r"([\w$]+)\s*=\s*" + re.escape(dec) + r"\b(?!\s*\()", source)}
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    calls = re.compile(r"(?<![\w$.])(?:" + alt + r")\(\s*(?P<i>0x[0-9a-fA-F]+|\d+)\s*"
                       r"(?:,\s*[^()]{0,40})?\)")
    rotated = strings
    target = re.search(_TARGET.replace("NAME", arr_fn), source)
    check = _CHECK.search(source[:target.start()]) if target else None
    if target is not None and check is not None:
        parsed = _checksum(check.group("expr"), calls)
        if parsed is None:
            return None
        code, idx = parsed
        want = float(int(target.group("target"), 0))
        for k in range(min(len(strings), MAX_ROTATIONS)):
            rotated = strings[k:] + strings[:k]
            picked = [rotated[i - offset] if 0 <= i - offset < len(rotated) else ""
                      for i in idx]
            if _value(code, picked) == want:
                break
        else:
            return None

    def one(m: re.Match[str]) -> str:
        i = int(m.group("i"), 0) - offset
        return json.dumps(rotated[i]) if 0 <= i < len(rotated) else m.group(0)

    return calls.sub(one, source)
