"""How fast a variant's run may call Bedrock: AIMD concurrency and jittered retry delays.

``AdaptiveConcurrency`` bounds the requests in flight: it halves the limit on a throttle (once per
window, not once per throttled request) and adds one after a run of successes; ``backoff_delay`` spaces
an example's retries with full jitter. Both are plain, database-free and Bedrock-free, so they are
tested with plain values; they change when the throttling policy does.
"""

from __future__ import annotations

import random
import threading


class AdaptiveConcurrency:
    """How many requests may be in flight: additive increase, multiplicative decrease.

    A throttle halves the limit, but only once per window: requests sent before the last decrease
    carry an older generation, and their throttles are the same congestion already answered. After
    ``increase_after`` successes in a row (default: the current limit, about one round of requests)
    the limit grows by one.
    """

    def __init__(
        self, initial: int, maximum: int, minimum: int = 1, increase_after: int | None = None
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError("need 1 <= minimum <= maximum")
        self._condition = threading.Condition()
        self._minimum = minimum
        self._maximum = maximum
        self._increase_after = increase_after
        self._in_flight = 0
        self._generation = 0
        self._successes = 0
        self.limit = max(minimum, min(maximum, initial))
        self.history: list[int] = [self.limit]

    def acquire(self, stop: threading.Event) -> int | None:
        """Wait for a free slot; its generation, or None when ``stop`` was set meanwhile."""
        with self._condition:
            while self._in_flight >= self.limit:
                if stop.is_set():
                    return None
                self._condition.wait(0.05)
            if stop.is_set():
                return None
            self._in_flight += 1
            return self._generation

    def release(self, generation: int, *, throttled: bool = False, succeeded: bool = False) -> None:
        with self._condition:
            self._in_flight -= 1
            if throttled:
                self._successes = 0
                if generation == self._generation:
                    self._generation += 1
                    self._set(max(self._minimum, self.limit // 2))
            elif succeeded:
                self._successes += 1
                if self._successes >= (self._increase_after or self.limit) and self.limit < self._maximum:
                    self._successes = 0
                    self._set(self.limit + 1)
            self._condition.notify_all()

    def _set(self, limit: int) -> None:
        if limit != self.limit:
            self.limit = limit
            if len(self.history) < 100_000:
                self.history.append(limit)


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full jitter: uniform over [0, min(cap, base·2^attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))
