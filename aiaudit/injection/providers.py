"""Resource providers of the injection area (registered on import)."""

from __future__ import annotations
