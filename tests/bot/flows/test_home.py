"""App Home, and subscribed events the bot does not act on (answered, so Slack does not retry them)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from bot import blocks
from bot.app import web_client
from bot.home import publish_home
from services.client import ServiceClient
from services.jobs.poll import poll_once
from services.platform.config import load_settings
from services.platform.db import unit_of_work
from services.platform.tables import Job
from tests.bot.conftest import API_TOKEN, Bot, wait_for
from tests.jobs.conftest import moto_jobs


def published_home(bot: Bot, user: str, count: int = 1) -> dict[str, Any]:
    """The ``count``-th App Home published to ``user``, once it is."""
    calls = wait_for(
        lambda: [c for c in bot.stub.accepted("views.publish") if c.params["user_id"] == user][count - 1 :]
    )
    view = calls[0].params["view"]
    return view if isinstance(view, dict) else dict(json.loads(view))


def under(view: dict[str, Any], heading: str) -> str:
    """The text of the section right after the one that starts with ``heading``."""
    texts = [block.get("text", {}).get("text", "") for block in view["blocks"]]
    at = next(i for i, text in enumerate(texts) if text.startswith(heading))
    return texts[at + 1]


def set_status(bot: Bot, job_id: str, status: str) -> None:
    with unit_of_work(bot.sessions) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status = status


def test_app_home_lists_the_viewers_jobs_and_the_teams_queued_training_and_evaluating_ones(bot: Bot) -> None:
    dataset_id = bot.dataset()
    mine = bot.service.launch_jobs("a", dataset_id=dataset_id, models=["11b"], requested_by="U1", name="mine")
    theirs = bot.service.launch_jobs(
        "b", dataset_id=dataset_id, models=["90b"], requested_by="U2", name="theirs"
    )
    waiting = bot.service.launch_jobs(
        "c", dataset_id=dataset_id, models=["11b"], requested_by="U3", name="later"
    )
    set_status(bot, mine.jobs[0].id, "training")
    set_status(bot, theirs.jobs[0].id, "evaluating")
    set_status(bot, waiting.jobs[0].id, "queued")

    answer = bot.event({"type": "app_home_opened", "user": "U1", "tab": "home"}, "EvHome")

    assert answer.status_code == 200
    view = published_home(bot, "U1")
    assert "mine" in under(view, "*Your recent jobs*") and "theirs" not in under(view, "*Your recent jobs*")
    assert "*later*" in under(view, "*Queued* (1)")
    assert "*mine*" in under(view, "*Training* (1)")
    assert "*theirs*" in under(view, "*Evaluating* (1)")
    buttons = next(block for block in view["blocks"] if block["type"] == "actions")["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Launch", "Datasets", "History"]


class RecordingTransport(httpx.HTTPTransport):
    """The bot's requests to the job service, as they go on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def test_a_home_publish_asks_the_service_once_for_every_stage_of_the_team(bot: Bot) -> None:
    dataset_id = bot.dataset()
    stages = ("training", "evaluating", "queued")
    launched = [
        bot.service.launch_jobs(
            key, dataset_id=dataset_id, models=["11b"], requested_by="U2", name=f"{key}-job"
        )
        for key in stages
    ]
    for launch, status in zip(launched, stages, strict=True):
        set_status(bot, launch.jobs[0].id, status)
    wire = RecordingTransport()
    service = ServiceClient(bot.base, API_TOKEN, transport=wire)

    assert publish_home(service, web_client(load_settings()), "U1")

    view = published_home(bot, "U1")
    for status, title in (("queued", "Queued"), ("training", "Training"), ("evaluating", "Evaluating")):
        assert f"*{status}-job*" in under(view, f"*{title}* (1)")
    listed = [request.url for request in wire.sent if request.url.path == "/api/v1/jobs"]
    team = [url for url in listed if "requested_by" not in url.params]
    assert len(listed) == 2 and len(team) == 1  # the viewer's own jobs, and the team's in one call
    assert team[0].params.get_list("status") == ["queued", "training", "evaluating"]
    service.close()


def test_the_home_buttons_open_the_launch_form_the_datasets_and_the_history(bot: Bot) -> None:
    dataset_id = bot.dataset()
    bot.service.launch_jobs("a", dataset_id=dataset_id, models=["11b"], requested_by="U1", name="mine")

    bot.click(blocks.HOME_DATASETS, "datasets")
    listed = wait_for(lambda: bot.stub.accepted("views.update"))[0].params["view"]
    assert f"`{dataset_id}`" in json.dumps(listed) and "Your datasets" in json.dumps(listed)

    bot.click(blocks.HOME_HISTORY, "history")
    history = wait_for(lambda: bot.stub.accepted("views.update")[1:])[0].params["view"]
    assert "*mine*" in json.dumps(history)

    bot.click(blocks.HOME_LAUNCH, "launch")
    form = wait_for(lambda: bot.stub.accepted("views.update")[2:])[0].params
    shown = form["view"] if isinstance(form["view"], dict) else json.loads(form["view"])
    assert shown["callback_id"] == blocks.LAUNCH_MODAL
    assert shown["blocks"][0]["block_id"] == "channel"  # Home is no channel: the form asks where to post
    assert shown["blocks"][0]["element"]["type"] == "conversations_select"

    # Submitted with a channel chosen, the confirmation card with the cost goes there.
    payload = {
        "type": "view_submission",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "view": {
            "id": form["view_id"],
            "type": "modal",
            "callback_id": blocks.LAUNCH_MODAL,
            "private_metadata": shown["private_metadata"],
            "state": {
                "values": {
                    "channel": {"channel": {"selected_conversation": "C7"}},
                    "dataset": {"dataset": {"value": dataset_id}},
                    "model": {"model": {"selected_option": {"value": "11b"}}},
                    "eval": {"eval": {"selected_option": {"value": "on"}}},
                }
            },
        },
    }
    bot.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    card = wait_for(lambda: bot.stub.accepted("chat.postEphemeral"))[0].params
    assert (card["channel"], card["user"]) == ("C7", "U1") and "Launch fine-tuning" in json.dumps(
        card["blocks"]
    )


def test_app_home_is_published_again_when_the_viewers_job_moves(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)
    bot.command(f"launch {dataset_id} model=11b")
    confirm = next(b for b in bot.last_response()["blocks"] if b["type"] == "actions")["elements"][0]
    bot.click(confirm["action_id"], confirm["value"])
    bot.last_response(2)
    job = bot.service.list_jobs(limit=1).jobs[0]

    bot.delivery().run_once()
    first = published_home(bot, "U1")
    for moto_job in moto_jobs().values():
        moto_job.status = "Completed"
    poll_once(bot.runtime.wiring.job_deps)
    bot.delivery().run_once()
    second = published_home(bot, "U1", 2)

    assert f"*{job.name}*" in under(first, "*Your recent jobs*")
    assert "· training ·" in under(first, "*Your recent jobs*") or "· queued ·" in under(
        first, "*Your recent jobs*"
    )
    assert "· evaluating ·" in under(second, "*Your recent jobs*")
    assert f"*{job.name}*" in under(second, "*Evaluating* (1)")


def test_plain_channel_messages_are_acknowledged_and_not_answered(bot: Bot) -> None:
    # file_shared is not subscribed (the file's message event carries the file): see
    # tests/bot/test_events_subscribed.py.
    plain = bot.event({"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.2"}, "EvA")

    assert plain.status_code == 200
    assert bot.stub.calls_to("chat.postMessage") == []
