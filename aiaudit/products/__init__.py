"""One module per AI product: where it keeps its state, how its config reads, its defaults.

Each module returns typed facts (dataclasses) that every area uses instead of knowing the
product itself; defaults are data in `aiaudit/data/<product>.toml` with their source cited.
"""


def table_columns(items: list[str]) -> dict[str, tuple[str, ...]]:
    """`["table.column", ...]` (a product's data file) as {table: columns}, in file order."""
    out: dict[str, list[str]] = {}
    for item in items:
        table, col = item.split(".", 1)
        out.setdefault(table, []).append(col)
    return {t: tuple(c) for t, c in out.items()}
