"""A sweep's parent message in Slack follows its jobs (issue 15): each size's job at its stage, updated in
place with chat.update as a job moves, once per distinct content, and never when nothing it shows
changed. Against the strict Slack stand-in, with the service's own sweep on moto's Bedrock."""

from __future__ import annotations

from typing import Any

from bot.reply_to import encode
from services.api.schemas import JobOut, SweepOut
from services.jobs.poll import poll_once
from tests.bot.conftest import Bot
from tests.bot.factories import message_ts
from tests.jobs.conftest import moto_jobs
from tests.sweeps.files import put_prepared_files


def start_sweep(bot: Bot) -> SweepOut:
    """Sizes 100, 200 and all 300 of 11B: two train at once (the default quota), the third queues."""
    dataset_id = bot.dataset(train=300)
    put_prepared_files(bot.sessions, dataset_id)
    return bot.service.start_sweep(
        "sweep-parent", dataset_id=dataset_id, sizes=[100, 200, "all"], models=["11b"],
        requested_by="U1", reply_to=encode("C1"),
    )  # fmt: skip


def rows(blocks: Any) -> list[str]:
    """The parent's lines, one per training size: ``*100*: :gear: 11B training``."""
    lines: list[str] = blocks[1]["text"]["text"].split("\n")
    return lines


def updates_of(bot: Bot, ts: str) -> list[list[str]]:
    calls = bot.stub.accepted("chat.update")
    return [rows(call.params["blocks"]) for call in calls if call.params["ts"] == ts]


def job_of(sweep: SweepOut, size: int) -> JobOut:
    return next(cell.job for cell in sweep.cells if cell.train_size == size)


def test_the_parent_shows_each_sizes_job_at_its_stage_updated_once_per_change(bot: Bot) -> None:
    sweep = start_sweep(bot)
    delivery = bot.delivery()

    delivery.run_once()  # the sweep's event, then its jobs' created and submitted events
    parent = message_ts(bot.service.get_sweep(sweep.id).reply_to)
    assert parent is not None
    [posted] = [call for call in bot.stub.accepted("chat.postMessage") if not call.params.get("thread_ts")]
    assert rows(posted.params["blocks"]) == [
        "*100*: :gear: 11B training", "*200*: :gear: 11B training", "*300*: :hourglass: 11B queued",
    ]  # fmt: skip
    # The jobs' events arrived after the parent showed them as they are: nothing new to show.
    assert updates_of(bot, parent) == []

    # Size 100's job fails on Bedrock: its slot goes to size 300's job. Two launches moved in one batch,
    # and the parent is updated once, to how the sweep stands.
    moto_jobs()[job_of(sweep, 100).bedrock_job_name].status = "Failed"
    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()
    assert updates_of(bot, parent) == [
        ["*100*: :x: 11B failed", "*200*: :gear: 11B training", "*300*: :gear: 11B training"]
    ]

    # A poll that finds nothing new, and a pass with nothing to deliver: no update.
    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()
    assert len(updates_of(bot, parent)) == 1
    # The jobs' stories stay out of the channel: the parent is the sweep's one message there.
    assert [call.params["ts"] for call in bot.stub.accepted("chat.update")] == [parent]
    assert not [c for c in bot.stub.accepted("chat.postMessage") if c.params.get("thread_ts")]
    assert not bot.stub.unexpected_refusals()
