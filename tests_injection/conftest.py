"""Shared fixtures of the injection controls: the budget and the callback listener."""

from __future__ import annotations

import pytest

from aiaudit.injection import garak_corpus, options
from aiaudit.injection.callback import CallbackListener
from aiaudit.injection.channel import Channel, injection_settings
from aiaudit.injection.listener import listener_address
from aiaudit.injection.settings import QUICK_REASON, Budget
from aiaudit.report.model import FAMILY_TABLE
from aiaudit.status import not_applicable


def pytest_configure(config: pytest.Config) -> None:
    from aiaudit.plugin import CTX

    ctx = config.stash.get(CTX, None)
    if ctx is not None:
        options.remember(ctx, config)


@pytest.fixture
def budget(audit) -> Budget:
    """The profile's model-call budget; quick generates nothing, so these do not apply."""
    found = injection_settings(audit).budget(audit.profile)
    if found is None:
        not_applicable(QUICK_REASON)
    return found


@pytest.fixture
def need_garak(case) -> None:
    if case.corpus != "builtin" and garak_corpus.version() is None:
        not_applicable(garak_corpus.INSTALL_HINT)


@pytest.fixture
def family_table(audit) -> list[dict]:
    """The report's per-family table (JSON `injection_families`): append rows to it."""
    return audit.cached(FAMILY_TABLE, list)


@pytest.fixture(scope="session")
def _listeners():
    started: dict[tuple[str, str], CallbackListener] = {}
    yield started
    for listener in started.values():
        listener.stop()


@pytest.fixture
def callback_listener(case, _listeners) -> CallbackListener:
    """One auditor-side listener per address the target can reach, for the whole run."""
    channel: Channel = case.channel
    bind, advertise = listener_address(channel)
    if (bind, advertise) not in _listeners:
        _listeners[(bind, advertise)] = CallbackListener(bind, advertise).start()
    return _listeners[(bind, advertise)]
