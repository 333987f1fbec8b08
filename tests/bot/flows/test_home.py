"""App Home, and subscribed events the bot does not act on (answered, so Slack does not retry them)."""

from __future__ import annotations

import json

from tests.bot.conftest import Bot, wait_for


def test_app_home_shows_the_viewers_jobs_and_the_teams_running_ones(bot: Bot) -> None:
    dataset_id = bot.dataset()
    bot.service.launch_jobs("a", dataset_id=dataset_id, models=["11b"], requested_by="U1", name="mine")
    bot.service.launch_jobs("b", dataset_id=dataset_id, models=["90b"], requested_by="U2", name="theirs")

    answer = bot.event({"type": "app_home_opened", "user": "U1", "tab": "home"}, "EvHome")

    assert answer.status_code == 200
    published = wait_for(lambda: bot.stub.calls_to("views.publish"))[0].params
    view = published["view"] if isinstance(published["view"], dict) else json.loads(published["view"])
    mine, running = view["blocks"][2]["text"]["text"], view["blocks"][5]["text"]["text"]
    assert published["user_id"] == "U1"
    assert "mine" in mine and "theirs" not in mine
    assert "mine" in running and "theirs" in running


def test_plain_channel_messages_are_acknowledged_and_not_answered(bot: Bot) -> None:
    # file_shared is not subscribed (the file's message event carries the file): see
    # tests/bot/test_events_subscribed.py.
    plain = bot.event({"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.2"}, "EvA")

    assert plain.status_code == 200
    assert bot.stub.calls_to("chat.postMessage") == []
