"""A shared file's "Checking…" message shows the check's progress in place, then that the check finished:
through a signed file_share event to the running bot, against the strict Slack stand-in."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select, update

from bot import blocks
from bot.delivery import Pacer
from bot.edge import slack_edge
from bot.progress import FOLLOW_SECONDS, CheckProgress
from services.datasets import service
from services.platform.config import load_settings
from services.platform.tables import Dataset, utcnow
from tests.bot.conftest import BOT_TOKEN, Bot, wait_for
from tests.bot.test_report_to_results import sums_file
from tests.bot.test_uploads import share
from tests.clock import FrozenClock
from tests.slack_stub import Message

THREAD = "1700000100.000100"  # the share's ts (tests.bot.test_uploads.share)


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {"TUNEBOT_SLACK_PROGRESS_SECONDS": "0.05"}


def updates_of(bot: Bot, ts: str) -> list[str]:
    """The texts the message ``ts`` was given by chat.update calls Slack accepted, in order."""
    return [call.params["text"] for call in bot.stub.accepted("chat.update") if call.params["ts"] == ts]


def checking_message(bot: Bot) -> Message:
    """The bot's first reply in the share's thread: its "Checking…" message, as the channel sees it now."""
    return wait_for(lambda: next((m for m in bot.stub.channel_messages("C1") if m.thread_ts == THREAD), None))


@pytest.fixture
def shown_before_going_on(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check goes on from each progress step it recorded only once the bot has shown that step in
    Slack, so a small file takes every step on any machine, however fast the check or slow the bot."""
    real = service.prepare

    def prepare(source: str, options: Any, *, s3_client: Any = None, progress: Any = None) -> Any:
        assert progress is not None

        def step(stage: str, done: int, total: int | None) -> None:
            progress(stage, done, total)
            with bot.sessions() as session:
                recorded = session.scalar(select(Dataset.records_checked).where(Dataset.name == "sums.jsonl"))
            if stage == "read" and recorded == done:
                ts = checking_message(bot).ts
                wait_for(lambda: any(f"{done:,} of" in text for text in updates_of(bot, ts)), 30)

        return real(source, options, s3_client=s3_client, progress=step)

    monkeypatch.setattr(service, "prepare", prepare)


def test_the_checking_message_counts_the_records_checked_then_says_the_check_finished(
    bot: Bot, shown_before_going_on: None
) -> None:
    content = sums_file(150)
    share(bot, "sums.jsonl", bot.stub.add_file("sums.jsonl", content), len(content))

    checking = checking_message(bot)
    ts = checking.ts
    assert checking.text.startswith(":mag: Checking `sums.jsonl`")
    final = ":mag: Checked `sums.jsonl`: 150 records. The report is in this thread."
    wait_for(lambda: final in updates_of(bot, ts), 30)

    assert updates_of(bot, ts) == [
        ":mag: Checking `sums.jsonl`… 50 of 150 records (33 %)",
        ":mag: Checking `sums.jsonl`… 100 of 150 records (66 %)",
        ":mag: Checking `sums.jsonl`… 150 of 150 records (100 %)",
        final,
    ]
    assert bot.stub.messages[("C1", ts)].text == final  # updated in place: still the one message
    # The report itself is posted into the thread as before, by delivery.
    assert bot.delivery().run_once() >= 1
    report = [c.params for c in bot.stub.accepted("chat.postMessage") if c.params.get("blocks")][-1]
    assert report["thread_ts"] == THREAD and "ready to train" in json.dumps(report["blocks"])


def test_a_rate_limited_update_is_retried_after_slack_s_retry_after(bot: Bot) -> None:
    bot.stub.fail_next("chat.update", 429, retry_after=1)
    content = sums_file(150)
    share(bot, "sums.jsonl", bot.stub.add_file("sums.jsonl", content), len(content))

    ts = checking_message(bot).ts
    final = ":mag: Checked `sums.jsonl`: 150 records. The report is in this thread."
    wait_for(lambda: bot.stub.messages[("C1", ts)].text == final, 30)

    limited = [c for c in bot.stub.calls_to("chat.update") if not c.ok]
    assert len(limited) == 1 and limited[0].status == 429
    texts = updates_of(bot, ts)
    assert texts[-1] == final and len(texts) == len(set(texts))  # each content once, none lost


def followed_by_hand(
    bot: Bot, clock: FrozenClock, updates: Pacer | None = None
) -> tuple[CheckProgress, str, str]:
    """A check 50 of 100 records in, its message, and a follower whose passes the test runs, with a
    WebClient without retries, so Slack's 429 reaches the follower itself."""
    dataset_id = bot.dataset(status="checking")
    # Held by a check elsewhere: else the running service's check worker claims this made-up row, finds
    # no source and fails it, and the follower sees a finished check before the test moves its clock.
    held = {"lease_owner": "another-replica", "lease_expires_at": utcnow() + timedelta(hours=1)}
    with bot.sessions.begin() as session:
        session.execute(
            update(Dataset)
            .where(Dataset.id == dataset_id)
            .values(records_checked=50, records_total=100, **held)
        )
    slack = WebClient(token=BOT_TOKEN, base_url=bot.stub.api_url)
    shown = blocks.checking_text("charts.zip")
    ts = str(slack.chat_postMessage(channel="C1", thread_ts=THREAD, text=shown)["ts"])
    progress = CheckProgress(
        bot.service, slack, pacer=Pacer(0.0), updates=updates or Pacer(0.0), clock=clock, background=False
    )
    progress.follow("C1", ts, dataset_id, "charts.zip", shown)
    return progress, ts, dataset_id


def test_a_429_pauses_every_update_for_its_retry_after(bot: Bot) -> None:
    clock = FrozenClock()
    progress, ts, _ = followed_by_hand(bot, clock)
    bot.stub.fail_next("chat.update", 429, retry_after=7)

    assert progress.run_once() == 0  # refused: ratelimited
    clock.now += 6.9
    assert progress.run_once() == 0 and len(bot.stub.calls_to("chat.update")) == 1  # not even asked
    clock.now += 0.1
    assert progress.run_once() == 1

    assert bot.stub.messages[("C1", ts)].text == ":mag: Checking `charts.zip`… 50 of 100 records (50 %)"
    assert progress.run_once() == 0  # nothing changed: no update
    assert len(bot.stub.calls_to("chat.update")) == 2


def test_a_check_followed_past_its_bound_says_it_is_still_checking_and_is_let_go(bot: Bot) -> None:
    clock = FrozenClock()
    progress, ts, _ = followed_by_hand(bot, clock)
    progress.run_once()
    clock.now += FOLLOW_SECONDS

    assert progress.run_once() == 1
    assert bot.stub.messages[("C1", ts)].text == blocks.still_checking_text("charts.zip")
    assert progress.following() == 0


def test_progress_waits_for_the_chat_update_budget_the_cards_have_spent(bot: Bot) -> None:
    clock = FrozenClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    # chat.update is Tier 3 for the whole workspace: about 50 a minute, whoever calls it.
    workspace = Pacer(60 / 50, clock=clock, sleep=sleep, burst=1)
    workspace.wait("chat.update")  # a launch card's update has just taken the last token
    progress, ts, _ = followed_by_hand(bot, clock, updates=workspace)

    assert progress.run_once() == 1
    assert slept == [pytest.approx(1.2)]  # the progress update waited its turn in the same budget
    assert bot.stub.messages[("C1", ts)].text.endswith("50 of 100 records (50 %)")


def test_one_chat_update_budget_serves_cards_and_progress(bot_env: int) -> None:
    edge = slack_edge(load_settings())

    assert edge is not None and edge.delivery is not None and edge.listeners is not None
    assert edge.delivery.delivery.poster.updates is edge.listeners.uploads.progress.updates
