"""Compiled Python (`.pyc`) without source: read by disassembly, never executed.

Only bytecode whose magic number is this interpreter's is unmarshalled (`marshal` on another
version's format is undefined); the code object is walked with `dis`, never run. The walk
writes a pseudo-source, one line per call it can see (`os.system('curl … | sh')`, dotted names
rebuilt from LOAD_GLOBAL/IMPORT_NAME/LOAD_ATTR chains with the constants loaded for the call)
plus every string constant, so the same rules read it as they read Python. Unmarshalling
happens in a forked child with CPU and memory limits: a hostile file can crash only that child.
"""

from __future__ import annotations

import dis
import importlib.util
import json
import marshal
import os
import resource
import select
import signal
import time
import types

PYC_HEADER = 16
MAX_LINES = 20_000
_NAME_OPS = {"LOAD_GLOBAL", "LOAD_NAME", "IMPORT_NAME", "LOAD_FAST", "LOAD_DEREF"}
_ATTR_OPS = {"LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM"}


def magic_matches(data: bytes) -> bool:
    return data[:4] == importlib.util.MAGIC_NUMBER


def _pseudo_source(code: types.CodeType) -> list[str]:
    lines: list[str] = []
    todo = [code]
    while todo and len(lines) < MAX_LINES:
        co = todo.pop()
        chain: list[str] = []
        consts: list[str] = []
        for ins in dis.get_instructions(co):
            op, arg = ins.opname, ins.argval
            if op in _NAME_OPS and isinstance(arg, str):
                if chain:  # the call this chain starts takes more than constants
                    lines.append(f"{'.'.join(chain)}({', '.join(consts)})")
                chain, consts = [arg], []
            elif op in _ATTR_OPS and isinstance(arg, str) and chain:
                chain.append(arg)
            elif op == "LOAD_CONST":
                if isinstance(arg, types.CodeType):
                    todo.append(arg)
                elif isinstance(arg, str | bytes):
                    consts.append(repr(arg if isinstance(arg, str) else
                                       arg.decode("utf-8", "replace")))
            elif op.startswith("CALL") and chain:
                lines.append(f"{'.'.join(chain)}({', '.join(consts)})")
                chain, consts = [], []
        if chain:
            lines.append(".".join(chain))
        for const in co.co_consts:
            if isinstance(const, str) and len(const) > 3:
                lines.append(repr(const))
            elif isinstance(const, types.CodeType):
                todo.append(const)
    return lines[:MAX_LINES]


def _child(data: bytes) -> tuple[str | None, str]:
    resource.setrlimit(resource.RLIMIT_CPU, (5, 5))
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    code = marshal.loads(data[PYC_HEADER:])
    if not isinstance(code, types.CodeType):
        return None, "the file holds no code object"
    return "\n".join(_pseudo_source(code)), ""


def disassemble(data: bytes, timeout: float = 10.0) -> tuple[str | None, str]:
    """(pseudo-source, why not): None with the reason when the file cannot be read."""
    if len(data) <= PYC_HEADER:
        return None, "too short for a .pyc"
    if not magic_matches(data):
        return None, (f"bytecode magic {data[:2].hex()} is not this interpreter's "
                      f"({importlib.util.MAGIC_NUMBER[:2].hex()}): not unmarshalled")
    if not hasattr(os, "fork"):
        return None, "no fork on this platform: not unmarshalled"
    read_end, write_end = os.pipe()
    pid = os.fork()  # a plain fork: review workers are daemonic and may not use Process
    if pid == 0:
        os.close(read_end)
        try:
            result = _child(data)
        except BaseException as exc:  # noqa: BLE001 - anything a hostile file raises ends here
            result = (None, f"{type(exc).__name__}: {exc}")
        with os.fdopen(write_end, "wb") as out:
            out.write(json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                return None, f"disassembly took over {timeout:.0f} s"
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    if not chunks:
        return None, "the disassembler crashed on this file"
    text, why = json.loads(b"".join(chunks))
    return text, why
