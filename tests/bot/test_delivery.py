"""Events from the service into Slack: a parent message per launch updated in place, the story in its
thread, acknowledged only after Slack accepted, and nothing lost across a restart or a 429."""

from __future__ import annotations

import threading
import time

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.delivery import Delivery, DeliveryLoop, Pacer, SlackDown
from bot.reply_to import encode
from services.api.schemas import LaunchOut
from services.client import ServiceError
from services.jobs.poll import poll_once
from services.platform.tables import Event
from tests.bot.conftest import Bot, wait_for
from tests.bot.factories import message_ts
from tests.conftest import free_port
from tests.jobs.conftest import moto_jobs


def thread_replies(bot: Bot) -> list[dict[str, object]]:
    """The thread posts Slack accepted (not the attempts it answered 429)."""
    return [call.params for call in bot.stub.accepted("chat.postMessage") if call.params.get("thread_ts")]


def parents(bot: Bot) -> list[dict[str, object]]:
    return [call.params for call in bot.stub.accepted("chat.postMessage") if not call.params.get("thread_ts")]


def launch(bot: Bot, models: list[str], key: str = "k1", evaluate: bool = True) -> LaunchOut:
    return bot.service.launch_jobs(
        key,
        dataset_id=bot.dataset(),
        models=models,
        requested_by="U1",
        reply_to=encode("C1"),
        name="charts",
        evaluate=evaluate,
    )


def event_ids(bot: Bot) -> list[object]:
    """The event id each accepted thread post carries in its Slack message metadata, in posting order."""
    return [
        call.params["metadata"]["event_payload"]["event_id"]
        for call in bot.stub.accepted("chat.postMessage")
        if call.params.get("thread_ts")
    ]


def test_a_launch_gets_one_card_and_its_events_in_the_thread_in_order(bot: Bot) -> None:
    launched = launch(bot, ["11b", "90b"])
    delivery = bot.delivery()

    delivered = delivery.run_once()

    assert delivered == 4  # created and submitted, for each job
    assert len(parents(bot)) == 1
    parent_ts = message_ts(bot.service.get_group(launched.group_id).reply_to)
    assert parent_ts is not None
    assert {reply["thread_ts"] for reply in thread_replies(bot)} == {parent_ts}
    assert any("training started on Bedrock" in str(reply["text"]) for reply in thread_replies(bot))
    ids = event_ids(bot)
    assert len(ids) == 4 and ids == sorted(ids)  # one post per event, in event order
    # The card was posted showing the launch as it is now: nothing new for chat.update to show.
    assert "training" in str(parents(bot)[0]["blocks"])
    assert bot.stub.calls_to("chat.update") == []
    assert delivery.run_once() == 0


def test_the_card_is_updated_once_per_distinct_content(bot: Bot) -> None:
    launched = launch(bot, ["11b"], evaluate=False)
    one_at_a_time = bot.delivery()
    one_at_a_time.batch = 1
    assert one_at_a_time.run_once() == 1  # job.created: the card, showing training already
    assert one_at_a_time.run_once() == 1  # job.submitted: the card would not change
    assert bot.stub.calls_to("chat.update") == []

    job = launched.jobs[0]
    moto_jobs()[job.bedrock_job_name].status = "Completed"
    poll_once(bot.runtime.wiring.job_deps)
    assert one_at_a_time.run_once() == 1

    [update] = bot.stub.calls_to("chat.update")
    assert ":white_check_mark: *charts* (11B): done" in str(update.params["blocks"])
    assert one_at_a_time.run_once() == 0


def test_completion_mentions_the_requester_and_updates_the_card(bot: Bot) -> None:
    launched = launch(bot, ["11b"], evaluate=False)
    delivery = bot.delivery()
    delivery.run_once()
    job = launched.jobs[0]
    moto_jobs()[job.bedrock_job_name].status = "Completed"

    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()

    last = thread_replies(bot)[-1]
    assert str(last["text"]).startswith("<@U1>") and "training completed" in str(last["text"])
    assert ":white_check_mark: *charts* (11B): done" in str(
        bot.stub.calls_to("chat.update")[-1].params["blocks"]
    )


def mentions(bot: Bot) -> list[str]:
    return [str(reply["text"]) for reply in thread_replies(bot) if "<@U1>" in str(reply["text"])]


def test_the_requester_is_mentioned_once_when_the_launch_ends_not_at_each_step(bot: Bot) -> None:
    launched = launch(bot, ["11b", "90b"], evaluate=False)
    delivery = bot.delivery()
    delivery.run_once()
    first, second = launched.jobs

    moto_jobs()[first.bedrock_job_name].status = "Completed"
    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()
    assert mentions(bot) == []  # the other size still trains: the launch goes on

    moto_jobs()[second.bedrock_job_name].status = "Failed"
    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()
    [mention] = mentions(bot)
    assert "failed" in mention


def test_two_sizes_ending_in_one_poll_mention_the_requester_once(bot: Bot) -> None:
    launched = launch(bot, ["11b", "90b"], evaluate=False)
    delivery = bot.delivery()
    delivery.run_once()
    for job in launched.jobs:
        moto_jobs()[job.bedrock_job_name].status = "Completed"

    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()

    completed = [text for text in map(str, (r["text"] for r in thread_replies(bot))) if "completed" in text]
    assert len(completed) == 2 and len(mentions(bot)) == 1


def test_a_bot_that_dies_between_post_and_ack_neither_loses_nor_repeats_a_post(bot: Bot) -> None:
    launch(bot, ["11b"])
    crashed = bot.delivery("slack:crashed", lease_seconds=1.0)
    claimed = bot.service.claim_events("slack:crashed", 20, 1.0)
    crashed.deliver(claimed[0])  # posted, then the process died before acknowledging anything
    restarted = bot.delivery("slack:restarted", lease_seconds=1.0)

    assert restarted.run_once() == 0  # the dead consumer's lease still holds
    time.sleep(1.1)
    assert restarted.run_once() == len(claimed) == 2

    # Each event is in the thread exactly once: the first was found by its metadata, not posted again.
    assert sorted(event_ids(bot)) == [event.id for event in claimed]
    assert len(parents(bot)) == 1
    assert bot.stub.calls_to("conversations.replies")
    texts = [str(reply["text"]) for reply in thread_replies(bot)]
    for event in claimed:
        assert sum(str(event.payload["message"]) in text for text in texts) == 1
    assert restarted.run_once() == 0


def test_a_card_posted_just_before_a_crash_is_found_not_posted_again(
    bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched = launch(bot, ["11b"])

    def died(job_id: str, reply_to: str | None) -> dict[str, object]:
        raise ServiceError(503, "service_unreachable", "the process died here")

    crashed = bot.delivery("slack:crashed", lease_seconds=1.0)
    with monkeypatch.context() as patch:
        patch.setattr(bot.service, "set_job_message", died)
        with pytest.raises(ServiceError):
            crashed.run_once()  # the card is in Slack; its ts never reached the service
    time.sleep(1.1)

    assert bot.delivery("slack:restarted").run_once() == 2

    assert len(parents(bot)) == 1
    group = bot.service.get_group(launched.group_id)
    [card] = [m for m in bot.stub.channel_messages("C1") if m.thread_ts is None]
    assert message_ts(group.reply_to) == card.ts
    assert {reply["thread_ts"] for reply in thread_replies(bot)} == {card.ts}


def test_a_post_slack_refuses_for_now_holds_back_the_rest_of_its_thread(bot: Bot) -> None:
    launch(bot, ["11b", "90b"])
    first = bot.delivery()
    first.batch = 1
    assert first.run_once() == 1  # the card and the first event
    # Slack fails the next post (HTTP 500, after the client's own retries): that event and the ones
    # after it wait for the next pass rather than overtaking it.
    bot.stub.fail_next("chat.postMessage", status=500, retry_after=None, times=3)

    delivery = bot.delivery()
    with pytest.raises(SlackDown):
        delivery.run_once()
    assert delivery.run_once() == 3

    ids = event_ids(bot)
    assert len(ids) == 4 and ids == sorted(ids)


def test_a_429_is_retried_after_retry_after_and_then_acknowledged(bot: Bot) -> None:
    launch(bot, ["11b"])
    bot.stub.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()

    delivered = bot.delivery().run_once()

    assert delivered == 2
    assert time.monotonic() - started >= 1.0
    attempts = [c for c in bot.stub.calls_to("chat.postMessage") if not c.params.get("thread_ts")]
    assert [c.status for c in attempts] == [429, 200] and len(parents(bot)) == 1
    assert bot.service.claim_events("check", 20, 1.0) == []


def test_a_channel_the_bot_cannot_post_in_does_not_block_the_queue(bot: Bot) -> None:
    launch(bot, ["11b"])
    bot.stub.fail_next("chat.postMessage", status=200, retry_after=None, times=2, error="not_in_channel")

    assert bot.delivery().run_once() == 2
    assert bot.service.claim_events("check", 20, 1.0) == []


def test_pngs_go_into_the_thread_through_files_upload_v2(bot: Bot) -> None:
    png = b"\x89PNG\r\n\x1a\nfake-chart"

    bot.delivery().upload_png("C1", "1700000000.000001", png, "charts-loss-curve.png", "charts: loss curve")

    url_call = bot.stub.calls_to("files.getUploadURLExternal")[0].params
    complete = bot.stub.calls_to("files.completeUploadExternal")[0].params
    assert (url_call["filename"], int(url_call["length"])) == ("charts-loss-curve.png", len(png))
    assert list(bot.stub.uploads.values()) == [png]
    assert (complete["channel_id"], complete["thread_ts"]) == ("C1", "1700000000.000001")


def test_the_pacer_spaces_posts_to_one_channel() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(1.0, clock=lambda: now[0], sleep=sleep)
    pacer.wait("C1")
    pacer.wait("C2")
    now[0] += 0.25
    pacer.wait("C1")

    assert slept == [0.75]


def test_callers_sharing_a_pacer_from_threads_never_share_a_token() -> None:
    slept: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:  # the clock stands still: each caller queues behind the others
        with lock:
            slept.append(seconds)

    pacer = Pacer(1.0, clock=lambda: 0.0, sleep=sleep, burst=2)
    callers = [
        threading.Thread(target=lambda: [pacer.wait("chat.update") for _ in range(5)]) for _ in range(4)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(10)

    # 20 calls, 2 free: the others wait 1, 2, ..., 18 intervals, one each, whatever the interleaving.
    assert sorted(slept) == [float(n) for n in range(1, 19)]


def test_the_edges_background_loop_delivers_until_stopped(bot: Bot) -> None:
    loop = DeliveryLoop(bot.delivery("slack:loop"), idle_seconds=0.05)
    loop.start()
    try:
        launch(bot, ["11b"])
        wait_for(lambda: len(thread_replies(bot)) >= 2)
    finally:
        loop.stop()
    assert len(parents(bot)) == 1
    assert bot.service.claim_events("check", 20, 1.0) == []


def unacknowledged(bot: Bot) -> int:
    with bot.sessions() as session:
        return len(session.scalars(select(Event).where(Event.acked_at.is_(None))).all())


def test_slack_down_loses_nothing_and_the_backlog_goes_out_once_in_order_when_it_returns(bot: Bot) -> None:
    # Slack answering 503 for a while (shortened from a minute): no event is dropped however many passes
    # fail, and none is counted against its attempts.
    bot.stub.outage_status = 503
    loop = DeliveryLoop(bot.delivery("slack:outage"), idle_seconds=0.05, max_backoff_seconds=0.2)
    loop.start()
    try:
        launch(bot, ["11b", "90b"])
        wait_for(lambda: len([c for c in bot.stub.calls if c.status == 503]) >= 9, 60)
        assert unacknowledged(bot) == 4 and thread_replies(bot) == []
        bot.stub.outage_status = None
        wait_for(lambda: unacknowledged(bot) == 0, 30)
    finally:
        loop.stop()
    ids = event_ids(bot)
    assert len(ids) == 4 and ids == sorted(ids)
    assert len(parents(bot)) == 1


def test_slack_unreachable_stops_the_pass_and_drops_nothing(bot: Bot) -> None:
    launch(bot, ["11b"])
    closed = WebClient(token="xoxb-test-token", base_url=f"http://127.0.0.1:{free_port()}/api/")
    delivery = Delivery(bot.service, closed, "slack:closed", pacer=Pacer(0.0))

    with pytest.raises(SlackDown):
        delivery.run_once()

    assert unacknowledged(bot) == 2
    assert bot.delivery("slack:closed").run_once() == 2  # Slack is back: the same consumer delivers both
