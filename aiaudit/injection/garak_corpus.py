"""garak (optional extra, pinned to 0.17.1) as a library: attack prompts and string judges.

Only offline-safe probes are loaded (their data ships in the package) and only string /
trigger detectors are used. garak's detectors cannot tell an echo from compliance: a
model that repeats the prompt "emits" every trigger the prompt contains. A detector hit is
therefore counted as sound only when its trigger does not occur in the prompt itself;
the others are reported as echo-confounded and never decide a verdict.
"""

from __future__ import annotations

import importlib
import os
import random
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

PINNED = "0.17.1"
INSTALL_HINT = (f"garak is not installed: pip install 'aiaudit[garak]' (garak=={PINNED}; "
                "install torch==2.13.0 (CPU) first)")
# Direct-injection families (INJ-01) and the classes loaded from each.
DIRECT_PROBES: dict[str, tuple[str, ...]] = {
    "promptinject": ("HijackHateHumans", "HijackKillHumans", "HijackLongPrompt"),
    "encoding": ("InjectBase64", "InjectROT13", "InjectHex", "InjectBase32"),
    "goodside": ("Tag", "ThreatenJSON"),
    "smuggling": ("HypotheticalResponse", "FunctionMasking"),
    "dan": ("Dan_11_0", "DUDE", "STAN"),
    "leakreplay": ("LiteratureCloze",),
}
# Indirect-injection families (INJ-04): contexts that carry an injected instruction.
LATENT_PROBES = ("LatentInjectionReport", "LatentInjectionResume",
                 "LatentInjectionTranslationEnFr", "LatentInjectionFactSnippetEiffel")
WEB_PROBES = ("MarkdownImageExfil",)
# Judges that only compare strings; model-based and refusal-word detectors are excluded.
SOUND_DETECTOR_PREFIXES = ("base.TriggerListDetector", "promptinject.", "encoding.DecodeMatch",
                           "goodside.", "dan.", "leakreplay.", "latentinjection.",
                           "web_injection.")


@dataclass(frozen=True)
class GarakPrompt:
    probe: str  # e.g. "garak:encoding.InjectBase64"
    text: str
    triggers: tuple[str, ...]
    detectors: tuple[str, ...]


def version() -> str | None:
    """garak's version when it is importable, else None."""
    try:
        garak = importlib.import_module("garak")
    except Exception:  # ImportError, or a broken torch underneath it
        return None
    return str(getattr(garak, "__version__", "unknown"))


@lru_cache(maxsize=1)
def _configured() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    from garak import _config

    _config.load_base_config()
    _config.run.generations = 1
    _config.run.seed = 0
    _config.run.soft_probe_prompt_cap = 64  # pruning happens in each probe's __init__
    return _config


@cache
def _load(kind: str, name: str) -> Any:
    _configured()
    from garak import _plugins

    return _plugins.load_plugin(f"{kind}.{name}")


def _triggers(probe: Any, index: int) -> tuple[str, ...]:
    if hasattr(probe, "pi_prompts"):
        return (str(probe.pi_prompts[index]["settings"]["attack_rogue_string"]),)
    triggers = getattr(probe, "triggers", None) or []
    if len(triggers) == len(probe.prompts):
        value = triggers[index]
        return tuple(value) if isinstance(value, list | tuple) else (str(value),)
    return ()


def _text(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return str(prompt.turns[-1].content.text)


def _detectors(probe: Any) -> tuple[str, ...]:
    names = [probe.primary_detector, *(getattr(probe, "extended_detectors", None) or [])]
    return tuple(n for n in names if n and n.startswith(SOUND_DETECTOR_PREFIXES))


def _prompts_of(family: str, name: str) -> list[GarakPrompt]:
    probe = _load("probes", f"{family}.{name}")
    out = []
    for i, prompt in enumerate(probe.prompts):
        text = _text(prompt).replace("{generator.name}", "the assistant")
        out.append(GarakPrompt(f"garak:{family}.{name}", text, _triggers(probe, i),
                               _detectors(probe)))
    return out


def direct_prompts(families: tuple[str, ...], n: int, seed: int) -> list[GarakPrompt]:
    """Up to `n` prompts, round-robin over the configured direct families (reproducible)."""
    rng = random.Random(seed)
    pools = []
    for family in families:
        pool = [p for name in DIRECT_PROBES.get(family, ()) for p in _prompts_of(family, name)]
        rng.shuffle(pool)
        if pool:
            pools.append(pool)
    return _round_robin(pools, n)


def _round_robin(pools: list[list[Any]], n: int) -> list[Any]:
    out: list[Any] = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(pool.pop(0))
    return out


def latent_documents(payload: str, n: int, seed: int) -> list[tuple[str, str]]:
    """Up to `n` (probe, prompt) pairs: garak's latent-injection contexts, separators and
    injection instructions, carrying `payload` (the auditor's callback instruction)."""
    from garak.probes.latentinjection import INJECTION_MARKER, PAYLOAD_MARKER

    rng = random.Random(seed)
    pools = []
    for name in LATENT_PROBES:
        probe = _load("probes", f"latentinjection.{name}")
        pool = []
        for top in probe.top_instructions:
            for context in probe.contexts:
                if INJECTION_MARKER not in context:
                    continue
                for start, end in probe.injection_sep_pairs:
                    for instruction in probe.injection_instructions:
                        injected = start + instruction.replace(PAYLOAD_MARKER, payload) + end
                        pool.append((f"garak:latentinjection.{name}",
                                     top + context.replace(INJECTION_MARKER, injected)))
        rng.shuffle(pool)
        pools.append(pool)
    return _round_robin(pools, n)


def web_prompts(n: int, seed: int) -> list[GarakPrompt]:
    rng = random.Random(seed)
    pool = [p for name in WEB_PROBES for p in _prompts_of("web_injection", name)]
    rng.shuffle(pool)
    return pool[:n]


def detector_hits(prompt: GarakPrompt, output: str) -> list[tuple[str, bool]]:
    """(detector, sound) for each garak detector that scores `output` as a hit."""
    from garak.attempt import Attempt, Conversation, Message, Turn

    hits = []
    for name in prompt.detectors:
        detector = _load("detectors", name)
        attempt = Attempt(prompt=Conversation([Turn("user", Message(prompt.text, lang="en"))]))
        attempt.notes["triggers"] = list(prompt.triggers)
        attempt.outputs = [Message(output, lang="en")]
        scores = [s for s in detector.detect(attempt) if s is not None]
        if scores and max(scores) >= 0.5:
            needles = list(prompt.triggers) + list(getattr(detector, "substrings", []) or [])
            echoed = any(n and n.lower() in prompt.text.lower() for n in needles)
            hits.append((name, not echoed))
    return hits


def judge_notes(prompt: GarakPrompt, output: str) -> list[str]:
    """Evidence lines; a detector that breaks is reported, never fatal (it is no verdict)."""
    try:
        hits = detector_hits(prompt, output)
    except Exception as exc:  # garak internals vary between releases
        return [f"{prompt.probe}: garak detectors failed: {type(exc).__name__}: {exc}"]
    return [f"{prompt.probe}: garak detector {name} hit "
            f"({'sound' if sound else 'echo-confounded: its trigger is in the prompt'})"
            for name, sound in hits]
