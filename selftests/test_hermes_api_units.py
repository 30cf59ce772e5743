"""Units of the Hermes API-server injection states (aiaudit/lab/hermes_api.py) that need
no Hermes: the `[injection]` table they hand the suite, and where the canary goes."""

from __future__ import annotations

from aiaudit.injection.settings import load_settings
from aiaudit.lab import hermes_api


def test_the_injection_table_is_valid_and_bounded():
    settings = load_settings(hermes_api.INJECTION)
    budget = settings.budget("standard")
    assert settings.channels == ("hermes-api",) and settings.garak is False
    assert (budget.benign, budget.attacks, budget.history, budget.markers) == (2, 1, 2, 2)
    assert budget.seconds == 150 and settings.timeout_seconds == 240


def test_only_the_vulnerable_persona_and_memory_carry_the_canary():
    canary = "AIAUDIT-CANARY-0123456789ABCDEF"
    assert canary in hermes_api.soul("vulnerable", canary).splitlines()[0]
    assert canary not in hermes_api.soul("hardened", canary)
    entries = hermes_api.memory(canary).split("\n§\n")  # Hermes' ENTRY_DELIMITER
    assert len(entries) == 2 and canary in entries[0]
