"""Resource providers of the supply_chain area (registered on import)."""

from __future__ import annotations
