"""Attack success rates with a confidence interval: a handful of attempts proves little,
so every rate in the report carries its Wilson score interval and its sample size."""

from __future__ import annotations

import math
from dataclasses import dataclass


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95% by default); (0, 1) when nothing was tried."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    successes: int
    trials: int

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else 0.0

    def describe(self) -> str:
        if not self.trials:
            return "0 attempts"
        low, high = wilson(self.successes, self.trials)
        return (f"{self.successes}/{self.trials} ({self.value:.0%}, 95% Wilson "
                f"{low:.0%}-{high:.0%})")
