"""The AI service catalog (data in aiaudit/data/services.toml) and process matching."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ServiceDef:
    name: str
    ports: tuple[int, ...]
    process: tuple[re.Pattern[str], ...]
    is_proxy: bool = False

    def matches_process(self, cmdline: str) -> re.Pattern[str] | None:
        return next((p for p in self.process if p.search(cmdline)), None)


@cache
def load_services() -> tuple[ServiceDef, ...]:
    text = (resources.files("aiaudit") / "data" / "services.toml").read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    out = []
    for kind in ("service", "proxy"):
        for raw in doc.get(kind, []):
            out.append(ServiceDef(
                name=raw["name"],
                ports=tuple(raw.get("ports", ())),
                process=tuple(re.compile(p) for p in raw.get("process", ())),
                is_proxy=kind == "proxy",
            ))
    return tuple(out)


def catalog_ports() -> list[int]:
    return sorted({p for s in load_services() for p in s.ports})
