"""Nobody who shares a file with, writes to or mentions the bot meets silence: through signed events to
the running bot, against the strict Slack stand-in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.bot.conftest import Bot, wait_for
from tests.bot.test_uploads import HeaderRecorder

THREAD = "1700000100.000100"


def share(bot: Bot, file: dict[str, Any], event_id: str, channel: str = "C1") -> None:
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel": channel,
        "channel_type": "im" if channel.startswith("D") else "channel",
        "user": "U1",
        "ts": THREAD,
        "files": [file],
    }
    assert bot.event(event, event_id).status_code == 200


def posts(bot: Bot, count: int) -> list[dict[str, Any]]:
    calls = wait_for(
        lambda: len(bot.stub.calls_to("chat.postMessage")) >= count and bot.stub.calls_to("chat.postMessage")
    )
    return [call.params for call in calls]


@pytest.mark.parametrize("name", ["minutes.docx", "page.html", "chart.png"])
def test_a_file_that_is_not_a_dataset_is_answered_with_what_the_bot_reads(bot: Bot, name: str) -> None:
    url = bot.stub.add_file(name, b"<html></html>")
    share(bot, {"id": "F1", "name": name, "size": 13, "url_private_download": url}, "Ev1")

    [answer] = posts(bot, 1)
    assert answer["thread_ts"] == THREAD
    assert f"`{name}` is not a dataset file I read" in answer["text"]
    assert "zip, jsonl, json, csv" in answer["text"] and "/finetune help" in answer["text"]
    assert bot.stub.calls_to("GET files") == []  # nothing fetched for a file it does not read


def test_a_file_without_a_download_link_is_explained_not_left_checking(bot: Bot) -> None:
    share(bot, {"id": "F1", "name": "charts.zip", "size": 10, "mode": "external"}, "Ev1")

    [answer] = posts(bot, 1)
    assert "Slack sent me no download link for `charts.zip`" in answer["text"]
    assert "Upload the file itself" in answer["text"]
    assert "Checking" not in answer["text"]


def test_a_link_away_from_slack_is_refused_and_the_token_never_sent(bot: Bot) -> None:
    elsewhere = HeaderRecorder()
    try:
        share(bot, {"id": "F1", "name": "charts.zip", "size": 4, "url_private_download": elsewhere.url}, "E1")
        checking, refused = posts(bot, 2)
    finally:
        elsewhere.close()

    assert "Checking `charts.zip`" in checking["text"]
    assert "I could not fetch `charts.zip`" in refused["text"]
    assert "does not point to Slack's file servers over https" in refused["text"]
    assert elsewhere.requests == []


def test_a_dm_is_answered_with_what_the_bot_does(bot: Bot) -> None:
    event = {"type": "message", "channel_type": "im", "channel": "D0DM", "user": "U1", "ts": "5.5"}
    assert bot.event(event, "Ev1").status_code == 200

    [answer] = posts(bot, 1)
    assert answer["channel"] == "D0DM" and "thread_ts" not in answer
    assert "I am tunebot" in answer["text"] and "/finetune help" in answer["text"]


def test_a_mention_is_answered_in_its_thread(bot: Bot) -> None:
    mention = {"type": "app_mention", "channel": "C1", "user": "U1", "ts": "6.6", "text": "<@UBOT> hello?"}
    assert bot.event(mention, "Ev1").status_code == 200

    [answer] = posts(bot, 1)
    assert (answer["channel"], answer["thread_ts"]) == ("C1", "6.6")
    assert "I am tunebot" in answer["text"]


def test_channel_chatter_edits_and_other_bots_are_not_answered(bot: Bot) -> None:
    quiet = [
        {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U1", "ts": "1.1"},
        {"type": "message", "channel_type": "im", "channel": "D1", "subtype": "message_changed", "ts": "1.2"},
        {"type": "message", "channel_type": "im", "channel": "D1", "bot_id": "B9", "ts": "1.3", "text": "x"},
    ]
    for number, event in enumerate(quiet):
        assert bot.event(event, f"Ev{number}").status_code == 200
    # Then one that is answered: everything before it was handled (one worker pool, in order) and silent.
    bot.event({"type": "app_mention", "channel": "C1", "user": "U1", "ts": "7.7", "text": "<@UBOT>"}, "Ev9")
    [answer] = posts(bot, 1)
    assert answer["thread_ts"] == "7.7"
