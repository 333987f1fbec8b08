"""Jobs: one line, the status card, a history page, the cancel confirmation. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from bot.blocks.kit import (
    CANCEL_CONFIRM,
    CANCEL_KEEP,
    HISTORY_MORE,
    SECTION_LIMIT,
    STATUS_ICONS,
    Block,
    actions,
    button,
    context,
    cut,
    estimated,
    note_of,
    sandbox_note,
    section,
)
from services.api.schemas import JobOut, JobStatus


def job_line(job: JobOut) -> str:
    f1 = job.fine_tuned_f1()
    return (
        f"{STATUS_ICONS.get(job.status, '')} *{job.name}* · {job.model.upper()} · "
        f"dataset `{job.dataset_id}` · {job.status}"
        + (f" · F1 {f1:.1f}" if f1 is not None else "")
        + f" · <@{job.requested_by}> · {job.created_at:%Y-%m-%d %H:%M}"
    )


def job_card(job: JobOut) -> list[Block]:
    fields = [
        f"*Status:* {STATUS_ICONS.get(job.status, '')} {job.status}",
        f"*Model:* Llama 3.2 {job.model.upper()}",
        f"*Dataset:* `{job.dataset_id}`",
        f"*Epochs:* {job.epochs} (recommended {job.recommended_epochs})",
        f"*Learning rate:* {job.learning_rate:g} (recommended {job.recommended_learning_rate:g})",
        f"*Cost:* {estimated(job.cost_estimate_usd, note_of(job.cost_note))}",
        f"*Requested by:* <@{job.requested_by}>",
    ]
    blocks = [
        section(f"*{job.name}*  `{job.id}`"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": cut(text, 2_000)} for text in fields]},
    ]
    if job.failure_message:
        blocks.append(section(f"*Bedrock said:* {job.failure_message}"))
        if job.failure_hint:
            blocks.append(section(f"*Likely fix:* {job.failure_hint}"))
    metrics = job.metrics or {}
    losses = [
        f"{label} {metrics[key]:.4f}"
        for key, label in (
            ("final_training_loss", "training loss"),
            ("final_validation_loss", "validation loss"),
        )
        if isinstance(metrics.get(key), int | float)
    ]
    if losses:
        blocks.append(context(" · ".join(losses)))
    return blocks + sandbox_note(job)


def history_blocks(jobs: Sequence[JobOut], more: str | None, title: str) -> list[Block]:
    """One line per job; ``more`` is the button value for the next page, None on the last page."""
    if not jobs:
        return [section(f"*{title}*: no jobs yet. Start one with `/finetune launch <dataset>`.")]
    blocks = [section(f"*{title}*")]
    text = ""
    for job in jobs:
        line = job_line(job) + "\n"
        if len(text) + len(line) > SECTION_LIMIT:
            blocks.append(section(text))
            text = ""
        text += line
    blocks.append(section(text))
    blocks += sandbox_note(*jobs)
    if more is not None:
        blocks.append(actions(button("More", HISTORY_MORE, more)))
    return blocks


def cancel_confirm_blocks(job: JobOut) -> list[Block]:
    if job.status in (JobStatus.PENDING, JobStatus.QUEUED):
        cost = "It has not started, so nothing is billed."
    else:
        cost = (
            "It is on Bedrock: stopping cannot be undone and the tokens trained so far are billed "
            f"(the whole job was {estimated(job.cost_estimate_usd, note_of(job.cost_note))})."
        )
    return [
        section(f"Cancel *{job.name}* ({job.model.upper()}, {job.status})? {cost}"),
        *sandbox_note(job),
        actions(
            button("Cancel the job", CANCEL_CONFIRM, job.id, style="danger"),
            button("Keep it", CANCEL_KEEP, job.id),
        ),
    ]
