"""A sandbox sweep through Slack, end to end against the strict stand-in: share a file, `/finetune sweep`
shows the whole sweep's estimate, Start runs sizes 100, 1000 and all for both models, and the curve and
verdict arrive once in the sweep's thread; `/finetune compare <sweep>` shows them again. A pair launched
from the same channel gets its example gallery in its thread, and `/finetune examples` posts it."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from services.api.schemas import DatasetStatus
from tests.bot.conftest import Bot, wait_for
from tests.bot.factories import message_ts
from tests.bot.test_report_to_results import sums_file
from tests.bot.test_uploads import share

LABEL = "sandbox: simulated results"
# A whole sweep (six jobs trained and evaluated, simulated) on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {
        "TUNEBOT_BACKEND": "sandbox",
        "TUNEBOT_POLL_SECONDS": "5",
        "TUNEBOT_SANDBOX_TRAIN_SECONDS": "1",
        "TUNEBOT_MAX_CONCURRENT_JOBS": "8",
    }


def text_of(blocks: Any) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def card_button(response: dict[str, Any]) -> dict[str, Any]:
    button: dict[str, Any] = next(b for b in response["blocks"] if b["type"] == "actions")["elements"][0]
    return button


def uploads_in(bot: Bot, thread: str) -> list[str]:
    """Titles of the files uploaded into ``thread``."""
    return [
        file["title"]
        for call in bot.stub.accepted("files.completeUploadExternal")
        if call.params.get("thread_ts") == thread
        for file in json.loads(call.params["files"])
    ]


def deliver_until(bot: Bot, done: Any, seconds: float = 240) -> None:
    delivery = bot.delivery()
    deadline = time.monotonic() + seconds
    while not done():
        delivery.run_once()
        assert time.monotonic() < deadline
        time.sleep(0.5)
    delivery.run_once()


def test_a_sandbox_sweep_through_slack_ends_with_its_chart_and_verdict_once_in_its_thread(bot: Bot) -> None:
    content = sums_file(1_500)
    share(bot, "sums.jsonl", bot.stub.add_file("sums.jsonl", content), len(content))
    dataset = wait_for(lambda: bot.service.list_datasets(created_by="U1"), 10)[0]
    wait_for(lambda: bot.service.get_dataset(dataset.id).status != DatasetStatus.CHECKING, 60)
    train = (bot.service.get_dataset(dataset.id).report or {})["counts"]["train"]

    bot.command("sweep last sizes=100,1000,all models=11b,90b")
    card = bot.last_response()
    shown = text_of(card["blocks"])
    assert f"sizes 100, 1,000, {train:,}" in shown and "Total*: estimated $" in shown and LABEL in shown
    assert "*100* × *11B*: 8 epochs" in shown and "*1,000* × *90B*: 5 epochs" in shown
    start = card_button(card)
    bot.click(start["action_id"], start["value"])
    started = bot.last_response(2)
    assert started["text"].startswith(":chart_with_upwards_trend: Sweep") and LABEL in started["text"]
    sweep_id = started["text"].split("`")[1]

    # A pair from the same dataset, launched with the command, for the gallery.
    bot.command(f"launch {dataset.id} model=both")
    launch = card_button(bot.last_response(3))
    bot.click(launch["action_id"], launch["value"])
    assert bot.last_response(4)["text"].startswith(":rocket: Launched")
    pair_group = next(
        job.group_id for job in bot.service.list_jobs(limit=20).jobs if job.name.startswith("sums-")
    )

    deliver_until(
        bot,
        lambda: (
            bot.service.get_sweep(sweep_id).status != "running"
            and bot.service.get_group(pair_group).comparison is not None
        ),
    )
    sweep = bot.service.get_sweep(sweep_id)
    assert sweep.status == "evaluated", sweep.lines
    parent = message_ts(sweep.reply_to)
    thread = [m for m in bot.stub.channel_messages("C1") if m.thread_ts == parent]
    verdicts = [m for m in thread if "More data, the bigger model, or stop?" in text_of(m.blocks)]
    assert len(verdicts) == 1
    said = text_of(verdicts[0].blocks)
    assert "F1 per doubling of data" in said and "95 % CI" in said and "Next:" in said and LABEL in said
    assert sweep.verdict is not None
    assert said.count(sweep.verdict["headline"]) == 1  # said once, not in the bullets and again in bold
    assert uploads_in(bot, parent) == [f"{sweep.dataset_name}: learning curve"]
    # The parent message says the sweep ended (updated in place, not posted again).
    top = next(m for m in bot.stub.channel_messages("C1") if m.ts == parent)
    assert "*evaluated*" in text_of(top.blocks) and LABEL in text_of(top.blocks)
    # Delivering again posts nothing new.
    bot.delivery().run_once()
    assert uploads_in(bot, parent) == [f"{sweep.dataset_name}: learning curve"]

    # The pair's thread has its gallery: one image with helped, hurt and disagree.
    pair_parent = message_ts(bot.service.get_group(pair_group).reply_to)
    assert any(title.endswith(": examples") for title in uploads_in(bot, pair_parent))

    bot.command(f"compare {sweep_id}")
    again = bot.last_response(5)
    assert "More data, the bigger model, or stop?" in text_of(again["blocks"])
    bot.command(f"examples {pair_group}")
    assert "examples of" in bot.last_response(6)["text"]
    titles = [file["title"] for call in bot.stub.accepted("files.completeUploadExternal")
              for file in json.loads(call.params["files"])]  # fmt: skip
    assert titles.count(f"{sweep.dataset_name}: learning curve") == 2  # the thread's, and compare's
    assert not bot.stub.unexpected_refusals()
