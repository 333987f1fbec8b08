"""Events from the service into Slack: a parent message per launch updated in place, the story in its
thread, acknowledged only after Slack accepted, and nothing lost across a restart or a 429."""

from __future__ import annotations

import time

from bot.delivery import DeliveryLoop, Pacer
from services.jobs.poll import poll_once
from tests.bot.conftest import Bot, wait_for
from tests.jobs.conftest import moto_jobs


def thread_replies(bot: Bot) -> list[dict[str, object]]:
    return [call.params for call in bot.stub.calls_to("chat.postMessage") if call.params.get("thread_ts")]


def parents(bot: Bot) -> list[dict[str, object]]:
    return [call.params for call in bot.stub.calls_to("chat.postMessage") if not call.params.get("thread_ts")]


def launch(bot: Bot, models: list[str], key: str = "k1", evaluate: bool = True) -> dict[str, object]:
    return bot.service.launch_jobs(
        key,
        dataset_id=bot.dataset(),
        models=models,
        requested_by="U1",
        slack_channel="C1",
        name="charts",
        evaluate=evaluate,
    )


def test_a_launch_gets_one_parent_message_updated_in_place_and_a_thread(bot: Bot) -> None:
    launched = launch(bot, ["11b", "90b"])
    delivery = bot.delivery()

    delivered = delivery.run_once()

    assert delivered == 4  # created and submitted, for each job
    assert len(parents(bot)) == 1
    parent_ts = bot.service.get_group(str(launched["group_id"]))["slack_message_ts"]
    assert parent_ts is not None
    assert {reply["thread_ts"] for reply in thread_replies(bot)} == {parent_ts}
    assert any("training started on Bedrock" in str(reply["text"]) for reply in thread_replies(bot))
    updates = bot.stub.calls_to("chat.update")
    assert len(updates) == 3 and {call.params["ts"] for call in updates} == {parent_ts}
    assert "training" in str(updates[-1].params["blocks"])
    assert delivery.run_once() == 0


def test_completion_mentions_the_requester_and_updates_the_card(bot: Bot) -> None:
    launched = launch(bot, ["11b"], evaluate=False)
    delivery = bot.delivery()
    delivery.run_once()
    job = launched["jobs"][0]  # type: ignore[index]
    moto_jobs()[job["bedrock_job_name"]].status = "Completed"

    poll_once(bot.runtime.wiring.job_deps)
    delivery.run_once()

    last = thread_replies(bot)[-1]
    assert str(last["text"]).startswith("<@U1>") and "training completed" in str(last["text"])
    assert ":white_check_mark: *charts* (11B): done" in str(
        bot.stub.calls_to("chat.update")[-1].params["blocks"]
    )


def test_a_bot_that_dies_between_post_and_ack_loses_nothing(bot: Bot) -> None:
    launch(bot, ["11b"])
    crashed = bot.delivery("slack:crashed", lease_seconds=1.0)
    claimed = bot.service.claim_events("slack:crashed", 20, 1.0)
    crashed.deliver(claimed[0])  # posted, then the process died before acknowledging anything
    restarted = bot.delivery("slack:restarted", lease_seconds=1.0)

    assert restarted.run_once() == 0  # the dead consumer's lease still holds
    time.sleep(1.1)
    assert restarted.run_once() == len(claimed) == 2

    texts = [str(reply["text"]) for reply in thread_replies(bot)]
    for event in claimed:
        assert any(str(event["payload"]["message"]) in text for text in texts)
    assert restarted.run_once() == 0


def test_a_429_is_retried_after_retry_after_and_then_acknowledged(bot: Bot) -> None:
    launch(bot, ["11b"])
    bot.stub.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()

    delivered = bot.delivery().run_once()

    assert delivered == 2
    assert time.monotonic() - started >= 1.0
    assert len(parents(bot)) == 2  # the refused attempt and its retry
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
