"""Where one evaluation (one variant of one job: the base model or the fine-tuned one) stands. Pure."""

from __future__ import annotations

from enum import StrEnum


class EvaluationStatus(StrEnum):
    PENDING = "pending"  # not started, or waiting to be retried
    RUNNING = "running"  # a replica holds its lease and is answering the test set
    DONE = "done"
    FAILED = "failed"
