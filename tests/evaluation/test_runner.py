"""The evaluation runner against a local stand-in for Bedrock at the inference seam.

Given a job that finished training on a prepared chart dataset, the base model answers "value 7
exactly" (F1 0.8, EM 0) and the fine-tuned model answers "value 7" (F1 1, EM 1), so every figure the
runner stores has a known value.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.aws.errors import AccessDenied, Rejected
from services.aws.throughput import HINTS
from services.evaluation.concurrency import AdaptiveConcurrency
from services.evaluation.costing import throughput_cost, token_cost
from services.evaluation.inference import JOB_TAG
from services.evaluation.runner import BASE_MODEL_PROFILES, evaluate_job, evaluate_pending
from services.evaluation.testset import TestSetError, parse_test_record, read_test_examples
from services.evaluation.variant import RunOptions, run_variant
from services.platform.db import unit_of_work
from services.platform.tables import Evaluation, EvaluationExample, Job, utcnow
from services.tuning.pricing import load_prices
from tests.evaluation.factories import (
    FAST,
    PNG,
    SYSTEM,
    chart_answers,
    evaluating_job,
    held_out_record,
    settings_for,
)
from tests.evaluation.fake_bedrock import FakeBedrock
from tests.jobs.conftest import events

BASE_11B = BASE_MODEL_PROFILES["11b"]


def rows(sessions: sessionmaker[Session], job_id: str) -> dict[str, Evaluation]:
    with sessions() as session:
        return {
            row.variant: row for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id))
        }


def stored_ids(sessions: sessionmaker[Session], evaluation_id: str) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(EvaluationExample.example_id).where(EvaluationExample.evaluation_id == evaluation_id)
            )
        )


def job_status(sessions: sessionmaker[Session], job_id: str) -> str:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job.status


# ------------------------------------------------------------------------------------ test records


def test_a_writer_record_becomes_a_question_with_its_image_and_references() -> None:
    example = parse_test_record(json.dumps(held_out_record(4)), "test.jsonl line 5")
    assert example.id == "ex-004"
    assert example.question == "What is the value of bar 4?"
    assert example.system == SYSTEM
    assert example.image_uri == "s3://b/p/images/ab12.png"
    assert example.image_format == "png"
    assert example.references == ("value 4",)


def test_a_record_without_tunebot_fields_uses_its_last_answer_and_line_as_id() -> None:
    record = held_out_record(1)
    del record["tunebot"]
    example = parse_test_record(json.dumps(record), "test.jsonl line 2")
    assert (example.id, example.references) == ("test.jsonl line 2", ("value 1",))


def test_bad_test_files_name_the_line_and_the_fix() -> None:
    with pytest.raises(TestSetError, match=r"test.jsonl line 2: not valid JSON.*tunebot prepare"):
        read_test_examples([json.dumps(held_out_record(0)), "{oops"])
    twice = json.dumps(held_out_record(0))
    with pytest.raises(TestSetError, match=r"line 2: example id 'ex-000' appears twice"):
        read_test_examples([twice, twice])
    with pytest.raises(TestSetError, match="holds no example"):
        read_test_examples(["", "  "])


# ------------------------------------------------------------------------------------------- AIMD


def test_concurrency_halves_once_per_window_and_grows_after_a_run_of_successes() -> None:
    limit = AdaptiveConcurrency(initial=8, maximum=10)
    stop = threading.Event()
    tickets = [limit.acquire(stop) for _ in range(8)]
    stop.set()
    assert limit.acquire(stop) is None  # all eight slots taken: waiting ends only with a stop
    stop.clear()
    # Eight requests of the same window are throttled together: one halving, not eight.
    for ticket in tickets:
        assert ticket is not None
        limit.release(ticket, throttled=True)
    assert limit.limit == 4
    for _ in range(4):  # four successes in a row at limit 4: one more
        ticket = limit.acquire(stop)
        assert ticket is not None
        limit.release(ticket, succeeded=True)
    assert limit.limit == 5
    assert limit.history == [8, 4, 5]


# ---------------------------------------------------------------------------------- the use case


def test_a_job_is_scored_on_base_and_fine_tuned_models_and_its_throughput_is_deleted(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 20)
    fake = FakeBedrock(chart_answers)

    summaries = evaluate_job(
        sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, options=FAST
    )

    assert summaries is not None
    base, tuned = summaries
    assert (base.variant, base.f1, base.exact_match, base.count, base.missing) == (
        "base", pytest.approx(80.0), 0.0, 20, 0
    )  # fmt: skip
    assert (tuned.variant, tuned.f1, tuned.exact_match, tuned.count, tuned.missing) == (
        "fine_tuned", pytest.approx(100.0), pytest.approx(100.0), 20, 0
    )  # fmt: skip
    prices = load_prices()
    assert base.cost_usd == pytest.approx(token_cost(prices, "11b", 20 * 100, 20 * 5))
    assert tuned.cost_usd == pytest.approx(throughput_cost(prices, "11b", 60)) == 25.0
    # The base model gets the prompt-optimised baseline; the fine-tuned model the prompt it trained on.
    base_calls = [call for call in fake.calls if call.model_id == BASE_11B]
    tuned_calls = [call for call in fake.calls if call.model_id.startswith("arn:")]
    assert len(base_calls) == len(tuned_calls) == 20
    assert base_calls[0].system is not None and base_calls[0].system.startswith(SYSTEM + "\n\n")
    assert "as few words as possible (typically 2 words" in base_calls[0].system
    assert {call.system for call in tuned_calls} == {SYSTEM}
    assert all(call.image == PNG and call.image_format == "png" for call in fake.calls)
    # One throughput, tagged with the job, created and deleted.
    assert len(fake.created) == 1 and fake.deleted == fake.created and not fake.throughputs
    evaluations = rows(sessions, job_id)
    assert evaluations["fine_tuned"].provisioned_model_arn == fake.created[0]
    assert evaluations["base"].input_tokens == 2000 and evaluations["base"].output_tokens == 100
    assert all(row.lease_owner is None and row.status == "done" for row in evaluations.values())
    assert job_status(sessions, job_id) == "done"
    completed = events(sessions, "evaluation.completed")
    assert [event.payload["variant"] for event in completed] == ["base", "fine_tuned"]
    assert completed[-1].payload["status"] == "done"
    assert "F1 100.0 vs base 80.0 (+20.0 points)" in completed[-1].payload["message"]
    assert "Provisioned Throughput is deleted" in completed[-1].payload["message"]


def test_the_throughput_is_tagged_as_tunebots_and_with_its_job(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 3)
    fake = FakeBedrock(chart_answers)
    seen: list[dict[str, str]] = []
    create = fake.create_provisioned_throughput

    def spy(model_arn: str, name: str, tags: Mapping[str, str]) -> str:
        seen.append(dict(tags))
        assert name == f"tunebot-eval-{job_id}"
        return create(model_arn, name, tags)

    fake.create_provisioned_throughput = spy  # type: ignore[method-assign]
    evaluate_job(sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, options=FAST)
    assert seen == [{JOB_TAG: job_id}]


def test_a_throttling_storm_drops_concurrency_then_it_recovers_and_nothing_is_lost(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 150)
    examples = read_test_examples((tmp_path / "prepared" / "test.jsonl").read_text().splitlines())
    with unit_of_work(sessions) as session:
        row = Evaluation(
            job_id=job_id, variant="base", lease_owner="me", lease_expires_at=utcnow() + timedelta(hours=1)
        )
        session.add(row)
        session.flush()
        evaluation_id = row.id
    # A storm (attempts 30–80 all refused), and outside it Bedrock takes at most 4 at once.
    fake = FakeBedrock(
        chart_answers, latency=0.005, throttle=lambda attempt, busy: 30 <= attempt <= 80 or busy > 4
    )

    totals = run_variant(
        sessions, evaluation_id, examples,
        model_id=BASE_11B, inference=fake, images=lambda _: PNG, system_prompt=lambda _: None,
        max_tokens=64, owner="me",
        options=RunOptions(initial_concurrency=8, max_concurrency=12, attempts=60, base_delay=0.001,
                           max_delay=0.01, flush_seconds=0.02),
    )  # fmt: skip

    assert totals.throttled >= 51 and totals.answered == 150 and totals.rejected == 0
    history = totals.concurrency_history
    assert history[0] == 8 and min(history) == 1
    assert max(history[history.index(1) :]) >= 3, f"never recovered: {history}"
    assert sorted(stored_ids(sessions, evaluation_id)) == sorted(example.id for example in examples)
    assert set(fake.answered.values()) == {1}, "an example was answered twice"


def test_a_crash_mid_run_resumes_without_redoing_a_stored_example(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 30)
    settings = settings_for(tmp_path)
    crashing = FakeBedrock(chart_answers, fail_from_attempt=13, failure=RuntimeError("simulated crash"))

    assert (
        evaluate_job(sessions, settings, job_id, inference_factory=lambda _: crashing, options=FAST) is None
    )

    first = rows(sessions, job_id)
    stored_first = stored_ids(sessions, first["base"].id)
    assert 0 < len(stored_first) < 30
    assert len(stored_first) == sum(crashing.answered.values()), "an answer was lost in the crash"
    assert first["base"].status == "pending" and "simulated crash" in (first["base"].error or "")
    assert job_status(sessions, job_id) == "evaluating"  # a retryable failure waits for the next run
    assert crashing.created and crashing.deleted == crashing.created, "the throughput outlived the crash"

    resumed = FakeBedrock(chart_answers)
    finished = evaluate_pending(sessions, settings, inference_factory=lambda _: resumed, options=FAST)

    assert finished == [job_id]
    base_questions = Counter(
        question for (model, question), n in crashing.answered.items() if model == BASE_11B
    )
    base_questions.update(question for (model, question), n in resumed.answered.items() if model == BASE_11B)
    assert len(base_questions) == 30 and set(base_questions.values()) == {1}, "an example was redone"
    assert sum(n for (model, _), n in resumed.answered.items() if model == BASE_11B) == 30 - len(stored_first)
    assert rows(sessions, job_id)["base"].f1 == pytest.approx(80.0)
    assert job_status(sessions, job_id) == "done"


def test_an_evaluation_that_fails_half_way_still_deletes_its_throughput(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 10)
    # As the adapter raises it: with the hint of what to grant (services/aws/throughput.py).
    denied = AccessDenied(
        "AccessDeniedException",
        "not authorized to invoke the provisioned model",
        "Converse",
        HINTS["AccessDeniedException"],
    )
    # Base: attempts 1–10; the fine-tuned model answers a few, then access is refused.
    fake = FakeBedrock(chart_answers, fail_from_attempt=14, failure=denied, fail_models=("arn:",))

    assert (
        evaluate_job(sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, options=FAST)
        is None
    )

    assert fake.created and fake.deleted == fake.created and not fake.throughputs
    evaluations = rows(sessions, job_id)
    assert evaluations["base"].status == "done"
    assert evaluations["fine_tuned"].status == "failed"
    assert "AccessDeniedException" in (evaluations["fine_tuned"].error or "")
    assert evaluations["fine_tuned"].cost_usd == 25.0  # the hour it ran is still counted
    assert 0 < len(stored_ids(sessions, evaluations["fine_tuned"].id)) < 10
    assert job_status(sessions, job_id) == "failed"
    failed = events(sessions, "evaluation.failed")
    assert len(failed) == 1 and "bedrock:InvokeModel" in failed[0].payload["message"]


def test_an_interrupt_still_deletes_the_throughput(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    job_id = evaluating_job(sessions, tmp_path, 6)
    fake = FakeBedrock(chart_answers, fail_from_attempt=8, failure=KeyboardInterrupt(), fail_models=("arn:",))
    with pytest.raises(KeyboardInterrupt):
        evaluate_job(sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, options=FAST)
    assert fake.created and fake.deleted == fake.created
    assert all(row.lease_owner is None for row in rows(sessions, job_id).values())


def test_examples_bedrock_rejects_are_stored_as_missing_and_score_zero(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 10)

    def answers(model_id: str, question: str) -> str:
        if "bar 3?" in question:
            raise Rejected("ValidationException", "image could not be processed", "Converse")
        return chart_answers(model_id, question)

    summaries = evaluate_job(
        sessions,
        settings_for(tmp_path),
        job_id,
        inference_factory=lambda _: FakeBedrock(answers),
        options=FAST,
    )
    assert summaries is not None
    assert [(s.missing, round(s.f1, 6)) for s in summaries] == [(1, 72.0), (1, 90.0)]
    assert "1 without an answer (scored 0)" in events(sessions, "evaluation.completed")[0].payload["message"]


def test_an_evaluation_leased_by_another_replica_is_left_alone(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 5)
    with unit_of_work(sessions) as session:
        for variant in ("base", "fine_tuned"):
            session.add(
                Evaluation(
                    job_id=job_id,
                    variant=variant,
                    lease_owner="other",
                    lease_expires_at=utcnow() + timedelta(minutes=5),
                )
            )
    fake = FakeBedrock(chart_answers)
    assert (
        evaluate_job(sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, owner="me")
        is None
    )
    assert fake.attempts == 0 and not fake.created


def test_a_job_not_waiting_for_evaluation_is_not_evaluated(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 5, status="training")
    fake = FakeBedrock(chart_answers)
    assert evaluate_job(sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake) is None
    assert fake.attempts == 0 and rows(sessions, job_id) == {}


def test_a_missing_test_set_fails_the_evaluation_with_what_to_do(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 5)
    (tmp_path / "prepared" / "test.jsonl").unlink()
    fake = FakeBedrock(chart_answers)
    assert evaluate_job(sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake) is None
    assert fake.attempts == 0 and not fake.throughputs
    (failed,) = events(sessions, "evaluation.failed")
    assert "never uploaded: prepare it again with --upload" in failed.payload["message"]
    assert job_status(sessions, job_id) == "failed"


def test_after_a_retryable_failure_the_next_try_waits_for_the_cool_down(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 6)
    settings = settings_for(tmp_path)
    crashing = FakeBedrock(chart_answers, fail_from_attempt=3)
    cooling = replace(FAST, retry_cooldown_seconds=900)
    evaluate_job(sessions, settings, job_id, inference_factory=lambda _: crashing, options=cooling)

    eager = FakeBedrock(chart_answers)
    assert evaluate_pending(sessions, settings, inference_factory=lambda _: eager, options=cooling) == []
    assert eager.attempts == 0 and not eager.created, "a retry inside the cool-down would pay for a new hour"


def test_a_replica_whose_lease_was_taken_over_stops_and_leaves_the_throughput_to_the_new_owner(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    job_id = evaluating_job(sessions, tmp_path, 6)

    def answers_then_lose_the_lease(model_id: str, question: str) -> str:
        # As if this replica stalled past its lease and another one claimed the evaluation.
        with unit_of_work(sessions) as session:
            for row in session.scalars(select(Evaluation).where(Evaluation.job_id == job_id)):
                row.lease_owner, row.lease_expires_at = "other", utcnow() + timedelta(minutes=10)
        return chart_answers(model_id, question)

    fake = FakeBedrock(answers_then_lose_the_lease)
    outcome = evaluate_job(
        sessions, settings_for(tmp_path), job_id, inference_factory=lambda _: fake, owner="me", options=FAST
    )
    assert outcome is None

    assert len(fake.throughputs) == 1 and not fake.deleted, "the new owner is using it"
    assert stored_ids(sessions, rows(sessions, job_id)["base"].id) == []
    assert all(row.lease_owner == "other" for row in rows(sessions, job_id).values())
    assert job_status(sessions, job_id) == "evaluating"
