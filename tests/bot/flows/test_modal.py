"""The launch form: each refusal is shown under the field it belongs to, and a valid form's "Review cost"
answers with the cost of exactly what was typed. Through signed view_submission requests to the bot's
endpoint, against the strict Slack stand-in (a form is opened with `/finetune launch` first)."""

from __future__ import annotations

import json
from typing import Any

from services.platform.db import unit_of_work
from services.platform.tables import Dataset
from tests.bot.conftest import Bot, wait_for
from tests.bot.flows.test_launch import form_shown, submit_form


def problem_under(form: dict[str, Any]) -> dict[str, str]:
    """The form's warnings by the field they sit under."""
    shown: dict[str, str] = {}
    for before, block in zip(form["blocks"], form["blocks"][1:], strict=False):
        if block["type"] == "context" and before["type"] == "input":
            shown[before["block_id"]] = block["elements"][0]["text"]
    return shown


def test_a_dataset_that_is_not_an_id_is_refused_on_the_dataset_field_not_name(bot: Bot) -> None:
    # "`my data` is not a dataset id or name" holds the word "name": it used to land on the Name field.
    answer = submit_form(bot, dataset="my data", model="11b", eval="on", name="charts-run")

    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == ["dataset"]
    assert "`my data` is not a dataset id or name" in answer["errors"]["dataset"]


def test_a_dataset_the_service_does_not_know_is_shown_under_the_dataset_field(bot: Bot) -> None:
    answer = submit_form(bot, dataset="nosuchdataset", model="both", epochs="3", eval="off")

    assert answer["response_action"] == "update"  # "checking…" until the service has judged
    form = form_shown(bot, 1)  # the update after the form's first one
    assert problem_under(form) == {
        "dataset": ":warning: No dataset has the id `nosuchdataset`: `/finetune datasets` lists yours."
    }
    # What was typed is still there to fix, and nothing was posted in the channel.
    inputs = {block["block_id"]: block["element"] for block in form["blocks"] if block["type"] == "input"}
    assert inputs["dataset"]["initial_value"] == "nosuchdataset" and inputs["epochs"]["initial_value"] == "3"
    assert inputs["model"]["initial_option"]["value"] == "both"
    assert bot.stub.calls_to("chat.postEphemeral") == []


def test_a_size_the_data_does_not_fit_is_shown_under_the_model_field(bot: Bot) -> None:
    dataset_id = bot.dataset()
    with unit_of_work(bot.sessions) as session:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None
        fit = {"fits": ["11b"], "summary": "fits 11B only", "over_limit": {"90b": 2}}
        dataset.report = {
            **(dataset.report or {}),
            "model_fit": {**fit, "records_over_limit": {"90b": ["a:1"]}},
        }

    submit_form(bot, dataset=dataset_id, model="both", eval="on")
    form = form_shown(bot, 1)  # the update after the form's first one

    shown = problem_under(form)
    assert list(shown) == ["model"]
    assert "over Llama 3.2 90B's per-record token limit (a:1" in shown["model"]


def test_review_cost_shows_the_cost_of_the_learning_rate_and_epochs_typed(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)

    submit_form(bot, dataset=dataset_id, model="11b", epochs="2", lr="2e-5", eval="off")

    card = wait_for(lambda: bot.stub.calls_to("chat.postEphemeral"))[0].params
    estimate = bot.service.estimate_launch(
        dataset_id=dataset_id, models=["11b"], epochs=2, learning_rate=2e-5, evaluate=False
    )
    text = json.dumps(card["blocks"])
    assert "epochs 2 (recommended 8), learning rate 2e-05 (recommended 1e-05)" in text
    assert f"estimated ${estimate.total_usd:,.2f}" in text
    assert "Evaluation: off" in text
    assert "on the confirmation card in <#C1>" in json.dumps(form_shown(bot, 1))
