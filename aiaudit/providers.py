"""Imports every area's providers so that `@pytest.mark.resources` can find them."""

from aiaudit.exposure import providers as _exposure  # noqa: F401
from aiaudit.injection import providers as _injection  # noqa: F401
from aiaudit.storage import providers as _storage  # noqa: F401
from aiaudit.supply_chain import providers as _supply_chain  # noqa: F401
