"""Resource providers of the storage area (registered on import)."""

from __future__ import annotations
