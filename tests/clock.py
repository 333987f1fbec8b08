"""A clock for tests that moves only when told: bounds and rates are shown without waiting for time."""

from __future__ import annotations


class FrozenClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
