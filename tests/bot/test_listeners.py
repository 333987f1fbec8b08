"""Work done after the ack: its reply reaches the user, and so does word of an unexpected failure."""

from __future__ import annotations

import threading
from typing import Any

from bot.flows import Reply
from bot.listeners import UNEXPECTED, Listeners


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.done = threading.Event()

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        self.done.set()


def listeners() -> Listeners:
    return Listeners(flows=None, uploads=None)  # type: ignore[arg-type]  # `later` needs neither


def test_the_reply_of_the_work_is_sent_ephemerally() -> None:
    respond = Recorder()
    worker = listeners()
    worker.later(respond, lambda: Reply("3 jobs running"))  # type: ignore[arg-type]
    assert respond.done.wait(5)
    assert respond.calls == [{"text": "3 jobs running", "response_type": "ephemeral"}]


def test_an_unexpected_failure_is_told_to_the_user_without_a_traceback() -> None:
    def broken() -> Reply:
        raise RuntimeError("database exploded at line 42")

    respond = Recorder()
    worker = listeners()
    worker.later(respond, broken)  # type: ignore[arg-type]
    assert respond.done.wait(5)
    assert respond.calls == [{"text": UNEXPECTED, "response_type": "ephemeral"}]
    assert "exploded" not in UNEXPECTED
