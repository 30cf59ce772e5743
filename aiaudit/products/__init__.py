"""One module per AI product: where it keeps its state, how its config reads, its defaults.

Each module returns typed facts (dataclasses) that every area uses instead of knowing the
product itself; defaults are data in `aiaudit/data/<product>.toml` with their source cited,
read through one `ProductData` per product (parsed once per process).
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@functools.cache
def data_file(name: str) -> dict[str, Any]:
    """`aiaudit/data/<name>.toml`, parsed once."""
    return tomllib.loads((DATA_DIR / f"{name}.toml").read_text(encoding="utf-8"))


class ProductData:
    """A product's data file and the keys every product's file has: calling it gives the
    whole parsed file; `defaults()`, `service_name()` and `strings()` the common parts."""

    def __init__(self, name: str):
        self.name = name
        self.path = DATA_DIR / f"{name}.toml"
        self.file = self.path.name  # cited in evidence: "unset: <product> default, <file>"

    def __call__(self) -> dict[str, Any]:
        return data_file(self.name)

    def defaults(self) -> dict[str, Any]:
        """The product's defaults for unset settings (each with its source in the file)."""
        return self()["defaults"]

    def service_name(self) -> str:
        """The product's `[[service]]` entry in services.toml."""
        return str(self()["service"])

    def strings(self, section: str, key: str) -> tuple[str, ...]:
        """A list of strings of the file, e.g. `strings("processes", "patterns")`."""
        return tuple(self()[section][key])

    def columns(self, section: str, key: str) -> dict[str, tuple[str, ...]]:
        """A `["table.column", ...]` list of the file as {table: columns}."""
        return table_columns(self()[section][key])


def table_columns(items: list[str]) -> dict[str, tuple[str, ...]]:
    """`["table.column", ...]` (a product's data file) as {table: columns}, in file order."""
    out: dict[str, list[str]] = {}
    for item in items:
        table, col = item.split(".", 1)
        out.setdefault(table, []).append(col)
    return {t: tuple(c) for t, c in out.items()}
