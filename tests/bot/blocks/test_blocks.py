"""Renderers: every message passes slack_sdk's Block Kit validation and stays within Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot import blocks
from services.api.schemas import JobStatus
from tests.bot import factories

JOB = factories.job(
    failure_message="ValidationException: bad record",
    failure_hint="Fix record 3",
    metrics={"final_training_loss": 0.41, "final_validation_loss": 0.52},
    evaluations=[factories.evaluation("base", 64.0), factories.evaluation("fine_tuned", 71.25)],
)
ESTIMATE = factories.estimate({"11b": 3.0, "90b": 9.5})
FINDINGS = [{"record": f"data.jsonl:{i}", "code": f"code_{i % 14}", "message": "x" * 400} for i in range(300)]
REPORT: dict[str, Any] = {
    "usable": True,
    "counts": {
        "records": 1300,
        "accepted": 1000,
        "rejected": 300,
        "train": 800,
        "validation": 120,
        "test": 80,
    },
    "errors": FINDINGS,
    "error_counts": {f"code_{i}": 1000 for i in range(14)},
    "warnings": [],
    "recommendation": factories.advice(),
}
DATASET = factories.dataset(report=REPORT)


def valid(message: list[blocks.Block]) -> str:
    assert len(message) <= blocks.MAX_BLOCKS
    for block in message:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    return json.dumps(message, ensure_ascii=False)


def test_the_validation_used_here_catches_oversized_text() -> None:
    with pytest.raises(SlackObjectFormationError):
        Block.parse({"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3_001}}).validate_json()  # type: ignore[union-attr]


def test_a_job_card_shows_the_failure_the_fix_the_losses_and_the_sandbox() -> None:
    text = valid(blocks.job_card(JOB))

    assert "Epochs:* 6 (recommended 8)" in text
    assert "Likely fix:* Fix record 3" in text
    assert "training loss 0.4100" in text
    assert "sandbox: simulated results" in text


def test_a_long_report_is_cut_with_a_count_of_the_rest_and_offers_three_priced_buttons() -> None:
    text = valid(blocks.dataset_report_blocks(DATASET, {"11b": 12.5, "90b": 40.0}))

    assert "`code_0` ×1,000 (record data.jsonl:0)" in text
    listed = text.count("×1,000")
    assert 1 <= listed <= blocks.MAX_LISTED_ERRORS
    rest = 14 - listed
    assert f"…and {rest * 1000:,} more in {rest} other codes" in text
    assert "Launch 11B (est. $12.50)" in text and "Launch both and compare (est. $52.50)" in text


def test_an_unusable_dataset_gets_reasons_and_no_buttons() -> None:
    unusable = factories.changed(DATASET, status="unusable", error="fewer than 100 records")

    text = valid(blocks.dataset_report_blocks(unusable, {}))

    assert "cannot be used" in text and "fewer than 100 records" in text
    assert blocks.LAUNCH_FROM_REPORT not in text


def test_a_history_line_shows_the_fine_tuned_f1_once_scored() -> None:
    assert "F1 71.2" in blocks.job_line(JOB)
    assert "F1" not in blocks.job_line(factories.job(evaluations=[]))
    assert "F1" not in blocks.job_line(factories.job(evaluations=[factories.evaluation("base", 64.0)]))


def test_history_splits_long_pages_and_offers_more() -> None:
    many = [factories.job(name=f"job-{i}-" + "n" * 150) for i in range(50)]

    message = blocks.history_blocks(many, '{"b":"x"}', "Jobs of everyone")

    text = valid(message)
    assert text.count("job-") == 50 and message[-1]["elements"][0]["action_id"] == blocks.HISTORY_MORE


def test_the_other_messages_validate() -> None:
    group = factories.group(
        [JOB, factories.job(model="11b", status="training", cancellable=True, final=False)]
    )
    plan = {
        "dataset_id": "ds1",
        "models": ["11b", "90b"],
        "epochs": None,
        "learning_rate": None,
        "evaluate": True,
        "key": "card:t1",
    }
    advice = {m: factories.recommendation(model=m) for m in ("11b", "90b")}
    comparison = {
        "sandbox": True,
        "verdict": "Ship 11B.",
        "model_11b": {
            "size": "11B",
            "base_f1": 40.0,
            "fine_tuned_f1": 70.0,
            "f1_uplift_points": 30.0,
            "total_cost_usd": 20.0,
        },
    }

    for message in (
        blocks.help_blocks(),
        blocks.group_card(group),
        blocks.cancel_confirm_blocks(JOB),
        blocks.launch_card(DATASET, ESTIMATE, advice, blocks.launch_value(plan)),
        blocks.comparison_blocks(comparison),
        blocks.job_pair_blocks(JOB, JOB),
        blocks.datasets_blocks([DATASET], "Recent datasets"),
        blocks.approval_request_blocks("U1", "11B", ESTIMATE, "{}"),
        blocks.recommendation_blocks(factories.recommendation()),
    ):
        valid(message)
    card = json.dumps(blocks.launch_card(DATASET, ESTIMATE, advice, "v"))
    # The service's figures for the values typed, never "shown when launched".
    assert "estimated $3.00" in card and "estimated $9.50" in card and "Total*: estimated $12.50" in card
    assert "Costs are estimates from placeholder prices: set real ones in TUNEBOT_PRICES_FILE." in card
    View(**blocks.home_view([JOB], {JobStatus.TRAINING: [JOB]})).validate_json()


def test_a_home_stage_listed_to_its_cap_says_it_shows_only_the_newest() -> None:
    view = blocks.home_view([], {JobStatus.QUEUED: [JOB] * 3, JobStatus.TRAINING: [JOB]}, listed_per_stage=3)

    titles = [block["text"]["text"] for block in view["blocks"] if block["type"] == "section"]
    assert "*Queued* (the newest 3; all in History)" in titles  # there may be more than the 3 listed
    assert "*Training* (1)" in titles and "*Evaluating* (0)" in titles


def test_a_button_value_over_slacks_limit_is_refused_here() -> None:
    with pytest.raises(ValueError, match="2000"):
        blocks.button("Go", "a", "x" * 2_001)


def test_a_launch_card_shows_each_jobs_stage_and_elapsed_time() -> None:
    now = datetime(2026, 11, 26, 17, 5, tzinfo=UTC)
    training = factories.changed(JOB, model="11b", status="training", final=False, finished_at=None)
    done = factories.changed(
        JOB, name="charts-90b", model="90b", status="done", final=True, finished_at="2026-11-26T16:40:30Z"
    )
    group = factories.group([training, done])

    text = valid(blocks.group_card(group, now))

    assert "(11B): training (on Bedrock), 1 h 05 min so far" in text
    assert "(90B): done, took 40 min" in text
    assert "as of 17:05 UTC" in text


@pytest.mark.parametrize(
    ("status", "checked", "total", "shown"),
    [
        ("checking", None, None, ":mag: Checking `charts.zip`… I will post the report in this thread."),
        ("checking", 1_200, 2_000, ":mag: Checking `charts.zip`… 1,200 of 2,000 records (60 %)"),
        ("checking", 1_200, None, ":mag: Checking `charts.zip`… 1,200 records so far"),  # streamed formats
        ("ready", 2_000, 2_000, ":mag: Checked `charts.zip`: 2,000 records. The report is in this thread."),
        ("unusable", 80, 80, ":mag: Checked `charts.zip`: 80 records. The report is in this thread."),
        ("failed", None, None, ":mag: The check of `charts.zip` stopped: the reason is in this thread."),
    ],
)
def test_the_checking_message_says_what_the_check_has_got_to(
    status: str, checked: int | None, total: int | None, shown: str
) -> None:
    dataset = factories.dataset(status=status, records_checked=checked, records_total=total)

    assert blocks.check_progress_text("charts.zip", dataset) == shown
