"""Job names people can type, through signed requests to the running bot: launches get readable unique
names, and `status`, `cancel` and `compare` take a name wherever they take an id."""

from __future__ import annotations

import json
import re

from bot import blocks
from services.api.schemas import JobOut
from tests.bot.conftest import Bot

PYDANTIC = re.compile(r"should match pattern|String should|Input should|Field required")


def launch_twice_from_reports(bot: Bot) -> list[JobOut]:
    dataset_id = bot.dataset()  # the dataset is called "charts"
    bot.click(blocks.report_launch_id("11b"), f"{dataset_id}:11b", message_ts="1700.1")
    bot.click(blocks.report_launch_id("11b"), f"{dataset_id}:11b", message_ts="1700.2")
    assert all(reply["text"].startswith(":rocket: Launched") for reply in bot.responses(2))
    jobs = bot.service.list_jobs().jobs
    return jobs


def test_two_launches_of_one_dataset_get_names_people_can_type(bot: Bot) -> None:
    newest, oldest = launch_twice_from_reports(bot)
    assert (oldest.name, newest.name) == ("charts-11b", "charts-11b-2")


def test_status_cancel_and_compare_take_a_job_name(bot: Bot) -> None:
    launch_twice_from_reports(bot)

    bot.command("status charts-11b-2")
    status = bot.last_response(3)
    bot.command("cancel charts-11b")
    cancel = bot.last_response(4)
    bot.command("compare charts-11b charts-11b-2")
    compare = bot.last_response(5)

    assert status["text"].startswith("charts-11b-2: ")
    assert cancel["text"] == "Cancel charts-11b?"
    assert "Compare needs finished jobs: charts-11b is" in json.dumps(compare)
    assert "charts-11b-2 is" in json.dumps(compare)


def test_a_name_no_job_has_is_answered_in_plain_words(bot: Bot) -> None:
    # Names of the old shape (with the file's extension) once got Pydantic's "String should match pattern".
    bot.command("status charts.zip-11b")
    answer = json.dumps(bot.last_response(1))

    assert "No job has the id or name `charts.zip-11b`" in answer
    assert "/finetune history all" in answer
    assert not PYDANTIC.search(answer), answer


def test_a_chosen_name_that_is_taken_is_refused_with_a_free_one(bot: Bot) -> None:
    launch_twice_from_reports(bot)
    dataset_id = bot.service.list_jobs().jobs[0].dataset_id

    bot.command(f"launch {dataset_id} model=11b name=charts-11b", trigger="trig-name")
    card = bot.last_response(3)
    confirm = next(b for b in card["blocks"] if b["type"] == "actions")["elements"][0]
    bot.click(blocks.LAUNCH_CONFIRM, confirm["value"])
    refusal = json.dumps(bot.last_response(4))

    assert "a job called `charts-11b` exists already" in refusal
    assert "e.g. `charts-11b-3`" in refusal  # charts-11b-2 is taken too
    assert "Launch again with `name=`" in refusal
    assert len(bot.service.list_jobs().jobs) == 2
