"""Slack's pacing: posts to one channel at about one a second, ``chat.update`` on its own Tier 3 budget.

A 429 that still happens is retried after its Retry-After by the WebClient's retry handler
(bot.app.web_client); a rate limit past those retries stops the pass (bot.delivery.refusals).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """At most ``burst`` calls at once per key, then one per ``interval`` seconds (a token bucket)."""

    def __init__(
        self,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        burst: int = 1,
    ) -> None:
        self.interval = interval
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)

    def wait(self, key: str) -> None:
        if self.interval <= 0:
            return
        now = self._clock()
        tokens, stamp = self._tokens.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - stamp) / self.interval)
        if tokens < 1:
            self._sleep((1 - tokens) * self.interval)
            now, tokens = self._clock(), 1.0
        self._tokens[key] = (tokens - 1, now)


def update_pacer() -> Pacer:
    """chat.update is Tier 3: 50 a minute per workspace, short bursts allowed."""
    return Pacer(60 / 50, burst=10)
