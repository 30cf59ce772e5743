"""Constant folding over a JavaScript/TypeScript syntax tree (tree-sitter: parsed, never run).

tree-sitter's JavaScript grammar (PyPI `tree-sitter-javascript`) rather than a pure-Python
parser such as esprima: it reads modern syntax (optional chaining, classes, top-level await,
TypeScript-ish files) and recovers from errors, so minified or broken payloads still give a
tree, and it parses in C (the audit reviews thousands of files). Knows string `+`, template
strings without unknown parts, escapes, `String.fromCharCode` (also over arrays, `.map` with an
arrow), `.join`/`.split`/`.reverse`, `atob`, `Buffer.from(s, 'base64'|'hex').toString()`,
`unescape`/`decodeURIComponent`, zlib's `inflateSync`/`gunzipSync`, `require()` and
`obj['ev'+'al']` with computed names, `const`/single-assignment names; the text given to
`eval`, `Function` or `vm.run*` comes back as inner code.
"""

from __future__ import annotations

import re
import urllib.parse
from functools import lru_cache
from typing import Any

from aiaudit.supply_chain.deobfuscate import (
    HOME_VARS,
    MAX_VALUE,
    UNKNOWN,
    Folded,
    Inner,
    PathStr,
    Ref,
    _bounded,
    _str,
    decode_layer,
    join_path,
    literal,
)

_GLOBALS = {"String", "Buffer", "atob", "unescape", "decodeURIComponent", "decodeURI", "eval",
            "Function", "require", "global", "globalThis", "window", "self", "process",
            "Array", "Object", "parseInt", "Number"}
_PATH_MODULES = ("os", "path", "path/posix", "fs", "fs/promises", "child_process")
# Node's path functions folded to a path, the home directory written `~`
_PATH_CALLS = {"os.homedir", "path.join", "path.resolve", "path.posix.join", "path.normalize",
               "path/posix.join", "path.posix.resolve"}
_GLOBAL_OBJECTS = {"global", "globalThis", "window", "self"}
_EXEC = {"eval", "Function", "vm.runInThisContext", "vm.runInNewContext", "vm.runInContext",
         "vm.Script", "setTimeout", "setInterval"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|[0-7]{1,3}|.)",
                     re.S)
_CANDIDATES = {"string", "template_string", "binary_expression", "call_expression",
               "new_expression", "member_expression", "subscript_expression",
               "parenthesized_expression", "array"}
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter_javascript
    from tree_sitter import Language, Parser
    return Parser(Language(tree_sitter_javascript.language()))


@lru_cache(maxsize=1)
def _bindings() -> Any:
    """The nodes that bind a name: declarations, assignments, updates, parameter lists,
    ESM imports."""
    from tree_sitter import Query

    return Query(_parser().language, "[(variable_declarator) (assignment_expression) "
                 "(augmented_assignment_expression) (update_expression) "
                 "(formal_parameters) (import_statement)] @n")


def _binding_nodes(root: Any) -> list[Any]:
    """Every binding node under root, found by the grammar's query engine (a walk in Python
    built a Node object for every node of the tree: ~3x the time over 5,000 real files)."""
    from tree_sitter import QueryCursor

    return QueryCursor(_bindings()).captures(root).get("n", [])


def _unescape(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        s = m.group(1)
        if s[0] == "x":
            return chr(int(s[1:], 16))
        if s.startswith("u{"):
            return chr(int(s[2:-1], 16))
        if s[0] == "u" and len(s) == 5:
            return chr(int(s[1:], 16))
        if s[0] in "01234567" and s != "0":
            return chr(int(s, 8))
        if s == "\n":
            return ""
        return _SIMPLE.get(s, s)
    return _ESCAPE.sub(one, body)


class _Folder:
    def __init__(self, root: Any, data: bytes):
        self.data = data
        self.memo: dict[int, Any] = {}
        self.scope: list[dict[str, Any]] = []
        self.env: dict[str, Any] = {}
        self.inner: list[Inner] = []
        self.imports: dict[str, Ref] = {}
        counts: dict[str, int] = {}
        # only names bound exactly once are kept: the order the nodes come in does not matter
        for node in _binding_nodes(root):
            if node.type == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if name is not None and name.type == "identifier":
                    key = self.text(name)
                    counts[key] = counts.get(key, 0) + 1
                    if value is not None:
                        self.env[key] = value
            elif node.type in ("assignment_expression", "augmented_assignment_expression",
                               "update_expression"):
                target = node.child_by_field_name("left") or node.child_by_field_name("argument")
                if target is not None and target.type == "identifier":
                    counts[self.text(target)] = counts.get(self.text(target), 0) + 2
            elif node.type == "import_statement":
                self._import(node)
            elif node.type in ("formal_parameters",):
                for child in node.named_children:
                    if child.type == "identifier":
                        counts[self.text(child)] = counts.get(self.text(child), 0) + 2
        self.env = {k: v for k, v in self.env.items() if counts.get(k) == 1}
        self.imports = {k: v for k, v in self.imports.items() if k not in counts}

    def _import(self, node: Any) -> None:
        """ESM imports of Node's modules: `import os from "node:os"`, `import * as p from
        "path"`, `import { join as j } from "node:path"` name what require() would give."""
        source = node.child_by_field_name("source")
        clause = next((c for c in node.named_children if c.type == "import_clause"), None)
        if source is None or clause is None:
            return
        module = self.text(source)[1:-1].removeprefix("node:")
        if module not in _PATH_MODULES:
            return
        for part in clause.named_children:
            if part.type == "identifier":
                self.imports[self.text(part)] = Ref(module)
            elif part.type == "namespace_import":
                ids = [c for c in part.named_children if c.type == "identifier"]
                if ids:
                    self.imports[self.text(ids[0])] = Ref(module)
            elif part.type == "named_imports":
                for spec in part.named_children:
                    name = spec.child_by_field_name("name")
                    alias = spec.child_by_field_name("alias") or name
                    if name is not None and alias is not None:
                        self.imports[self.text(alias)] = Ref(f"{module}.{self.text(name)}")

    def text(self, node: Any) -> str:
        return self.data[node.start_byte:node.end_byte].decode("utf-8", "replace")

    def value(self, node: Any) -> Any:
        key = node.id
        if not self.scope and key in self.memo:
            return self.memo[key]
        if not self.scope:
            self.memo[key] = UNKNOWN
        try:
            result = _bounded(self._value(node))
        except (ValueError, TypeError, OverflowError, IndexError, KeyError, ZeroDivisionError,
                RecursionError, UnicodeError, AttributeError):
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
        if name in self.imports:
            return self.imports[name]
        if name in _GLOBALS:
            return Ref(name)
        return UNKNOWN

    def _value(self, node: Any) -> Any:
        kind = node.type
        if kind == "string":
            body = self.text(node)[1:-1]
            return _unescape(body) if "\\" in body else body
        if kind == "template_string":
            parts = []
            for child in node.named_children:
                if child.type == "string_fragment":
                    parts.append(self.text(child))
                elif child.type == "escape_sequence":
                    parts.append(_unescape(self.text(child)))
                elif child.type == "template_substitution":
                    v = self.value(child.named_children[0]) if child.named_children else UNKNOWN
                    if v is UNKNOWN or isinstance(v, Ref):
                        return UNKNOWN
                    parts.append(_js_str(v))
            return "".join(parts)
        if kind == "number":
            text = self.text(node).replace("_", "")
            return int(text, 0) if re.fullmatch(r"0[xXoObB][0-9a-fA-F]+|\d+", text) \
                else float(text)
        if kind == "parenthesized_expression":
            inner = node.named_children
            return self.value(inner[-1]) if inner else UNKNOWN
        if kind == "identifier":
            return self._name(self.text(node))
        if kind == "array":
            items = [self.value(c) for c in node.named_children]
            return UNKNOWN if any(i is UNKNOWN for i in items) else items
        if kind == "binary_expression":
            return self._binary(node)
        if kind in ("member_expression", "subscript_expression"):
            return self._member(node)
        if kind in ("call_expression", "new_expression"):
            return self._call(node)
        return UNKNOWN

    def _binary(self, node: Any) -> Any:
        op = self.text(node.child_by_field_name("operator"))
        left = self.value(node.child_by_field_name("left"))
        right = self.value(node.child_by_field_name("right"))
        if left is UNKNOWN or right is UNKNOWN or isinstance(left, Ref) or isinstance(right, Ref):
            return UNKNOWN
        if op == "+":
            if isinstance(left, str) or isinstance(right, str):
                return _js_str(left) + _js_str(right)
            if isinstance(left, int | float) and isinstance(right, int | float):
                return left + right
            return UNKNOWN
        if isinstance(left, int) and isinstance(right, int):
            ops = {"-": left - right, "*": left * right if abs(left * right) < 2**53 else 0,
                   "^": left ^ right, "&": left & right, "|": left | right,
                   "%": left % right if right else 0}
            return ops.get(op, UNKNOWN)
        return UNKNOWN

    def _member(self, node: Any) -> Any:
        base = self.value(node.child_by_field_name("object"))
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            key: Any = self.text(prop) if prop is not None else UNKNOWN
        else:
            key = self.value(node.child_by_field_name("index"))
        if base is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        if isinstance(base, Ref):
            if not isinstance(key, str):
                return UNKNOWN
            if base.name in _GLOBAL_OBJECTS:
                return Ref(key)
            if base.name == "process.env" and key in HOME_VARS:
                return PathStr("~")
            return base.attr(key)
        if isinstance(base, str | list) and isinstance(key, int | float):
            return base[int(key)]
        if isinstance(base, str | list | bytes) and isinstance(key, str):
            if key == "length":
                return len(base)
            return ("method", base, key)
        return UNKNOWN

    def _args(self, node: Any) -> list[Any]:
        args = node.child_by_field_name("arguments")
        out: list[Any] = []
        for child in args.named_children if args is not None else ():
            if child.type == "spread_element":
                v = self.value(child.named_children[0]) if child.named_children else UNKNOWN
                if not isinstance(v, list):
                    return [UNKNOWN]
                out += v
            elif child.type != "comment":
                out.append(self.value(child))
        return out

    def _call(self, node: Any) -> Any:
        fn_node = node.child_by_field_name("function") or node.child_by_field_name("constructor")
        if fn_node is None:
            return UNKNOWN
        func = self.value(fn_node)
        args = self._args(node)
        if isinstance(func, tuple) and func[0] == "method":
            return self._method(func[1], func[2], args, node)
        if not isinstance(func, Ref):
            return UNKNOWN
        name = func.name
        if name in _EXEC and args:
            text = _str(args[-1] if name == "Function" else args[0])
            if text is not None:
                self.inner.append(Inner(node.start_point[0] + 1, "js", text,
                                        f"{name}() of folded code"))
            return UNKNOWN
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if name in _PATH_CALLS:
            if name.endswith("homedir"):
                return PathStr("~")
            return join_path(*args) if name.endswith(("join", "resolve")) else \
                PathStr(args[0]) if args and isinstance(args[0], str) else UNKNOWN
        if name == "require" and args and isinstance(args[0], str):
            return Ref(args[0].removeprefix("node:"), f"require({args[0]!r})")
        if name in ("String.fromCharCode", "String.fromCodePoint"):
            return "".join(chr(int(a)) for a in args) if all(
                isinstance(a, int | float) for a in args) else UNKNOWN
        if name in ("String.fromCharCode.apply", "String.fromCodePoint.apply") and \
                len(args) == 2 and isinstance(args[1], list):
            return "".join(chr(int(a)) for a in args[1])
        if name == "atob" and args and isinstance(args[0], str):
            raw = decode_layer("b64", args[0])
            return raw.decode("latin-1") if isinstance(raw, bytes) else UNKNOWN
        if name in ("unescape", "decodeURIComponent", "decodeURI") and args and \
                isinstance(args[0], str):
            return urllib.parse.unquote(re.sub(r"%u([0-9a-fA-F]{4})",
                                               lambda m: chr(int(m.group(1), 16)), args[0]))
        if name == "Buffer.from" and args:
            if isinstance(args[0], list):
                return bytes(int(a) & 0xFF for a in args[0])
            enc = str(args[1]).lower() if len(args) > 1 else "utf8"
            if not isinstance(args[0], str):
                return UNKNOWN
            if enc in ("base64", "base64url", "hex"):
                return decode_layer({"base64": "b64", "base64url": "base64url"}.get(enc, enc),
                                    args[0])
            return args[0].encode("utf-8")
        if name.rsplit(".", 1)[-1] in ("inflateSync", "gunzipSync", "unzipSync",
                                       "inflateRawSync") and args:
            return decode_layer(name.rsplit(".", 1)[-1], args[0])
        if name in ("parseInt", "Number") and args and isinstance(args[0], str):
            base = int(args[1]) if len(args) > 1 and isinstance(args[1], int) else 10
            return int(args[0], base)
        return UNKNOWN

    def _method(self, base: Any, name: str, args: list[Any], node: Any) -> Any:
        if name == "map" and isinstance(base, list) and args and args[0] is UNKNOWN:
            return self._map(base, node)
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        if name == "join" and isinstance(base, list):
            sep = args[0] if args and isinstance(args[0], str) else ","
            return sep.join(_js_str(i) for i in base)
        if name == "toString" and isinstance(base, bytes):
            enc = str(args[0]).lower() if args else "utf8"
            if enc == "base64":
                import base64
                return base64.b64encode(base).decode()
            if enc == "hex":
                return base.hex()
            return base.decode("utf-8" if enc in ("utf8", "utf-8") else "latin-1", "replace")
        if isinstance(base, str):
            if name == "split" and args and isinstance(args[0], str):
                return list(base) if args[0] == "" else base.split(args[0])
            if name in ("replace", "replaceAll") and len(args) == 2 and \
                    all(isinstance(a, str) for a in args):
                return base.replace(args[0], args[1], 1 if name == "replace" else -1)
            if name in ("toLowerCase", "toUpperCase", "trim"):
                return {"toLowerCase": base.lower, "toUpperCase": base.upper,
                        "trim": base.strip}[name]()
            if name == "concat":
                return base + "".join(_js_str(a) for a in args)
            if name == "charCodeAt":
                return ord(base[int(args[0]) if args else 0])
            if name in ("slice", "substring", "substr") and args:
                start = int(args[0])
                end = int(args[1]) if len(args) > 1 else None
                if name == "substr" and end is not None:
                    end = start + end
                return base[start:end]
        if isinstance(base, list):
            if name == "reverse":
                return list(reversed(base))
            if name == "concat":
                return base + [x for a in args for x in (a if isinstance(a, list) else [a])]
        return UNKNOWN

    def _map(self, base: list[Any], node: Any) -> Any:
        """`[..].map(c => expr)`: the arrow's body evaluated per item."""
        args = node.child_by_field_name("arguments")
        fn = args.named_children[0] if args is not None and args.named_children else None
        if fn is None or fn.type not in ("arrow_function", "function_expression", "function"):
            if fn is not None and self.text(fn) in ("String.fromCharCode", "String.fromCodePoint"):
                return [chr(int(x)) for x in base]
            return UNKNOWN
        param = fn.child_by_field_name("parameter")
        if param is None:
            params = fn.child_by_field_name("parameters")
            ids = [c for c in params.named_children] if params is not None else []
            param = ids[0] if ids and ids[0].type == "identifier" else None
        body = fn.child_by_field_name("body")
        if param is None or body is None:
            return UNKNOWN
        if body.type == "statement_block":
            ret = [c for c in body.named_children if c.type == "return_statement"]
            if len(ret) != 1 or len(body.named_children) != 1 or not ret[0].named_children:
                return UNKNOWN
            body = ret[0].named_children[0]
        out = []
        name = self.text(param)
        if len(base) > MAX_VALUE // 8:
            return UNKNOWN
        for item in base:
            self.scope.append({name: item})
            try:
                v = self.value(body)
            finally:
                self.scope.pop()
            if v is UNKNOWN:
                return UNKNOWN
            out.append(v)
        return out

    def trivial(self, node: Any) -> bool:
        if node.type in ("string", "template_string"):
            return "\\" not in self.text(node) and node.type == "string" or \
                (node.type == "template_string" and not any(
                    c.type in ("template_substitution", "escape_sequence")
                    for c in node.named_children))
        return node.type in ("identifier", "number", "property_identifier", "this") or (
            node.type == "member_expression" and self.trivial(node.child_by_field_name("object")))

    def edits(self, root: Any) -> tuple[list[tuple[int, int, str]], dict[int, list[str]]]:
        out: list[tuple[int, int, str]] = []
        replaced: dict[int, list[str]] = {}
        stack = [root]
        while stack:
            node = stack.pop()
            if node.type in _CANDIDATES and not self.trivial(node):
                value = self.value(node)
                text = None if value is UNKNOWN else literal(value, "js")
                if text is not None and text != self.text(node):
                    out.append((node.start_byte, node.end_byte, text))
                    line = node.start_point[0] + 1
                    replaced.setdefault(line, []).append(text)
                    shown = _str(value) if not isinstance(value, Ref) else None
                    if shown and "\n" in shown.strip() and len(shown) >= 40:
                        self.inner.append(Inner(line, "text", shown, "folded text"))
                    continue
            stack.extend(reversed(node.children))
        return out, replaced


def _js_str(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_js_str(v) for v in value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def fold_js(source: str) -> Folded | None:
    data = source.encode("utf-8")
    try:
        tree = _parser().parse(data)
    except (ValueError, RecursionError):
        return None
    folder = _Folder(tree.root_node, data)
    try:
        edits, replaced = folder.edits(tree.root_node)
    except RecursionError:
        return None
    out, pos = [], 0
    for start, end, text in sorted(edits):
        if start < pos:
            continue
        out.append(data[pos:start])
        out.append(text.encode("utf-8") + b"\n" * data.count(b"\n", start, end))
        pos = end
    out.append(data[pos:])
    return Folded(b"".join(out).decode("utf-8", "replace"), replaced, folder.inner)
