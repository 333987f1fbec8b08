"""The path a teammate walks, end to end against the strict Slack stand-in: share a file, get the report,
press a Launch button (or use the command, or the form), and follow the launch to its result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.reply_to import decode
from services.api.schemas import DatasetStatus
from services.jobs.poll import poll_once
from tests.bot.conftest import Bot, wait_for
from tests.bot.flows.test_launch import submit_form
from tests.bot.test_uploads import share
from tests.jobs.conftest import moto_jobs
from tests.slack_stub import Message


def sums_file(records: int = 150) -> bytes:
    lines = [
        json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "Answer with the number only."}],
                "messages": [
                    {"role": "user", "content": [{"text": f"What is {i} + 1?"}]},
                    {"role": "assistant", "content": [{"text": str(i + 1)}]},
                ],
            }
        )
        for i in range(records)
    ]
    return ("\n".join(lines) + "\n").encode()


def shared_report(bot: Bot) -> Message:
    """Share a good file and return the report message as everyone in the channel sees it."""
    content = sums_file()
    share(bot, "sums.jsonl", bot.stub.add_file("sums.jsonl", content), len(content))
    dataset = wait_for(lambda: bot.service.list_datasets(created_by="U1"), 10)[0]
    wait_for(lambda: bot.service.get_dataset(dataset.id).status != DatasetStatus.CHECKING, 30)
    bot.delivery().run_once()
    return next(m for m in bot.stub.channel_messages("C1") if any(b["type"] == "actions" for b in m.blocks))


def launch_buttons(message: Message) -> dict[str, dict[str, Any]]:
    row = next(b for b in message.blocks if b["type"] == "actions")
    return {
        str(e["value"]).rsplit(":", 1)[-1]: {**e, "block_id": row.get("block_id", "b")}
        for e in row["elements"]
    }


def follow_to_the_end(bot: Bot, group_id: str) -> list[str]:
    """Deliver the launch's events, let Bedrock finish its jobs, deliver again: the thread's texts."""
    delivery = bot.delivery()
    delivery.run_once()
    for job in bot.service.get_group(group_id).jobs:
        moto_jobs()[job.bedrock_job_name].status = "Completed"
    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()
    group = bot.service.get_group(group_id)
    # A launch from a report has its card and story in the report's thread; any other in the card's.
    where = decode(group.reply_to)
    assert where is not None
    thread = where.thread_ts or where.message_ts
    return [m.text for m in bot.stub.channel_messages("C1") if m.thread_ts == thread]


@pytest.mark.parametrize(("choice", "models"), [("11b", ["11b"]), ("90b", ["90b"]), ("both", ["11b", "90b"])])
def test_each_launch_button_on_the_report_launches_and_the_launch_reaches_its_result(
    bot: Bot, choice: str, models: list[str]
) -> None:
    report = shared_report(bot)
    buttons = launch_buttons(report)
    assert sorted(buttons) == ["11b", "90b", "both"]

    pressed = buttons[choice]
    bot.click(pressed["action_id"], pressed["value"], message_ts=report.ts, block_id=pressed["block_id"])

    assert bot.last_response()["text"].startswith(":rocket: Launched")
    jobs = bot.service.list_jobs(limit=10).jobs
    assert sorted(job.model for job in jobs) == models
    thread = follow_to_the_end(bot, jobs[0].group_id)
    assert sum("training completed" in text for text in thread) == len(models), thread


def test_the_command_launches_through_its_confirmation_card(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)

    bot.command(f"launch {dataset_id} model=11b")
    card = bot.last_response()
    confirm = next(b for b in card["blocks"] if b["type"] == "actions")["elements"][0]
    bot.click(confirm["action_id"], confirm["value"])

    assert bot.last_response(2)["text"].startswith(":rocket: Launched")
    group_id = bot.service.list_jobs(limit=10).jobs[0].group_id
    assert any("training completed" in text for text in follow_to_the_end(bot, group_id))


def test_the_form_launches_through_its_confirmation_card(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)

    submit_form(bot, dataset=dataset_id, model="90b", eval="off")
    card = wait_for(lambda: bot.stub.accepted("chat.postEphemeral"))[0].params
    confirm = next(b for b in card["blocks"] if b["type"] == "actions")["elements"][0]
    bot.click(confirm["action_id"], confirm["value"])

    assert bot.last_response()["text"].startswith(":rocket: Launched")
    jobs = bot.service.list_jobs(limit=10).jobs
    assert [job.model for job in jobs] == ["90b"]
    assert any("training completed" in text for text in follow_to_the_end(bot, jobs[0].group_id))
