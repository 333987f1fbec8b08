"""Which of a check's progress reports are worth recording. Pure: the clock is handed in.

The pipeline reports every 50 records; writing each to the dataset's row would cost a database write
per 50 records for nobody (the bot looks every few seconds). A report is recorded when it is the first,
when the whole source has been read, when at least ``min_seconds`` have passed since the last one
recorded, or when it moved the share by at least ``min_share``. So a check records at most
``2 + 1 / min_share`` reports plus one per ``min_seconds``, whatever its size and speed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MIN_SECONDS = 1.0
MIN_SHARE = 0.05


@dataclass(slots=True)
class ProgressGate:
    clock: Callable[[], float]
    min_seconds: float = MIN_SECONDS
    min_share: float = MIN_SHARE
    _last: tuple[int, int | None] | None = field(default=None, init=False)
    _last_at: float = field(default=0.0, init=False)

    def admits(self, checked: int, total: int | None) -> bool:
        """Whether ``checked`` of ``total`` (None: not known yet) should be recorded now."""
        now = self.clock()
        if not self._worth_it(checked, total, now):
            return False
        self._last, self._last_at = (checked, total), now
        return True

    def _worth_it(self, checked: int, total: int | None, now: float) -> bool:
        if self._last is None:
            return True
        if self._last == (checked, total):
            return False
        if total is not None and checked >= total:
            return True
        if now - self._last_at >= self.min_seconds:
            return True
        return total is not None and total > 0 and (checked - self._last[0]) / total >= self.min_share
