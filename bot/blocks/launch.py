"""The launch: recommendation, confirmation card, launched line, the admins' approval request. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.kit import (
    APPROVE,
    DECLINE,
    LAUNCH_CONFIRM,
    LAUNCH_DISMISS,
    Block,
    actions,
    button,
    context,
    cost_caveats,
    estimated,
    money,
    note_of,
    sandbox_note,
    sandbox_suffix,
    section,
)
from services.api.schemas import DatasetOut, EstimateOut, LaunchOut, Recommendation, SweepEstimateOut


def recommendation_blocks(advice: Recommendation) -> list[Block]:
    low, high = advice.epochs_range
    lr_low, lr_high = advice.learning_rate_range
    head = (
        f"*Recommendation for {advice.examples:,} examples*: {advice.model.upper()}, "
        f"{advice.epochs} epochs (range {low}–{high}), learning rate {advice.learning_rate:g} "
        f"(range {lr_low:g}–{lr_high:g})"
    )
    reasons = "\n".join(f"• {reason}" for reason in advice.reasons)
    return [section(head), section(reasons or "No reasons given.")]


def launch_card(
    dataset: DatasetOut,
    estimate: EstimateOut,
    advice: Mapping[str, Recommendation],
    value: str,
    *,
    evaluate: bool = True,
) -> list[Block]:
    """The confirmation card: what will be launched on ``dataset`` with the service's ``estimate`` of it
    (the figures the launch will store and the cost cap compares), ``advice`` the recommendation per
    model, ``value`` the Launch button's payload."""
    planned = {job.model: job for job in estimate.jobs}
    lines = [
        f"*Launch fine-tuning of Llama 3.2 {' and '.join(m.upper() for m in planned)}* on dataset "
        f"*{dataset.name or dataset.id}* (`{dataset.id}`, {estimate.examples:,} training examples)"
    ]
    for model, job in planned.items():
        lines.append(
            f"• *{model.upper()}*: epochs {job.epochs} (recommended {job.recommended_epochs}), "
            f"learning rate {job.learning_rate:g} (recommended {job.recommended_learning_rate:g}); "
            f"{estimated(job.cost.total_usd)}"
        )
    if len(planned) > 1:
        lines.append(f"*Total*: {estimated(estimate.total_usd)}")
    reasons = next(iter(advice.values())).reasons if advice else []
    blocks = [
        section("\n".join(lines)),
        context(" ".join(reasons) or "Recommendation from the dataset's size."),
        context(f"Evaluation: {'on (SQuAD F1 against the base model)' if evaluate else 'off'}"),
    ]
    blocks += cost_caveats(estimate, "launching")
    for warning in estimate.warnings:
        blocks.append(context(f":warning: {warning}"))
    blocks += sandbox_note(estimate)
    blocks.append(
        actions(
            button("Launch", LAUNCH_CONFIRM, value, style="primary"), button("Cancel", LAUNCH_DISMISS, "x")
        )
    )
    return blocks


def launch_value(plan: Mapping[str, Any]) -> str:
    """The launch parameters carried by a button, compact enough for Slack's 2,000 characters."""
    keys = ("dataset_id", "models", "epochs", "learning_rate", "evaluate", "name", "key")
    return json.dumps({key: plan[key] for key in keys if plan.get(key) is not None}, separators=(",", ":"))


def launched_text(result: LaunchOut, card_link: str | None = None) -> str:
    """The launcher's private answer, with a link to the launch's card and thread when there is one."""
    names = ", ".join(f"*{job.name}* ({job.model.upper()})" for job in result.jobs)
    thread = f"<{card_link}|its thread>" if card_link else "the launch thread"
    if not result.created:
        return f"Already launched: {names}. Follow it in {thread}."
    cost = round(sum(job.cost_estimate_usd or 0.0 for job in result.jobs), 2)
    return (
        f":rocket: Launched {names}, {estimated(cost, note_of(*(job.cost_note for job in result.jobs)))}. "
        f"Progress follows in {thread}.{sandbox_suffix(*result.jobs)}"
    )


def sizes_text(models: Sequence[str]) -> str:
    return " and ".join(str(model).upper() for model in models)


def launching_text(plan: Mapping[str, Any], user: str) -> str:
    """The launch's card before the service has answered: delivery replaces it with the group's card."""
    return (
        f":rocket: <@{user}> is launching fine-tuning of Llama 3.2 {sizes_text(plan['models'])} on dataset "
        f"`{plan['dataset_id']}`…"
    )


def waiting_text(plan: Mapping[str, Any], user: str) -> str:
    return (
        f":hourglass: <@{user}>'s launch of Llama 3.2 {sizes_text(plan['models'])} on dataset "
        f"`{plan['dataset_id']}` is above the cost cap and waits for an admin's approval."
    )


def declined_text(plan: Mapping[str, Any], user: str, admin: str) -> str:
    return (
        f":no_entry_sign: <@{admin}> declined <@{user}>'s launch of Llama 3.2 {sizes_text(plan['models'])} "
        f"on dataset `{plan['dataset_id']}`."
    )


def launched_line(user: str, models: Sequence[str], card_link: str) -> str:
    """What a report's buttons' row becomes once someone launched from it."""
    return f":rocket: <@{user}> launched {sizes_text(models)} — <{card_link}|thread>"


def approval_request_text(summary: str, estimate: EstimateOut | SweepEstimateOut) -> str:
    """The admins' DM as a notification reads it."""
    return f"Approval needed: {summary}, {estimated(estimate.total_usd, estimate.note)}"


def approval_request_blocks(
    requester: str, summary: str, estimate: EstimateOut | SweepEstimateOut, value: str
) -> list[Block]:
    """The admins' DM: the same estimate the requester saw (a launch's or a sweep's), and the cap it is
    above."""
    note = estimate.note
    return [
        section(
            f":moneybag: <@{requester}> asks to launch {summary}, {estimated(estimate.total_usd)}: "
            f"above the cost cap of {money(estimate.cost_cap_usd)}, so an admin must approve it."
        ),
        *([context(f":warning: Costs are estimates from {note}.")] if note else []),
        *sandbox_note(estimate),
        actions(
            button("Approve", APPROVE, value, style="primary"),
            button("Decline", DECLINE, value, style="danger"),
        ),
    ]
