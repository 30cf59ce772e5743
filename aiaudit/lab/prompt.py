"""Explicit Gemma prompt rendering for the lab agent.

The PyPI GGUF is the base model without a chat template, and llama-cpp-python's
``gemma`` chat format drops system messages. Rendering the turns ourselves and calling
``/v1/completions`` guarantees that the system prompt (and so the canary) really reaches
the model, which is what the leakage tests need.
"""

from __future__ import annotations

from collections.abc import Iterable

START, END = "<start_of_turn>", "<end_of_turn>"
STOP = [END]


def render_gemma(system: str, turns: Iterable[tuple[str, str]]) -> str:
    """Render ``turns`` (role ``user`` or ``model``) with ``system`` folded into the first user
    turn, as Gemma's own template does, ending with an open model turn."""
    merged: list[list[str]] = []
    for role, text in turns:
        if merged and merged[-1][0] == role:
            merged[-1][1] += "\n\n" + text
        else:
            merged.append([role, text])
    if not merged or merged[0][0] != "user":
        merged.insert(0, ["user", ""])
    merged[0][1] = f"{system}\n\n{merged[0][1]}" if merged[0][1] else system
    if merged[-1][0] == "model":  # never leave the model to continue its own finished turn
        merged.append(["user", ""])
    body = "".join(f"{START}{role}\n{text}{END}\n" for role, text in merged)
    return f"{body}{START}model\n"
