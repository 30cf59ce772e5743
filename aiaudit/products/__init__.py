"""One module per AI product: where it keeps its state, how its config reads, its defaults.

Each module returns typed facts (dataclasses) that every area uses instead of knowing the
product itself; defaults are data in `aiaudit/data/<product>.toml` with their source cited.
"""
