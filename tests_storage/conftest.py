"""Progress of long storage reads goes past pytest's output capture to the terminal."""

from __future__ import annotations

import pytest

from aiaudit.storage import progress


@pytest.fixture(scope="session", autouse=True)
def _storage_progress_to_terminal(request: pytest.FixtureRequest):
    capman = request.config.pluginmanager.getplugin("capturemanager")
    reporter = request.config.pluginmanager.getplugin("terminalreporter")

    def sink(line: str) -> None:
        if capman is None or reporter is None:
            print(line)
            return
        with capman.global_and_fixture_disabled():
            reporter.write_line(line)

    previous = progress.set_sink(sink)
    yield
    progress.set_sink(previous)
