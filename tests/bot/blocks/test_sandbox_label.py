"""The one rule for simulated figures: every renderer that shows something from the sandbox says so.

The walk below calls every renderer in ``bot.blocks`` with sandbox objects shaped as the API returns
them; a renderer added later without a place in the walk (or a reason to be exempt) fails the test.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

from bot import blocks
from services.api.schemas import JobStatus
from tests.bot import factories

LABEL = "sandbox: simulated results"
NOTE = factories.NOTE
JOB = factories.job(
    id="job11",
    model="11b",
    name="charts-11b",
    status="done",
    epochs=8,
    recommended_epochs=8,
    cost_estimate_usd=31.58,
    cost_note=NOTE,
    metrics={"final_training_loss": 0.4, "final_validation_loss": 0.5},
    evaluations=[factories.evaluation("base", 64.1), factories.evaluation("fine_tuned", 69.5)],
    created_at="2026-12-01T09:00:00Z",
)
JOB_90B = factories.changed(JOB, id="job90", model="90b", name="charts-90b", cost_estimate_usd=73.54)
TRAINING = factories.changed(JOB, status="training", cancellable=True, final=False)
GROUP = factories.group([JOB, JOB_90B], cost_estimate_usd=105.12, cost_note=NOTE)
SIZE = {
    "size": "11B",
    "base_f1": 64.1,
    "fine_tuned_f1": 69.5,
    "f1_uplift_points": 5.4,
    "total_cost_usd": 31.58,
}
COMPARISON = {
    "sandbox": True,
    "verdict": f"{LABEL} — 90B leads by 2.4 F1",
    "model_11b": SIZE,
    "model_90b": {**SIZE, "size": "90B", "fine_tuned_f1": 71.9, "total_cost_usd": 73.54},
    "cost_note": NOTE,
}
DATASET = factories.dataset(
    report={
        "usable": True,
        "counts": {"records": 400, "accepted": 400, "train": 300, "validation": 60, "test": 40},
        "cost_by_model": {
            "11b": {"model": "11b", "epochs": 8, "total_usd": 31.58, "note": NOTE},
            "90b": {"model": "90b", "epochs": 8, "total_usd": 73.54, "note": NOTE},
        },
    },
)
ESTIMATE = factories.estimate(
    {"11b": 31.58, "90b": 73.54}, examples=300, cost_cap_usd=500.0, approval_required=False
)
ADVICE = {"11b": factories.recommendation(reasons=["8 epochs because 300 examples."])}
SWEEP_ESTIMATE = factories.sweep_estimate({100: 10.1, 300: 31.1})
SWEEP = factories.sweep(
    [(100, JOB)],
    status="evaluated",
    lines=["11B: +1.0 F1 per doubling of data (95 % CI +0.2 to +2.1)", "Next: more data — 11B on 600"],
    verdict={"headline": "Next: more data — 11B on 600"},
)

# Every renderer that can show a simulated figure, called with sandbox objects.
WALK: dict[str, Callable[[], Any]] = {
    "job_card": lambda: blocks.job_card(JOB),
    "history_blocks": lambda: blocks.history_blocks([JOB, JOB_90B], None, "Jobs of <@U1>"),
    "cancel_confirm_blocks": lambda: blocks.cancel_confirm_blocks(TRAINING),
    "launch_card": lambda: blocks.launch_card(DATASET, ESTIMATE, ADVICE, "v"),
    "launched_text": lambda: blocks.launched_text(factories.launched([JOB, JOB_90B])),
    "approval_request_blocks": lambda: blocks.approval_request_blocks("U1", "11B + 90B", ESTIMATE, "v"),
    "group_card": lambda: blocks.group_card(GROUP),
    "comparison_blocks": lambda: blocks.comparison_blocks(COMPARISON),
    "job_pair_blocks": lambda: blocks.job_pair_blocks(JOB, JOB_90B),
    "datasets_blocks": lambda: blocks.datasets_blocks([DATASET], "Recent datasets"),
    "dataset_report_blocks": lambda: blocks.dataset_report_blocks(DATASET, blocks.dataset_costs(DATASET)),
    "home_view": lambda: blocks.home_view([JOB], {JobStatus.TRAINING: [JOB_90B]}),
    "sweep_card": lambda: blocks.sweep_card(SWEEP_ESTIMATE, "v"),
    "sweep_started_text": lambda: blocks.sweep_started_text(SWEEP),
    "sweep_parent_blocks": lambda: blocks.sweep_parent_blocks(SWEEP),
    "verdict_blocks": lambda: blocks.verdict_blocks(SWEEP),
    "event_text": lambda: blocks.event_text(
        factories.event("job.completed", "job11", {"message": f"charts-11b: done ({LABEL})"})
    ),
}
# Renderers that show no figure of their own, each with the reason.
EXEMPT = {
    "help_blocks": "static help",
    "usage_error_text": "a usage error",
    "error_text": "a refusal",
    "recommendation_blocks": "rules from the dataset's size, not a result",
    "checking_text": "an acknowledgement",
    "check_progress_text": "records counted by the check, the same in the sandbox (no simulated figure)",
    "still_checking_text": "an acknowledgement",
    "loading_view": "a placeholder while the form loads",
    "launch_modal": "a form; its Review cost answer is launch_card",
    "launch_value": "a button payload",
    "job_line": "one line inside history_blocks and home_view, which carry the label",
    "dataset_line": "one line inside datasets_blocks, which carries the label",
    "group_text": "the notification fallback of group_card, which carries the label",
    "greeting_text": "what the bot does, no figures",
    "not_a_dataset_text": "what the bot reads, no figures",
    "no_download_text": "a refusal",
    "not_here_text": "a refusal",
    "sweep_text": "the notification fallback of sweep_parent_blocks, which carries the label",
    "approval_request_text": "the notification fallback of approval_request_blocks, which carries the label",
    "sweep_value": "a button payload",
    "sizes_text": "model sizes' names",
    "launching_text": "the card's placeholder before the launch exists: no figure",
    "waiting_text": "a launch waiting for approval: no figure",
    "declined_text": "a declined launch: no figure",
    "launched_line": "who launched which sizes, with a link: no figure",
    "checking_view": "the form while its values are checked: no figure",
    "listing_view": "a modal around datasets_blocks or history_blocks, which carry the label",
    "reviewed_view": "points to the confirmation card (launch_card), which carries the label",
}
RENDERER_SUFFIXES = ("_blocks", "_card", "_view", "_text", "_line", "_value", "_modal")


def test_every_renderer_is_walked_or_exempt_with_a_reason() -> None:
    renderers = {
        name
        for name, function in inspect.getmembers(blocks, inspect.isfunction)
        if name.endswith(RENDERER_SUFFIXES)
        and not name.startswith("_")
        and function.__module__.startswith("bot.")
    }
    assert renderers == set(WALK) | set(EXEMPT)


def test_every_renderer_labels_a_sandbox_figure_and_only_then() -> None:
    for name, render in WALK.items():
        assert LABEL in json.dumps(render()), f"{name} shows a sandbox figure without the label"


def test_a_real_run_is_not_labelled() -> None:
    real_job = factories.changed(JOB, sandbox=False)
    real = [
        blocks.job_card(real_job),
        blocks.history_blocks([real_job], None, "Jobs"),
        blocks.group_card(factories.group([real_job])),
        blocks.comparison_blocks({**COMPARISON, "sandbox": False, "verdict": "90B leads"}),
        blocks.launch_card(
            factories.changed(DATASET, sandbox=False),
            factories.changed(ESTIMATE, sandbox=False),
            ADVICE,
            "v",
        ),
        blocks.home_view([real_job], {}),
        blocks.verdict_blocks(factories.changed(SWEEP, sandbox=False)),
        blocks.sweep_card(factories.changed(SWEEP_ESTIMATE, sandbox=False), "v"),
    ]
    assert all(LABEL not in json.dumps(message) for message in real)
