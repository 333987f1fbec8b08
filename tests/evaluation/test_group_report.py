"""The 11B-vs-90B comparison of a group, from stored per-example rows, on a case with a known answer.

Twenty test examples. Both base models score 0.5 on each (F1 50). Fine-tuned 11B scores 1.0 on the
first ten and 0.5 on the rest (F1 75); fine-tuned 90B scores 1.0 on all (F1 100). So 90B − 11B is
+25 points and 11B reaches 75 % of 90B's F1. The costs are the launch estimates, whose evaluation
parts are already inside them: 11B 10 + 26 = 36 USD, 90B 33 + 62 = 95 USD. The evaluations as run
(11B 0.5 + 25, 90B 1.5 + 60) are shown beside them and never added to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.evaluation.comparison import SizeComparison
from services.evaluation.group_report import compare_group, comparison_chart_path
from services.evaluation.testset import DatasetLocation, HeldOutExample
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.tables import Evaluation, EvaluationExample, Event, JobGroup
from tests.evaluation.factories import add_dataset, add_group, add_job, settings_for

COUNT = 20
NOTE = "placeholder prices: set real ones in TUNEBOT_PRICES_FILE"
TUNED_11B = [1.0] * 10 + [0.5] * 10


def add_evaluation(
    sessions: sessionmaker[Session],
    job_id: str,
    variant: str,
    scores: Sequence[float],
    cost: float,
    status: str = "done",
) -> None:
    with unit_of_work(sessions) as session:
        row = Evaluation(
            job_id=job_id,
            variant=variant,
            status=status,
            f1=100 * sum(scores) / len(scores),
            exact_match=0.0,
            count=len(scores),
            cost_usd=cost,
        )
        session.add(row)
        session.flush()
        for index, score in enumerate(scores):
            session.add(
                EvaluationExample(
                    evaluation_id=row.id,
                    example_id=f"ex-{index:02d}",
                    prediction=f"{job_id[:4]}-{variant}-{index}",
                    f1=score,
                    exact_match=1.0 if score == 1.0 else 0.0,
                )
            )


def questions(_settings: Settings, _location: DatasetLocation) -> list[HeldOutExample]:
    return [
        HeldOutExample(id=f"ex-{index:02d}", question=f"question {index}", references=(f"answer {index}",))
        for index in range(COUNT)
    ]


def evaluated_group(sessions: sessionmaker[Session], *, finish_90b: bool = True) -> tuple[str, str, str]:
    dataset_id = add_dataset(sessions, None)
    group_id = add_group(sessions, dataset_id)
    small = add_job(
        sessions, dataset_id, group_id, model="11b", status="done", training_hours=2,
        cost_estimate_usd=36.0, cost_estimate={"evaluation_usd": 26.0, "total_usd": 36.0, "note": NOTE},
    )  # fmt: skip
    large = add_job(
        sessions, dataset_id, group_id, model="90b", status="done", training_hours=5,
        cost_estimate_usd=95.0, cost_estimate={"evaluation_usd": 62.0, "total_usd": 95.0, "note": NOTE},
    )  # fmt: skip
    add_evaluation(sessions, small, "base", [0.5] * COUNT, 0.5)
    add_evaluation(sessions, small, "fine_tuned", TUNED_11B, 25.0)
    add_evaluation(sessions, large, "base", [0.5] * COUNT, 1.5)
    add_evaluation(
        sessions, large, "fine_tuned", [1.0] * COUNT, 60.0, status="done" if finish_90b else "running"
    )
    return group_id, small, large


def compared_events(sessions: sessionmaker[Session]) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).where(Event.type == "group.compared")))


def test_the_comparison_of_a_constructed_group_has_the_known_figures(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    group_id, small_job, _ = evaluated_group(sessions)
    settings = settings_for(tmp_path)

    comparison = compare_group(sessions, settings, group_id, test_examples=questions)

    assert comparison is not None
    small, large = comparison.model_11b, comparison.model_90b
    assert (small.base_f1, small.fine_tuned_f1, small.f1_uplift_points, small.f1_uplift_percent) == (
        50.0, 75.0, 25.0, 50.0
    )  # fmt: skip
    assert (large.base_f1, large.fine_tuned_f1, large.f1_uplift_points, large.f1_uplift_percent) == (
        50.0, 100.0, 50.0, 100.0
    )  # fmt: skip
    # The comparison's cost of each size is the estimate its launch showed, not that plus the evaluation.
    assert (small.training_cost_usd, small.evaluation_cost_usd, small.total_cost_usd) == (10.0, 26.0, 36.0)
    assert (large.training_cost_usd, large.evaluation_cost_usd, large.total_cost_usd) == (33.0, 62.0, 95.0)
    assert (small.evaluation_billed_usd, large.evaluation_billed_usd) == (25.5, 61.5)
    assert small.f1_per_dollar == pytest.approx(75.0 / 36.0)
    assert (small.training_seconds, large.training_seconds) == (pytest.approx(7200), pytest.approx(18000))
    assert comparison.example_count == COUNT and comparison.unpaired_example_count == 0
    assert comparison.difference.f1_points == 25.0
    assert comparison.difference.excludes_zero and comparison.difference.interval.low > 0
    assert comparison.cost_ratio == pytest.approx(95.0 / 36.0)
    assert comparison.small_share_of_large_f1_percent == 75.0
    assert comparison.verdict.startswith("90B leads by 25.0 F1 (CI ")
    assert comparison.verdict.endswith("at 2.6× the estimated cost; 11B reaches 75 % of 90B's F1.")
    assert comparison.cost_note == NOTE
    # The disagreements are the examples where 11B scored 0.5, with their questions and references.
    first = comparison.disagreements[0]
    assert [item.example_id for item in comparison.disagreements] == [f"ex-{i}" for i in range(10, 15)]
    assert (first.question, first.references, first.f1_11b, first.f1_90b) == (
        "question 10", ("answer 10",), 50.0, 100.0
    )  # fmt: skip
    assert first.answer_11b == f"{small_job[:4]}-fine_tuned-10"

    with sessions() as session:
        group = session.get(JobGroup, group_id)
        assert group is not None and group.comparison is not None
        assert SizeComparison.model_validate(group.comparison) == comparison
    chart = comparison_chart_path(settings, group_id)
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    (event,) = compared_events(sessions)
    assert event.subject_id == group_id
    assert event.payload["verdict"] == comparison.verdict
    assert event.payload["chart_path"] == str(chart)
    assert event.payload["name"] == "charts"  # the uploads are named after the launch, not its id
    assert event.payload["message"].startswith("11B vs 90B on 20 test examples (SQuAD v1.1 F1)")
    assert (
        "estimated $36.00" in event.payload["message"]
        and "evaluation as run $25.50" in event.payload["message"]
    )
    assert f"Costs are the launch estimates ({NOTE})." in event.payload["message"]


def test_asking_again_returns_the_stored_comparison_without_a_second_announcement(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    group_id, _, _ = evaluated_group(sessions)
    settings = settings_for(tmp_path)
    first = compare_group(sessions, settings, group_id, test_examples=questions)
    again = compare_group(sessions, settings, group_id, test_examples=questions)
    assert again == first
    assert len(compared_events(sessions)) == 1


def test_nothing_is_compared_until_both_sizes_are_evaluated(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    group_id, _, _ = evaluated_group(sessions, finish_90b=False)
    assert compare_group(sessions, settings_for(tmp_path), group_id, test_examples=questions) is None
    assert compared_events(sessions) == []
    assert compare_group(sessions, settings_for(tmp_path), "no-such-group") is None


def test_unreadable_test_examples_only_cost_the_questions_in_the_disagreements(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    group_id, _, _ = evaluated_group(sessions)

    def unreadable(_settings: Settings, _location: DatasetLocation) -> list[HeldOutExample]:
        raise OSError("bucket gone")

    comparison = compare_group(sessions, settings_for(tmp_path), group_id, test_examples=unreadable)
    assert comparison is not None and comparison.difference.f1_points == 25.0
    assert comparison.disagreements[0].question == ""
