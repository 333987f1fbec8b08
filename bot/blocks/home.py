"""App Home: buttons to launch, list datasets and history; the viewer's jobs; the team's jobs by stage.
And the modal that lists datasets or history from Home. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.jobs import job_line
from bot.blocks.kit import (
    HOME_DATASETS,
    HOME_HISTORY,
    HOME_LAUNCH,
    SECTION_LIMIT,
    Block,
    actions,
    button,
    context,
    sandbox_note,
    section,
)
from services.api.schemas import JobOut, JobStatus

STAGE_TITLES = {
    JobStatus.QUEUED: "Queued",
    JobStatus.TRAINING: "Training",
    JobStatus.EVALUATING: "Evaluating",
}


def _lines(jobs: Sequence[JobOut], empty: str) -> Block:
    text = ""
    for job in jobs:
        line = job_line(job) + "\n"
        if len(text) + len(line) > SECTION_LIMIT:
            break
        text += line
    return section(text.strip() or empty)


def home_view(
    mine: Sequence[JobOut], stages: Mapping[JobStatus, Sequence[JobOut]], listed_per_stage: int | None = None
) -> dict[str, Any]:
    """The viewer's recent jobs (``mine``, newest first) and the team's jobs per stage in ``stages``, of
    which the service listed at most ``listed_per_stage`` each: a full stage may hold more."""
    everyone = [job for jobs in stages.values() for job in jobs]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "tunebot"}},
        actions(
            button("Launch", HOME_LAUNCH, "launch", style="primary"),
            button("Datasets", HOME_DATASETS, "datasets"),
            button("History", HOME_HISTORY, "history"),
        ),
        section("*Your recent jobs*"),
        _lines(mine, "None yet: share a dataset file in a channel with me, or press Launch."),
        {"type": "divider"},
        section("*In progress for the team*"),
    ]
    for stage, title in STAGE_TITLES.items():
        jobs = stages.get(stage) or []
        full = listed_per_stage is not None and len(jobs) >= listed_per_stage
        counted = f"the newest {len(jobs)}; all in History" if full else str(len(jobs))
        blocks.append(section(f"*{title}* ({counted})"))
        blocks.append(_lines(jobs, "None."))
    blocks.append(context("Updated whenever one of your jobs moves."))
    blocks += sandbox_note(*mine, *everyone)
    return {"type": "home", "blocks": blocks[:100]}


def listing_view(title: str, shown: Sequence[Block]) -> dict[str, Any]:
    """A modal holding a list opened from Home (empty while it loads)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": list(shown)[:100] or [section(":hourglass_flowing_sand: Loading…")],
    }
