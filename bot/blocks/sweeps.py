"""A learning-curve sweep: the confirmation card with the whole estimate, the sweep's parent message,
and its verdict. Pure."""

from __future__ import annotations

import json

from bot.blocks.kit import (
    LAUNCH_DISMISS,
    STATUS_ICONS,
    SWEEP_CONFIRM,
    Block,
    actions,
    button,
    context,
    cost_caveats,
    cut,
    estimated,
    sandbox_note,
    sandbox_suffix,
    section,
)
from services.api.schemas import SweepEstimateOut, SweepOut, SweepStatus


def _sizes(sizes: list[int]) -> str:
    return ", ".join(f"{size:,}" for size in sizes)


def _models(models: list[str]) -> str:
    return " and ".join(model.upper() for model in models)


def sweep_card(estimate: SweepEstimateOut, value: str) -> list[Block]:
    """Every job of the sweep with its epochs and estimate, the total, and the Start button."""
    lines = [
        f"*Learning-curve sweep* on dataset *{estimate.dataset_name}* (`{estimate.dataset_id}`, "
        f"{estimate.train_records:,} training records): sizes {_sizes(estimate.sizes)} × "
        f"{_models(list(estimate.models))}"
    ]
    for job in estimate.jobs:
        lines.append(
            f"• *{job.train_size:,}* × *{job.model.upper()}*: {job.epochs} epochs, learning rate "
            f"{job.learning_rate:g}; {estimated(job.cost.total_usd)}"
        )
    lines.append(f"*Total*: {estimated(estimate.total_usd)}")
    blocks = [
        section("\n".join(lines)),
        context(
            "Nested subsets (each smaller one inside the next, drawn with a fixed seed), every job scored "
            f"on the same {estimate.test_records:,} held-out test examples; epochs and learning rate "
            "from each subset's size."
        ),
    ]
    blocks += cost_caveats(estimate, "starting")
    blocks += sandbox_note(estimate)
    blocks.append(
        actions(
            button("Start sweep", SWEEP_CONFIRM, value, style="primary"),
            button("Cancel", LAUNCH_DISMISS, "x"),
        )
    )
    return blocks


def sweep_value(estimate: SweepEstimateOut, key: str) -> str:
    """What the Start button carries: the sweep exactly as estimated, and its idempotency key."""
    plan = {"dataset_id": estimate.dataset_id, "sizes": estimate.sizes, "models": estimate.models}
    return json.dumps({"sweep": plan, "key": key}, separators=(",", ":"))


def sweep_summary(estimate: SweepEstimateOut) -> str:
    """The sweep in a few words, for the admins asked to approve it."""
    return (
        f"a sweep of {len(estimate.jobs)} jobs (sizes {_sizes(estimate.sizes)} × "
        f"{_models(list(estimate.models))}) on dataset `{estimate.dataset_id}`"
    )


def sweep_started_text(sweep: SweepOut) -> str:
    if not sweep.created:
        return f"Already started: sweep `{sweep.id}`. Follow it in its thread."
    return (
        f":chart_with_upwards_trend: Sweep `{sweep.id}` started: {len(sweep.cells)} jobs, "
        f"{estimated(sweep.cost_estimate_usd, sweep.cost_note)}. The curve and the verdict "
        f"come to its thread when every job has ended.{sandbox_suffix(sweep)}"
    )


def sweep_parent_blocks(sweep: SweepOut) -> list[Block]:
    """The sweep's parent message: its jobs by training size, updated when it ends."""
    rows: dict[int, list[str]] = {}
    for cell in sweep.cells:
        job = cell.job
        rows.setdefault(cell.train_size, []).append(
            f"{STATUS_ICONS.get(job.status, '')} {job.model.upper()} {job.status}"
        )
    lines = [f"*{size:,}*: " + ", ".join(parts) for size, parts in sorted(rows.items())]
    blocks = [
        section(
            f"*Learning-curve sweep* for <@{sweep.requested_by}> on *{sweep.dataset_name}*: sizes "
            f"{_sizes(sweep.sizes)} × {_models(list(sweep.models))}, "
            f"{estimated(sweep.cost_estimate_usd, sweep.cost_note)} — *{sweep.status}*"
        ),
        section("\n".join(lines) or "Preparing the subsets."),
        context(f"sweep `{sweep.id}` · the curve and verdict come to the thread"),
    ]
    return blocks + sandbox_note(sweep)


def sweep_text(sweep: SweepOut) -> str:
    return cut(f"Learning-curve sweep of {sweep.dataset_name}: {sweep.status}", 3_000)


def verdict_blocks(sweep: SweepOut) -> list[Block]:
    """The answer: one line per finding, each with its 95 % interval, as the service worded it."""
    label = sandbox_note(sweep)
    lines = [line for line in sweep.lines if "sandbox: simulated results" not in line]
    if sweep.status == SweepStatus.CANCELLED:
        return [section(f"Sweep `{sweep.id}` was cancelled: no curve, no verdict."), *label]
    if not sweep.verdict:
        if sweep.status == SweepStatus.RUNNING:
            return [
                section(f"Sweep `{sweep.id}` is still running: the verdict comes when every job ended."),
                *label,
            ]
        return [section("\n".join(lines) or "No curve could be drawn."), *label]
    headline = sweep.verdict["headline"]
    # The service's last line is the headline followed by the alternatives: the headline is said once,
    # in bold, with the alternatives after it.
    findings = [line for line in lines if not line.startswith(headline)]
    alternatives = " ".join(line[len(headline) :].strip() for line in lines if line.startswith(headline))
    return [
        section(f"*More data, the bigger model, or stop?* ({sweep.dataset_name})"),
        *([section("\n".join(f"• {line}" for line in findings))] if findings else []),
        section(f"*{headline}*" + (f"\n{alternatives}" if alternatives.strip() else "")),
        context(
            "F1 is SQuAD F1 (0–100) on the one held-out test set; intervals are 95 % paired bootstrap. "
            "Costs are launch estimates."
        ),
        *label,
    ]
