"""Slack's pacing: posts to one channel at about one a second, ``chat.update`` on its own Tier 3 budget.

``chat.update`` is Tier 3 for the whole workspace, whoever calls it: one ``update_pacer`` per bot
process is shared by delivery's card updates and the "Checking…" progress (bot.edge wires it).
A pacer is shared by threads: each call takes its token under a lock and sleeps outside it.

A 429 that still happens is retried after its Retry-After by the WebClient's retry handler
(bot.app.web_client); a rate limit past those retries stops the pass (bot.delivery.refusals).
"""

from __future__ import annotations

import threading
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
        # key -> (tokens, when counted); below 0 while callers wait for tokens they have already taken
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = self._clock()
            tokens, stamp = self._tokens.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) / self.interval) - 1
            self._tokens[key] = (tokens, now)
        if tokens < 0:
            self._sleep(-tokens * self.interval)


def update_pacer() -> Pacer:
    """chat.update is Tier 3: 50 a minute per workspace, short bursts allowed."""
    return Pacer(60 / 50, burst=10)
