"""Where launches may happen, and launches above the cost cap waiting for an admin's approval."""

from __future__ import annotations

import json

import pytest

from bot import blocks
from tests.bot.conftest import ADMIN, Bot, wait_for
from tests.bot.factories import message_ts
from tests.sweeps.files import put_prepared_files


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {"TUNEBOT_ALLOWED_CHANNELS": "CLAUNCH", "TUNEBOT_MAX_LAUNCH_COST_USD": "0"}


def test_a_launch_outside_the_allowed_channels_is_refused(bot: Bot) -> None:
    dataset_id = bot.dataset()

    bot.click(blocks.report_launch_id("11b"), f"{dataset_id}:11b", channel="COTHER")

    assert "Launches happen only in <#CLAUNCH>" in bot.last_response()["text"]
    assert bot.service.list_jobs().jobs == []


def test_above_the_cost_cap_an_admin_approves_by_dm(bot: Bot) -> None:
    dataset_id = bot.dataset()

    bot.click(blocks.report_launch_id("11b"), f"{dataset_id}:11b", channel="CLAUNCH", message_ts="9.9")
    waiting = bot.last_response(1)
    to_admin = lambda: [c for c in bot.stub.calls_to("chat.postMessage") if c.params["channel"] == ADMIN]  # noqa: E731
    dm = wait_for(to_admin)[0].params
    approve = dm["blocks"][-1]["elements"][0]
    estimate = bot.service.estimate_launch(dataset_id=dataset_id, models=["11b"])

    assert "I asked the admins to approve it" in waiting["text"]
    assert dm["channel"] == ADMIN
    # The admin sees the figure the requester saw and the cap compared, never "estimated unknown".
    asked = json.dumps(dm["blocks"])
    assert f"estimated ${estimate.total_usd:,.2f}: above the cost cap of $0.00" in asked
    assert "Costs are estimates from placeholder prices: set real ones in TUNEBOT_PRICES_FILE." in asked
    assert "unknown" not in asked
    assert bot.service.list_jobs().jobs == []

    bot.click(blocks.APPROVE, approve["value"], user="U1", channel=ADMIN)
    assert "Only admins" in bot.last_response(2)["text"]
    bot.click(blocks.APPROVE, approve["value"], user=ADMIN, channel=ADMIN)
    approved = bot.last_response(3)

    jobs = bot.service.list_jobs().jobs
    assert [(job.model, job.requested_by) for job in jobs] == [("11b", "U1")]
    assert approved["text"].startswith("Approved by <@UADMIN1>. :rocket: Launched")
    told = wait_for(lambda: bot.stub.calls_to("chat.postEphemeral"))[0].params
    assert (told["channel"], told["user"]) == ("CLAUNCH", "U1")
    # The channel saw one card: waiting for the approval, then the launch's own (the same message).
    cards = bot.stub.channel_messages("CLAUNCH")
    assert len(cards) == 1 and cards[0].ts == message_ts(bot.service.get_group(jobs[0].group_id).reply_to)
    assert "waits for an admin's approval" in cards[0].text
    bot.delivery().run_once()
    assert "*Fine-tuning 11B* for <@U1>" in json.dumps(bot.stub.messages[("CLAUNCH", cards[0].ts)].blocks)


def test_above_the_cost_cap_an_admin_approves_a_sweep_by_dm(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)
    put_prepared_files(bot.sessions, dataset_id)

    bot.command(f"sweep {dataset_id} sizes=100,all models=11b", channel="CLAUNCH")
    start = next(b for b in bot.last_response()["blocks"] if b["type"] == "actions")["elements"][0]
    bot.click(start["action_id"], start["value"], channel="CLAUNCH")
    waiting = bot.last_response(2)
    to_admin = lambda: [c for c in bot.stub.calls_to("chat.postMessage") if c.params["channel"] == ADMIN]  # noqa: E731
    dm = wait_for(to_admin)[0].params
    estimate = bot.service.estimate_sweep(dataset_id=dataset_id, sizes=[100, "all"], models=["11b"])

    assert "I asked the admins to approve it" in waiting["text"]
    summary = f"a sweep of 2 jobs (sizes 100, 300 × 11B) on dataset `{dataset_id}`"
    assert dm["text"].startswith(f"Approval needed: {summary}, estimated ${estimate.total_usd:,.2f}")
    assert f"estimated ${estimate.total_usd:,.2f}: above the cost cap of $0.00" in json.dumps(dm["blocks"])
    assert bot.service.list_jobs().jobs == []

    approve = dm["blocks"][-1]["elements"][0]
    bot.click(blocks.APPROVE, approve["value"], user=ADMIN, channel=ADMIN)

    assert bot.last_response(3)["text"].startswith("Approved by <@UADMIN1>. :chart_with_upwards_trend: Sweep")
    jobs = bot.service.list_jobs().jobs
    assert sorted((job.model, job.requested_by) for job in jobs) == [("11b", "U1"), ("11b", "U1")]
    assert not bot.stub.unexpected_refusals()


def test_a_dm_is_no_way_around_the_allowed_channels(bot: Bot) -> None:
    # TUNEBOT_ALLOWED_CHANNELS is set and TUNEBOT_ALLOW_DMS is not: launches in a DM are refused.
    dataset_id = bot.dataset()

    bot.command(f"launch {dataset_id}", channel="D0DIRECT")
    by_command = bot.last_response(1)
    bot.click(blocks.report_launch_id("11b"), f"{dataset_id}:11b", channel="D0DIRECT")
    by_button = bot.last_response(2)

    assert "Launches happen only in <#CLAUNCH>" in by_command["text"]
    assert "Launches happen only in <#CLAUNCH>" in by_button["text"]
    assert bot.service.list_jobs().jobs == []


def test_a_dataset_shared_in_a_dm_outside_the_allowed_channels_is_pointed_there(bot: Bot) -> None:
    url = bot.stub.add_file("charts.zip", b"PK")
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel": "D0DIRECT",
        "channel_type": "im",
        "user": "U1",
        "ts": "3.3",
        "files": [{"id": "F1", "name": "charts.zip", "size": 2, "url_private_download": url}],
    }
    assert bot.event(event, "Ev1").status_code == 200

    answer = wait_for(lambda: bot.stub.calls_to("chat.postMessage"))[0].params
    assert "I check and launch datasets only in <#CLAUNCH>" in answer["text"]
    assert bot.stub.calls_to("GET files") == []
