"""Nobody's click rewrites a shared message: a Launch on the channel's report leaves the report as it was
but for its buttons' row, which says who launched what with a link to the launch's thread; the launch's
card starts in the report's thread; a launch by command tells the launcher where its thread is.
Through signed requests to the bot's endpoint, against the strict Slack stand-in."""

from __future__ import annotations

import json
import re

from bot import blocks
from tests.bot.conftest import Bot, wait_for
from tests.bot.factories import message_ts
from tests.bot.test_report_to_results import follow_to_the_end, launch_buttons, shared_report, sums_file
from tests.bot.test_uploads import share
from tests.slack_stub import Message

PERMALINK = re.compile(r"<(https://acme\.slack\.com/archives/C1/p(\d+)(\?thread_ts=([\d.]+)&cid=C1)?)\|")


def linked_ts(text: str) -> str:
    """The ts of the message a Slack permalink in ``text`` points to (p<ts without its dot>)."""
    found = PERMALINK.search(text)
    assert found is not None, text
    digits = found.group(2)
    return f"{digits[:-6]}.{digits[-6:]}"


def click(bot: Bot, report: Message, choice: str, user: str, shown: Message | None = None) -> None:
    """Press a button of the report (as ``shown`` earlier, when given) and wait for the clicker's answer."""
    answered = len(bot.stub.calls_to("respond"))
    pressed = launch_buttons(shown or report)[choice]
    bot.click(
        pressed["action_id"], pressed["value"], user=user, message_ts=report.ts, block_id=pressed["block_id"]
    )
    bot.responses(answered + 1)


def test_a_launch_from_the_report_keeps_the_report_and_changes_only_its_buttons_row(bot: Bot) -> None:
    report = shared_report(bot)
    before = [dict(block) for block in report.blocks]

    click(bot, report, "11b", user="U2")

    reply = bot.last_response()
    assert reply.get("replace_original") is not True and reply["response_type"] == "ephemeral"
    assert reply["text"].startswith(":rocket: Launched") and "its thread>" in reply["text"]
    assert bot.stub.rewrites == []  # nothing was replaced or deleted for everyone
    shown = wait_for(
        lambda: bot.stub.messages[("C1", report.ts)].versions and bot.stub.messages[("C1", report.ts)]
    )
    row = [i for i, block in enumerate(before) if block["type"] == "actions"]
    assert len(row) == 1
    assert [b for i, b in enumerate(shown.blocks) if i != row[0]] == [
        b for i, b in enumerate(before) if i != row[0]
    ]
    line = shown.blocks[row[0]]
    assert line["type"] == "context"
    assert line["elements"][0]["text"].startswith(":rocket: <@U2> launched 11B — <https://acme.slack.com/")
    assert not any(block["type"] == "actions" for block in shown.blocks)


def test_a_launch_from_the_report_starts_its_card_in_the_reports_thread(bot: Bot) -> None:
    report = shared_report(bot)
    assert report.thread_ts is not None  # the report is a reply in the thread of the shared file

    click(bot, report, "both", user="U2")

    group = bot.service.get_group(bot.service.list_jobs(limit=10).jobs[0].group_id)
    card = bot.stub.messages[("C1", message_ts(group.reply_to))]
    assert card.thread_ts == report.thread_ts
    # The row's link and the clicker's link both open that card in its thread.
    row_text = json.dumps(bot.stub.messages[("C1", report.ts)].blocks)
    assert linked_ts(row_text) == card.ts and f"thread_ts={report.thread_ts}" in row_text
    assert linked_ts(bot.last_response()["text"]) == card.ts

    thread = follow_to_the_end(bot, group.id)
    assert sum("training completed" in text for text in thread) == 2, thread
    # The card was updated in place, in the thread.
    assert "Fine-tuning 11B + 90B" in json.dumps(bot.stub.messages[("C1", card.ts)].blocks)
    # (the shared file's own message is the user's, so the bot posted nothing at the channel's top level)
    assert [m.text for m in bot.stub.channel_messages("C1") if m.thread_ts is None] == []


def test_a_second_click_on_the_same_report_button_launches_once_and_leaves_one_card(bot: Bot) -> None:
    report = shared_report(bot)
    as_first_shown = Message(report.channel, report.ts, report.text, list(report.blocks), report.thread_ts)

    click(bot, report, "both", user="U1")
    click(bot, report, "both", user="U1", shown=as_first_shown)  # a double click, or a stale view
    replies = bot.responses(2)

    jobs = bot.service.list_jobs(limit=50).jobs
    assert sorted(job.model for job in jobs) == ["11b", "90b"]
    assert replies[0]["text"].startswith(":rocket: Launched")
    assert replies[1]["text"].startswith("Already launched")
    group = bot.service.get_group(jobs[0].group_id)
    cards = [
        m
        for m in bot.stub.channel_messages("C1")
        if m.thread_ts == report.thread_ts and "launching" in m.text
    ]
    assert [m.ts for m in cards] == [message_ts(group.reply_to)]
    assert linked_ts(replies[1]["text"]) == message_ts(group.reply_to)


def test_a_launch_by_command_tells_the_launcher_where_its_thread_is(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)

    bot.command(f"launch {dataset_id} model=11b")
    confirm = next(b for b in bot.last_response()["blocks"] if b["type"] == "actions")["elements"][0]
    bot.click(confirm["action_id"], confirm["value"])

    reply = bot.last_response(2)
    group = bot.service.get_group(bot.service.list_jobs(limit=10).jobs[0].group_id)
    assert reply["text"].startswith(":rocket: Launched") and linked_ts(reply["text"]) == message_ts(
        group.reply_to
    )
    card = bot.stub.messages[("C1", message_ts(group.reply_to))]
    assert card.thread_ts is None and card.user is None  # a channel message everyone sees
    thread = follow_to_the_end(bot, group.id)
    assert any("training completed" in text for text in thread)
    # The card says the stage the job is at and how long it has run.
    shown = json.dumps(bot.stub.messages[("C1", card.ts)].blocks)
    assert "(11B): evaluating (scoring the base and fine-tuned models with SQuAD F1), " in shown
    assert " so far" in shown
    # Delivery updated that card rather than posting another.
    assert [m.ts for m in bot.stub.channel_messages("C1") if m.thread_ts is None] == [card.ts]


def test_the_report_offers_90b_only_for_data_that_fits_90b(bot: Bot) -> None:
    long_record = json.dumps(
        {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {"role": "user", "content": [{"text": "Summarise: " + "lorem ipsum " * 6_000}]},
                {"role": "assistant", "content": [{"text": "lorem"}]},
            ],
        }
    )
    content = sums_file() + (long_record + "\n").encode()
    share(bot, "long.jsonl", bot.stub.add_file("long.jsonl", content), len(content))
    dataset = wait_for(lambda: bot.service.list_datasets(created_by="U1"), 10)[0]
    wait_for(lambda: bot.service.get_dataset(dataset.id).status != "checking", 30)
    assert (bot.service.get_dataset(dataset.id).report or {})["model_fit"]["fits"] == ["11b"]

    bot.delivery().run_once()

    report = next(m for m in bot.stub.channel_messages("C1") if any(b["type"] == "actions" for b in m.blocks))
    assert sorted(launch_buttons(report)) == ["11b"]
    text = json.dumps(report.blocks)
    assert "No 90B launch: the data fits 11B only: 1 record over 90B's limit" in text
    assert blocks.report_launch_id("both") not in text and blocks.report_launch_id("90b") not in text
