"""A Slack retry or a replayed signed request starts nothing twice: the exact signed bytes are sent to the
bot's real endpoint again, and Slack's retry headers are sent as Slack sends them.

Slack retries an event up to 3 times with X-Slack-Retry-Num (https://api.slack.com/apis/events-api#retries)
and a signature stays valid for 5 minutes (https://api.slack.com/authentication/verifying-requests-from-slack),
so both reach the bot; Bolt de-duplicates neither.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest

from bot import blocks
from tests.bot.conftest import Bot, signed_headers, wait_for


def signed_once(body: str, content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, **signed_headers(body)}


def send(bot: Bot, body: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(bot.base + "/slack/events", content=body, headers=headers, timeout=10)


def skipped(caplog: pytest.LogCaptureFixture) -> int:
    """Deliveries the bot answered without running them (logged before the HTTP answer leaves)."""
    return sum(record.getMessage().startswith("slack delivery seen before") for record in caplog.records)


def test_a_replayed_slash_command_runs_once(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.replays")
    body = urlencode(
        {
            "command": "/finetune",
            "text": "help",
            "user_id": "U1",
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": bot.stub.issue_trigger(),
            "response_url": bot.stub.response_url("C1", "U1"),
        }
    )
    headers = signed_once(body, "application/x-www-form-urlencoded")

    answers = [send(bot, body, headers) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    # help is answered in the HTTP answer itself: the first carries it, the replays carry nothing.
    assert "tunebot help" in answers[0].text
    assert [answer.content for answer in answers[1:]] == [b"", b""]
    assert skipped(caplog) == 2


def test_a_replayed_launch_click_launches_once(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.replays")
    dataset_id = bot.dataset()
    payload = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "message_ts": "9.1", "channel_id": "C1", "is_ephemeral": True},
        "trigger_id": bot.stub.issue_trigger(),
        "response_url": bot.stub.response_url("C1", "U1", "9.1"),
        "actions": [
            {
                "action_id": blocks.report_launch_id("11b"),
                "block_id": "b",
                "value": f"{dataset_id}:11b",
                "type": "button",
                "action_ts": "9.2",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed_once(body, "application/x-www-form-urlencoded")

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(lambda _: send(bot, body, headers), range(3)))

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert skipped(caplog) == 2  # run once: not even a second "Already launched" reply
    assert bot.last_response(1)["text"].startswith(":rocket: Launched")
    assert len(bot.stub.calls_to("respond")) == 1
    assert len(bot.service.list_jobs().jobs) == 1


def test_a_retried_event_is_answered_once(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.replays")
    mention = {"type": "app_mention", "channel": "C1", "user": "U1", "ts": "6.6", "text": "<@UBOT> hi"}
    event = {"type": "event_callback", "team_id": "T1", "event_id": "Ev42", "event": mention}
    body = json.dumps({**event, "event_time": int(time.time())})

    first = send(bot, body, signed_once(body, "application/json"))
    # Slack's retry: the same event, signed anew, with its retry headers.
    retry_headers = {**signed_once(body, "application/json"), "X-Slack-Retry-Num": "1"}
    retried = send(bot, body, {**retry_headers, "X-Slack-Retry-Reason": "http_timeout"})

    assert (first.status_code, retried.status_code) == (200, 200)
    assert skipped(caplog) == 1
    wait_for(lambda: bot.stub.calls_to("chat.postMessage"))
    assert len(bot.stub.calls_to("chat.postMessage")) == 1


def test_a_forged_replay_is_still_refused(bot: Bot) -> None:
    body = urlencode({"command": "/finetune", "text": "help", "user_id": "U1", "trigger_id": "t1"})
    headers = signed_once(body, "application/x-www-form-urlencoded")
    assert send(bot, body, headers).status_code == 200

    forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    assert send(bot, body, forged).status_code == 401
