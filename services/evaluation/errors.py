"""How an evaluation run stops early: a failure to record, or a lease another replica took over.

``EvaluationFailed`` says whether a later run may succeed (``retryable``: the stored answers are kept
and the scheduler tries again) or not (the evaluation and the job fail). ``LeaseLost`` means another
replica took the evaluation over, so this run stops without touching it. They sit apart from the
modules that raise them (the test set, a variant's run, the Provisioned Throughput) so that the runner
can tell the outcomes apart without those modules importing one another.
"""

from __future__ import annotations


class EvaluationFailed(Exception):
    """The evaluation cannot finish now. ``retryable``: a later run may succeed (stored answers kept)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class LeaseLost(Exception):
    """Another replica took this evaluation over (our lease expired): stop without touching it."""
