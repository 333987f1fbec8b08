"""Every /finetune command, sent signed over HTTP to the running bot, answered from the real job service."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import httpx

from bot import blocks
from bot.reply_to import encode
from services.api.schemas import JobStatus, LaunchOut
from tests.bot.conftest import ADMIN, Bot, signed_headers


def text_of(message: dict[str, object]) -> str:
    return json.dumps(message)


def launch_pair(bot: Bot, dataset_id: str, key: str = "k1", user: str = "U1") -> LaunchOut:
    return bot.service.launch_jobs(
        key,
        dataset_id=dataset_id,
        models=["11b", "90b"],
        requested_by=user,
        reply_to=encode("C1"),
        name="charts",
    )


def test_unsigned_and_expired_requests_are_refused(bot: Bot) -> None:
    body = urlencode({"command": "/finetune", "text": "help", "user_id": "U1"})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    unsigned = httpx.post(bot.base + "/slack/events", content=body, headers=form)
    expired = httpx.post(
        bot.base + "/slack/events",
        content=body,
        headers={**form, **signed_headers(body, int(time.time()) - 400)},
    )
    assert unsigned.status_code == 401
    assert expired.status_code == 401
    assert bot.stub.calls_to("respond") == []


def test_help_and_typos_answer_in_the_ack_itself(bot: Bot) -> None:
    helped = bot.command("help")
    typo = bot.command("stauts 123")
    bad_option = bot.command("launch abc epochs=twelve")

    assert helped.status_code == 200
    assert "/finetune history [mine|all|@user]" in text_of(helped.json())
    assert helped.json()["response_type"] == "ephemeral"
    assert typo.json()["text"] == "`stauts` is not a /finetune command. Try: `/finetune status <job>`"
    assert "epochs `twelve` is not a whole number" in bad_option.json()["text"]
    assert "Try: `/finetune launch <dataset>" in bad_option.json()["text"]


def test_recommend_gives_values_and_reasons(bot: Bot) -> None:
    answer = bot.command("recommend 1,200 model=90b")

    assert answer.status_code == 200
    reply = bot.last_response()
    assert reply["response_type"] == "ephemeral"
    assert "*Recommendation for 1,200 examples*: 90B, 5 epochs" in text_of(reply)
    assert "mid-sized" in text_of(reply)


def test_status_finds_a_job_by_id_or_name_and_says_when_there_is_none(bot: Bot) -> None:
    launched = launch_pair(bot, bot.dataset())
    job = launched.jobs[0]

    bot.command(f"status {job.id}")
    by_id = bot.last_response(1)
    bot.command("status nothing-like-it")
    missing = bot.last_response(2)

    assert f"`{job.id}`" in text_of(by_id)
    assert "*Model:* Llama 3.2 11B" in text_of(by_id)
    assert "No job has the id or name `nothing-like-it`" in missing["text"]
    assert "/finetune history all" in missing["text"]


def test_history_lists_newest_first_filters_and_pages_with_more(bot: Bot) -> None:
    dataset_id = bot.dataset()
    for index in range(3):
        bot.service.launch_jobs(
            f"h{index}", dataset_id=dataset_id, models=["11b"], requested_by="U1", name=f"run-{index}"
        )
    bot.service.launch_jobs("other", dataset_id=dataset_id, models=["90b"], requested_by="U2", name="theirs")

    bot.command("history mine limit=2")
    first_page = bot.last_response(1)
    bot.command("history <@U2|ann>")
    theirs = bot.last_response(2)
    bot.command("history all model=90b")
    by_model = bot.last_response(3)

    page_text = text_of(first_page)
    assert page_text.index("run-2") < page_text.index("run-1")
    assert "run-0" not in page_text and "theirs" not in page_text
    more = next(b for b in first_page["blocks"] if b["type"] == "actions")["elements"][0]
    assert more["action_id"] == blocks.HISTORY_MORE
    assert "theirs" in text_of(theirs) and "run-" not in text_of(theirs)
    assert "theirs" in text_of(by_model) and "run-" not in text_of(by_model)

    bot.click(blocks.HISTORY_MORE, more["value"])
    second_page = bot.last_response(4)
    assert "run-0" in text_of(second_page) and "run-1" not in text_of(second_page)


def test_cancel_asks_first_refuses_a_non_owner_and_lets_an_admin(bot: Bot) -> None:
    launched = launch_pair(bot, bot.dataset())
    job = launched.jobs[0]

    bot.command(f"cancel {job.id}", user="U2")
    refused = bot.last_response(1)
    bot.command(f"cancel {job.id}", user="U1")
    confirm = bot.last_response(2)
    bot.click(blocks.CANCEL_CONFIRM, job.id, user="U3")
    refused_click = bot.last_response(3)

    assert f"Only <@U1> (who launched {job.name}) or <@UADMIN1> can cancel it" in refused["text"]
    assert "stopping cannot be undone" in text_of(confirm) or "nothing is billed" in text_of(confirm)
    assert "Only <@U1>" in refused_click["text"]
    assert bot.service.get_job(job.id).status not in (JobStatus.CANCELLED, JobStatus.CANCELLING)

    bot.click(blocks.CANCEL_CONFIRM, job.id, user=ADMIN)
    done = bot.last_response(4)
    assert bot.service.get_job(job.id).status in (JobStatus.CANCELLED, JobStatus.CANCELLING)
    assert done["replace_original"] is True
    assert "Updates follow in its launch thread" in done["text"]


def test_compare_waits_for_finished_jobs(bot: Bot) -> None:
    launched = launch_pair(bot, bot.dataset())
    first, second = launched.jobs

    bot.command(f"compare {launched.group_id}")
    group_reply = bot.last_response(1)
    bot.command(f"compare {first.id} {second.id}")
    jobs_reply = bot.last_response(2)
    same = bot.command(f"compare {first.id} {first.id}").json()

    assert "No comparison yet" in group_reply["text"] and "training" in group_reply["text"]
    assert "Compare needs finished jobs" in jobs_reply["text"]
    assert "Compare two different jobs" in same["text"]


def test_datasets_lists_the_callers_or_everyones(bot: Bot) -> None:
    bot.dataset()

    bot.command("datasets all")

    assert "charts" in text_of(bot.last_response())
