"""Constant folding over a Python syntax tree (`ast`: parsed, never compiled or run).

Knows str/bytes/int operations, `chr`/`ord`/`bytes`, `''.join`, slicing (`[::-1]`), the
decoders of base64/binascii/codecs/zlib/bz2/lzma, `__import__`/`importlib.import_module`
and `getattr` with computed names, names assigned once to a constant, comprehensions over
constant lists, and `exec`/`eval` of `compile(...)`d or decoded text (handed back as inner
code). Anything else is unknown and left as written.
"""

from __future__ import annotations

import ast
import itertools
import operator
import re
from typing import Any

from aiaudit import astlock
from aiaudit.supply_chain.deobfuscate import (
    HOME_VARS,
    MAX_VALUE,
    UNKNOWN,
    Code,
    Folded,
    Inner,
    PathStr,
    Ref,
    _bounded,
    _bytes,
    _str,
    decode_layer,
    join_path,
    literal,
    splice,
)
from aiaudit.supply_chain.textctx import line_start

_BUILTINS = {"chr", "ord", "bytes", "bytearray", "str", "getattr", "__import__", "exec", "eval",
             "compile", "map", "list", "tuple", "reversed", "sorted", "int", "len", "range",
             "__builtins__", "globals", "locals", "vars"}
_INT_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
            ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.BitXor: operator.xor,
            ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.LShift: operator.lshift,
            ast.RShift: operator.rshift}
_DECODERS = {"base64.b64decode", "base64.decodebytes", "base64.standard_b64decode",
             "base64.urlsafe_b64decode", "base64.b32decode", "base64.b16decode",
             "base64.b85decode", "base64.a85decode", "binascii.unhexlify", "binascii.a2b_hex",
             "binascii.a2b_base64", "bytes.fromhex", "zlib.decompress", "gzip.decompress",
             "bz2.decompress", "lzma.decompress"}
# os.path / pathlib calls folded to a path (the home directory as `~`)
_PATH_CALLS = {"os.path.join", "posixpath.join", "ntpath.join", "os.path.expanduser",
               "os.path.expandvars", "os.path.abspath", "os.path.normpath", "os.path.realpath",
               "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath",
               "pathlib.Path.home", "os.getenv", "os.environ.get"}
_EXEC = {"exec", "eval", "builtins.exec", "builtins.eval", "__builtins__.exec",
         "__builtins__.eval"}


# Decoders whose last name part does not say the layer (`bz2.decompress` is no zlib stream).
_LAYER_OF = {"bytes.fromhex": "fromhex", "gzip.decompress": "gzip", "bz2.decompress": "bz2",
             "lzma.decompress": "lzma"}


def _trivial(node: ast.AST, segment_of: Any) -> bool:
    """A node already written as its value: replacing it would add nothing."""
    if isinstance(node, ast.Constant):
        segment = segment_of(node)
        if "\\" in segment:
            return False  # escapes (\x63\x75...) hide the text
        quotes = segment.count("'") + segment.count('"')
        return quotes <= 2 or segment[:3] in ("'''", '"""')
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Attribute):
        return _trivial(node.value, segment_of) and not isinstance(node.value, ast.Constant)
    return False


class _Folder:
    def __init__(self, tree: ast.Module, source: str,
                 modules: dict[str, Any] | None = None):
        self.modules = modules or {}  # "pkg.mod.NAME" -> constant, from the skill's other files
        self.source = source
        self.lines = source.split("\n")
        self._starts: list[int] | None = None
        self._offsets = 0  # offsets asked before the index
        self.memo: dict[int, Any] = {}
        self.env: dict[str, ast.AST] = {}
        self.scope: list[dict[str, Any]] = []
        self.inner: list[Inner] = []
        self.aliases: dict[str, str] = {}
        counts: dict[str, int] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        counts[target.id] = counts.get(target.id, 0) + 1
                        self.env[target.id] = node.value
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.NamedExpr) and \
                    isinstance(getattr(node, "target", None), ast.Name):
                counts[node.target.id] = counts.get(node.target.id, 0) + 2
            elif isinstance(node, ast.Import):
                for a in node.names:
                    self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname \
                        else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, ast.FunctionDef | ast.Lambda):
                for arg in node.args.args:
                    counts[arg.arg] = counts.get(arg.arg, 0) + 2
        self.env = {k: v for k, v in self.env.items() if counts.get(k) == 1}

    # -- evaluation -------------------------------------------------------------------------

    def value(self, node: ast.AST) -> Any:
        key = id(node)
        if key in self.memo and not self.scope:
            return self.memo[key]
        if not self.scope:
            self.memo[key] = UNKNOWN  # a name assigned from itself does not loop
        try:
            result = _bounded(self._value(node))
        except (ValueError, TypeError, OverflowError, IndexError, KeyError, ZeroDivisionError,
                MemoryError, RecursionError, AttributeError, UnicodeError):
            result = UNKNOWN
        if not self.scope:
            self.memo[key] = result
        return result

    def _name(self, name: str) -> Any:
        for frame in reversed(self.scope):
            if name in frame:
                return frame[name]
        if name in self.env:
            return self.value(self.env[name])
        if name in self.aliases:
            if self.aliases[name] in self.modules:  # from cfg.endpoints import MIRROR
                return self.modules[self.aliases[name]]
            return Ref(self.aliases[name], name)
        if name in _BUILTINS:
            return Ref(name)
        return UNKNOWN

    def _value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                v = self.value(part.value) if isinstance(part, ast.FormattedValue) \
                    else self.value(part)
                if v is UNKNOWN or isinstance(v, Ref):
                    return UNKNOWN
                parts.append(str(v) if not isinstance(v, bytes) else repr(v))
            return "".join(parts)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.value(e) for e in node.elts]
            return UNKNOWN if any(i is UNKNOWN for i in items) else items
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self.value(node.operand)
            return -v if isinstance(v, int) else UNKNOWN
        if isinstance(node, ast.Subscript):
            base = self.value(node.value)
            if isinstance(base, Ref) and base.name == "os.environ":  # os.environ["HOME"]
                return PathStr("~") if self.value(node.slice) in HOME_VARS else UNKNOWN
            if not isinstance(base, str | bytes | list):
                return UNKNOWN
            if isinstance(node.slice, ast.Slice):
                parts = [None if p is None else self.value(p)
                         for p in (node.slice.lower, node.slice.upper, node.slice.step)]
                if any(p is UNKNOWN for p in parts):
                    return UNKNOWN
                return base[slice(*parts)]
            index = self.value(node.slice)
            return base[index] if isinstance(index, int) else UNKNOWN
        if isinstance(node, ast.Attribute):
            base = self.value(node.value)
            if isinstance(base, Ref):
                if f"{base.name}.{node.attr}" in self.modules:  # endpoints.MIRROR
                    return self.modules[f"{base.name}.{node.attr}"]
                return base.attr(node.attr)
            if isinstance(base, str | bytes):
                return ("method", base, node.attr)
            return UNKNOWN
        if isinstance(node, ast.ListComp | ast.GeneratorExp):
            return self._comprehension(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        return UNKNOWN

    def _binop(self, node: ast.BinOp) -> Any:
        left, right = self.value(node.left), self.value(node.right)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if isinstance(node.op, ast.Div) and isinstance(left, PathStr) and isinstance(right, str):
            return join_path(left, right)
        if isinstance(node.op, ast.Add) and type(left) is type(right) and \
                isinstance(left, str | bytes | list):
            return left + right
        if isinstance(node.op, ast.Mult) and isinstance(left, str | bytes) and \
                isinstance(right, int) and len(left) * right <= MAX_VALUE:
            return left * right
        if isinstance(node.op, ast.Mod) and isinstance(left, str):
            return left % (tuple(right) if isinstance(right, list) else right)
        if isinstance(left, int) and isinstance(right, int) and type(node.op) in _INT_OPS:
            if isinstance(node.op, ast.LShift) and right > 64:
                return UNKNOWN
            return _INT_OPS[type(node.op)](left, right)
        return UNKNOWN

    def _comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> Any:
        if len(node.generators) != 1:
            return UNKNOWN
        gen = node.generators[0]
        items = self.value(gen.iter)
        if isinstance(items, str | bytes):
            items = list(items)
        if not isinstance(items, list) or not isinstance(gen.target, ast.Name) or \
                len(items) > MAX_VALUE // 8:
            return UNKNOWN
        out = []
        for item in items:
            self.scope.append({gen.target.id: item})
            try:
                if all(self.value(cond) is True for cond in gen.ifs):
                    v = self.value(node.elt)
                    if v is UNKNOWN:
                        return UNKNOWN
                    out.append(v)
            finally:
                self.scope.pop()
        return out

    def _call(self, node: ast.Call) -> Any:
        func = self.value(node.func)
        args = [self.value(a) for a in node.args]
        kwargs = {k.arg: self.value(k.value) for k in node.keywords if k.arg}
        if isinstance(func, tuple) and func[0] == "method":
            return self._method(func[1], func[2], args)
        if not isinstance(func, Ref):
            return UNKNOWN
        name = func.name
        if name in _EXEC and args:
            text = _str(args[0])
            if text is not None:
                self.inner.append(Inner(node.lineno, "python", text, f"{name}() of folded code"))
            return UNKNOWN
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if name in ("__import__", "importlib.import_module") and args and \
                isinstance(args[0], str):
            return Ref(args[0], f"__import__({args[0]!r})" if "." in args[0] else args[0])
        if name == "getattr" and len(args) >= 2 and isinstance(args[1], str):
            base = args[0]
            if isinstance(base, Ref):
                if base.name in ("__builtins__", "builtins"):
                    return Ref(args[1])
                return base.attr(args[1])
            return UNKNOWN
        if name in _PATH_CALLS:
            return self._path_call(name, args)
        if name in ("globals", "locals", "vars"):
            return Ref("__builtins__", "")
        if name == "compile" and args:
            text = _str(args[0])
            return Code(text) if text is not None else UNKNOWN
        if name == "chr" and args and isinstance(args[0], int):
            return chr(args[0])
        if name == "ord" and args and isinstance(args[0], str) and len(args[0]) == 1:
            return ord(args[0])
        if name in ("bytes", "bytearray") and args:
            if isinstance(args[0], list) and all(isinstance(i, int) for i in args[0]):
                return bytes(args[0])
            if isinstance(args[0], str) and len(args) > 1:
                return args[0].encode(str(args[1]))
            return UNKNOWN
        if name == "str" and args:
            if isinstance(args[0], bytes) and len(args) > 1:
                return args[0].decode(str(args[1]), "replace")
            return args[0] if isinstance(args[0], str) else UNKNOWN
        if name in ("list", "tuple", "sorted") and args and isinstance(args[0], list | str):
            return sorted(args[0]) if name == "sorted" else list(args[0])
        if name == "reversed" and args and isinstance(args[0], list | str):
            return list(reversed(args[0]))
        if name == "map" and len(args) == 2 and isinstance(args[0], Ref) and \
                args[0].name == "chr" and isinstance(args[1], list):
            return [chr(i) for i in args[1]]
        if name == "int" and args and isinstance(args[0], str):
            return int(args[0], args[1] if len(args) > 1 and isinstance(args[1], int) else 10)
        if name in _DECODERS and args:
            return decode_layer(_LAYER_OF.get(name, name.split(".")[-1]), args[0])
        if name == "codecs.decode" and args:
            kind = str(args[1] if len(args) > 1 else kwargs.get("encoding", "utf-8")).lower()
            kind = kind.replace("-", "_")
            if kind in ("rot13", "rot_13", "hex", "hex_codec", "base64", "base_64", "zlib",
                        "zlib_codec", "bz2"):
                return decode_layer(kind.replace("base_64", "base64"), args[0])
            raw = _bytes(args[0])
            return raw.decode(kind, "replace") if raw is not None else UNKNOWN
        return UNKNOWN

    @staticmethod
    def _path_call(name: str, args: list[Any]) -> Any:
        """The path functions of os.path and pathlib, the home directory written `~`."""
        short = name.rsplit(".", 1)[-1]
        if short == "home":
            return PathStr("~")
        if short in ("getenv", "get") and args:
            return PathStr("~") if args[0] in HOME_VARS else UNKNOWN
        if not args or not all(isinstance(a, str) for a in args):
            return UNKNOWN
        if short == "join" or short in ("Path", "PurePath", "PosixPath", "PurePosixPath"):
            return join_path(*args)
        if short in ("expanduser", "abspath", "normpath", "realpath"):
            return PathStr(args[0])
        if short == "expandvars":
            return PathStr(re.sub(r"\$\{?(?:HOME|USERPROFILE)\}?", "~", args[0]))
        return UNKNOWN

    def _method(self, base: Any, name: str, args: list[Any]) -> Any:
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if isinstance(base, PathStr) and name in ("joinpath", "expanduser", "resolve",
                                                  "absolute", "with_name", "with_suffix"):
            if name == "joinpath":
                return join_path(base, *args)
            if name in ("with_name", "with_suffix") and args and isinstance(args[0], str):
                head, _, tail = base.rpartition("/")
                stem = tail.rsplit(".", 1)[0] if "." in tail[1:] else tail
                new = args[0] if name == "with_name" else stem + args[0]
                return PathStr(f"{head}/{new}" if head else new)
            return base
        if name == "join" and args and isinstance(args[0], list):
            items = args[0]
            if isinstance(base, str) and all(isinstance(i, str) for i in items):
                return base.join(items)
            if isinstance(base, bytes) and all(isinstance(i, bytes) for i in items):
                return base.join(items)
            return UNKNOWN
        if name == "decode" and isinstance(base, bytes):
            enc = str(args[0]) if args else "utf-8"
            if enc.lower() in ("base64", "hex", "rot13", "zlib"):
                return decode_layer(enc.lower(), base)
            return base.decode(enc, "replace")
        if name == "encode" and isinstance(base, str):
            enc = str(args[0]).lower().replace("-", "_") if args else "utf_8"
            if enc in ("rot13", "rot_13"):
                return decode_layer("rot13", base)
            return base.encode(enc)
        if name in ("replace", "lower", "upper", "strip", "lstrip", "rstrip", "split",
                    "swapcase", "title", "zfill", "format") and isinstance(base, str):
            result = getattr(base, name)(*args)
            return result if len(str(result)) <= MAX_VALUE else UNKNOWN
        if name == "fromhex" and isinstance(base, str):
            return decode_layer("fromhex", base)
        return UNKNOWN

    # -- rewriting --------------------------------------------------------------------------

    def offset(self, lineno: int, col: int) -> int:
        """Character offset of an ast (line, UTF-8 byte column) position."""
        if self._starts is None and self._offsets < 32:  # a few edits: no index of every line
            self._offsets += 1
            start = line_start(self.source, lineno)
            if start is not None:
                return start + self._column(lineno, col)
        if self._starts is None:  # only files with something to replace need the index
            self._starts = list(itertools.accumulate(map(len, self.lines), initial=0))
        return self._starts[lineno - 1] + lineno - 1 + self._column(lineno, col)

    def _column(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        if line.isascii():
            return col
        return len(line.encode("utf-8")[:col].decode("utf-8", "replace"))

    def segment(self, node: ast.AST) -> str:
        end_line = getattr(node, "end_lineno", None)
        if end_line is None:
            return ""
        if end_line == node.lineno:  # the usual case: no file-wide index needed
            line = self.lines[node.lineno - 1]
            return line[self._column(node.lineno, node.col_offset):
                        self._column(node.lineno, node.end_col_offset)]
        return self.source[self.offset(node.lineno, node.col_offset):
                           self.offset(end_line, node.end_col_offset)]

    def edits(self, tree: ast.AST) -> list[tuple[int, int, str, int]]:
        out: list[tuple[int, int, str, int]] = []
        stack = [tree]
        while stack:
            node = stack.pop()
            alias = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                node.id in self.env and isinstance(self.value(node), Ref)  # run = getattr(...)
            if isinstance(node, ast.expr) and (alias or not _trivial(node, self.segment)):
                value = self.value(node)
                text = None if value is UNKNOWN else literal(value, "python")
                if text is not None and hasattr(node, "end_lineno"):
                    start = self.offset(node.lineno, node.col_offset)
                    end = self.offset(node.end_lineno or node.lineno, node.end_col_offset or 0)
                    if self.source[start:end] != text:
                        out.append((start, end, text, node.lineno))
                        self._long_text(value, node.lineno)
                        continue
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
        return out

    def _long_text(self, value: Any, line: int) -> None:
        text = _str(value) if not isinstance(value, Ref) else None
        if text and "\n" in text.strip() and len(text) >= 40:
            self.inner.append(Inner(line, "text", text, "folded text"))


def module_constants(name: str, source: str) -> dict[str, Any]:
    """{"NAME": value} of a module's names assigned once to a constant (folded), for the
    files that import it: a command split across a skill's files is folded whole."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    folder = _Folder(tree, source)
    out = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            if isinstance(target, ast.Name) and target.id in folder.env:
                value = folder.value(folder.env[target.id])
                if isinstance(value, str | bytes | int) and not isinstance(value, bool):
                    out[f"{name}.{target.id}"] = value
    return out


def fold_python(source: str, modules: dict[str, Any] | None = None) -> Folded | None:
    try:
        tree = astlock.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    folder = _Folder(tree, source, modules)
    try:
        edits = folder.edits(tree)
    except RecursionError:
        return None
    replaced: dict[int, list[str]] = {}
    for _, _, text, line in edits:
        replaced.setdefault(line, []).append(text)
    folded = splice(source, [(s, e, t) for s, e, t, _ in edits])
    return Folded(folded, replaced, folder.inner)


__all__ = ["fold_python", "module_constants", "MAX_VALUE"]
