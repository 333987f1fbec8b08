"""A launch's thread: the group card updated in place, event lines, comparisons. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.blocks.kit import STATUS_ICONS, Block, context, cut, estimated, note_of, sandbox_note, section
from services.api.schemas import EventOut, GroupOut, JobOut, JobStatus

STAGES = {
    JobStatus.PENDING: "waiting to be submitted",
    JobStatus.QUEUED: "waiting for a free Bedrock training slot",
    JobStatus.SUBMITTING: "being submitted to Bedrock",
    JobStatus.TRAINING: "on Bedrock",
    JobStatus.EVALUATING: "scoring the base and fine-tuned models with SQuAD F1",
    JobStatus.CANCELLING: "stopping on Bedrock",
}


def _f1(job: JobOut) -> str:
    f1 = job.fine_tuned_f1()
    return "" if f1 is None else f" · F1 {f1:.1f}"


def duration_text(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # the service stores UTC


def job_progress(job: JobOut, now: datetime | None) -> str:
    """The stage a job is at and how long it has taken: ``training (on Bedrock), 12 min so far``."""
    stage = f"{job.status} ({STAGES[job.status]})" if job.status in STAGES else str(job.status)
    started = _utc(job.created_at)
    if job.final and job.finished_at is not None:
        return f"{stage}, took {duration_text((_utc(job.finished_at) - started).total_seconds())}"
    if now is None:
        return stage
    return f"{stage}, {duration_text((now - started).total_seconds())} so far"


def group_card(group: GroupOut, now: datetime | None = None) -> list[Block]:
    """The parent message of a launch, updated in place as its jobs move: each job's stage and elapsed
    time as of ``now`` (the moment of the update, which the card says). Without ``now``: the card with
    no running clock, which changes only when the launch does (delivery compares those)."""
    jobs = group.jobs
    title = " + ".join(job.model.upper() for job in jobs) or "launch"
    lines = [
        f"{STATUS_ICONS.get(job.status, '')} *{job.name}* ({job.model.upper()}): "
        f"{job_progress(job, now)}{_f1(job)}"
        for job in jobs
    ]
    notes = note_of(group.cost_note, *(job.cost_note for job in jobs))
    blocks = [
        section(
            f"*Fine-tuning {title}* for <@{group.requested_by}> on dataset `{group.dataset_id}`, "
            f"{estimated(group.cost_estimate_usd, notes)}"
        ),
        section("\n".join(lines) or "No jobs."),
        context(
            f"group `{group.id}`" + (f" · as of {now:%H:%M} UTC" if now else "") + " · details in the thread"
        ),
    ]
    return blocks + sandbox_note(group)


def group_text(group: GroupOut) -> str:
    jobs = ", ".join(f"{job.name} {job.status}" for job in group.jobs)
    return cut(f"Fine-tuning for <@{group.requested_by}>: {jobs}", 3_000)


def event_text(event: EventOut, requested_by: str | None = None) -> str:
    """The thread's line for an event; the one that ends a launch mentions who launched it (given
    here when the event itself does not say)."""
    payload = event.payload
    message = str(payload.get("message") or f"{event.type} for {event.subject_id}")
    icon = STATUS_ICONS.get(str(payload.get("status", "")), "")
    text = f"{icon} {message}".strip()
    if event.type == "job.failed" and payload.get("failure_hint"):
        text += f"\nLikely fix: {payload['failure_hint']}"
    # Once per launch: only the event the service marks as its end (done, failed or cancelled) mentions.
    requester = payload.get("requested_by") or requested_by
    if payload.get("launch_ended") and requester:
        text = f"<@{requester}> {text}"
    return cut(text, 3_000)


def comparison_blocks(comparison: Mapping[str, Any]) -> list[Block]:
    blocks = [section("*11B vs 90B*")]
    for key in ("model_11b", "model_90b"):
        size = comparison.get(key) or {}
        if size:
            blocks.append(
                section(
                    f"*{size.get('size', key[-3:].upper())}*: F1 {size.get('base_f1', 0):.1f} → "
                    f"{size.get('fine_tuned_f1', 0):.1f} ({size.get('f1_uplift_points', 0):+.1f} points), "
                    f"{estimated(size.get('total_cost_usd'))}"
                )
            )
    if comparison.get("verdict"):
        blocks.append(section(str(comparison["verdict"])))
    costs = "Costs are the launch estimates"
    blocks.append(
        context(f"{costs} ({comparison['cost_note']})." if comparison.get("cost_note") else f"{costs}.")
    )
    return blocks + sandbox_note(comparison)


def job_pair_blocks(first: JobOut, second: JobOut) -> list[Block]:
    """Side by side when the service holds no comparison for them (not a pair of one launch)."""
    rows = []
    for job in (first, second):
        f1 = job.fine_tuned_f1()
        rows.append(
            f"*{job.name}* ({job.model.upper()}): {job.status}, "
            f"F1 {'unknown' if f1 is None else f'{f1:.1f}'}, {estimated(job.cost_estimate_usd)}"
        )
    note = note_of(first.cost_note, second.cost_note)
    return [
        section("*Comparison*\n" + "\n".join(rows)),
        *([context(f":warning: Costs are estimates from {note}.")] if note else []),
        *sandbox_note(first, second),
    ]
