"""The job state machine: the moves DESIGN §5 draws, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.jobs.model import (
    ALLOWED,
    FINAL,
    IllegalMove,
    JobStatus,
    can_cancel,
    is_final,
    move,
)


@dataclass
class Row:
    status: str


def test_the_happy_path_moves_from_pending_to_done() -> None:
    row = Row(JobStatus.PENDING)
    for target in (JobStatus.QUEUED, JobStatus.SUBMITTING, JobStatus.TRAINING, JobStatus.EVALUATING):
        assert move(row, target)
    assert move(row, JobStatus.DONE)
    assert row.status == JobStatus.DONE and is_final(row.status)


def test_a_final_status_is_never_left() -> None:
    for status in FINAL:
        assert ALLOWED[status] == frozenset()
        for target in JobStatus:
            if target != status:
                with pytest.raises(IllegalMove):
                    move(Row(status), target)


def test_a_job_cannot_skip_training_or_go_back_to_it() -> None:
    with pytest.raises(IllegalMove):
        move(Row(JobStatus.PENDING), JobStatus.EVALUATING)
    with pytest.raises(IllegalMove):
        move(Row(JobStatus.EVALUATING), JobStatus.TRAINING)
    with pytest.raises(IllegalMove):
        move(Row(JobStatus.TRAINING), JobStatus.QUEUED)


def test_moving_to_the_same_status_changes_nothing() -> None:
    row = Row(JobStatus.TRAINING)
    assert move(row, JobStatus.TRAINING) is False
    assert row.status == JobStatus.TRAINING


def test_a_cancel_makes_sense_before_training_and_during_it_only() -> None:
    assert {status for status in JobStatus if can_cancel(status)} == {
        JobStatus.PENDING,
        JobStatus.QUEUED,
        JobStatus.TRAINING,
    }


def test_every_status_has_its_moves_declared() -> None:
    assert set(ALLOWED) == set(JobStatus)
