"""Launching from Slack: the confirmation card, and buttons that launch once however often clicked."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from slack_sdk.models.views import View

from bot import blocks
from bot.reply_to import ReplyTo, decode
from tests.bot.conftest import Bot, wait_for


def card_value(dataset_id: str, key: str = "card:trigger-1", models: tuple[str, ...] = ("11b",)) -> str:
    return blocks.launch_value(
        {"dataset_id": dataset_id, "models": list(models), "evaluate": True, "key": key}
    )


def groups_of(bot: Bot) -> set[str]:
    return {job.group_id for job in bot.service.list_jobs(limit=50).jobs}


def test_launch_replies_with_a_card_of_recommended_and_chosen_values(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)

    bot.command(f"launch {dataset_id} model=both epochs=6", trigger="trig-9")

    card = bot.last_response()
    text = json.dumps(card)
    assert "epochs 6 (recommended 8)" in text
    launch = next(b for b in card["blocks"] if b["type"] == "actions")["elements"][0]
    assert json.loads(launch["value"])["key"] == "card:trig-9"
    assert groups_of(bot) == set()


def test_a_double_click_on_launch_starts_one_launch(bot: Bot) -> None:
    value = card_value(bot.dataset())

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: bot.click(blocks.LAUNCH_CONFIRM, value), range(2)))

    assert [answer.status_code for answer in answers] == [200, 200]
    replies = bot.responses(2)
    assert len(groups_of(bot)) == 1
    texts = sorted(reply["text"] for reply in replies)
    assert texts[0].startswith(":rocket: Launched *") or texts[0].startswith("Already launched")
    assert any(text.startswith("Already launched") for text in texts)


def test_launch_refusals_say_what_to_do(bot: Bot) -> None:
    bot.click(blocks.LAUNCH_CONFIRM, card_value("nosuchdataset"))

    assert "List datasets with `/finetune datasets all`" in bot.last_response()["text"]


def open_form(bot: Bot) -> str:
    """`/finetune launch` with no arguments, as a user opens the form; the id Slack gave the form."""
    opened = len(bot.stub.accepted("views.update"))
    bot.command("launch")
    return str(wait_for(lambda: bot.stub.accepted("views.update")[opened:])[0].params["view_id"])


def submit_form(bot: Bot, **fields: str) -> dict[str, Any]:
    """Open the form, type ``fields`` and press Review cost; Slack's answer to the submission."""
    view_id = open_form(bot)
    values: dict[str, dict[str, dict[str, object]]] = {}
    for name, value in fields.items():
        entry: dict[str, object] = (
            {"selected_option": {"value": value}} if name in ("model", "eval") else {"value": value}
        )
        values[name] = {name: entry}
    payload = {
        "type": "view_submission",
        "user": {"id": "U1"},
        "team": {"id": "T1"},
        "trigger_id": "t-form",
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": blocks.LAUNCH_MODAL,
            "private_metadata": json.dumps({"channel": "C1"}),
            "state": {"values": values},
        },
    }
    answer = bot.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
    assert answer.status_code == 200
    return answer.json() if answer.content else {}


def form_shown(bot: Bot, after: int) -> dict[str, Any]:
    """The form as Slack shows it once the bot updated it after the submission's "checking" answer."""
    update = wait_for(lambda: bot.stub.accepted("views.update")[after:])[0].params
    view = update["view"]
    return view if isinstance(view, dict) else dict(json.loads(view))


def test_launch_without_arguments_opens_a_loading_modal_then_the_form(bot: Bot) -> None:
    bot.command("launch", trigger="trig-modal")

    opened = wait_for(lambda: bot.stub.calls_to("views.open"))[0].params
    updated = wait_for(lambda: bot.stub.calls_to("views.update"))[0].params
    assert opened["trigger_id"] == "trig-modal" and "Reading your last dataset" in json.dumps(opened["view"])
    assert updated["view_id"] == "V0001"
    form = updated["view"] if isinstance(updated["view"], dict) else json.loads(updated["view"])
    assert form["callback_id"] == blocks.LAUNCH_MODAL
    assert [block["block_id"] for block in form["blocks"]] == list(blocks.MODAL_FIELDS)
    View(**form).validate_json()


def test_the_form_names_the_field_to_fix_and_a_valid_one_replies_in_the_channel(bot: Bot) -> None:
    invalid = submit_form(bot, dataset="ds1", model="11b", epochs="12", eval="on")

    assert invalid["response_action"] == "errors"
    assert invalid["errors"] == {"epochs": "epochs must be between 1 and 10; got 12."}

    assert submit_form(bot, dataset=bot.dataset(), model="both", eval="off")["response_action"] == "update"
    told = wait_for(lambda: bot.stub.calls_to("chat.postEphemeral"))[0].params
    assert (told["channel"], told["user"]) == ("C1", "U1")


def test_launch_of_an_s3_uri_checks_it_first_and_reports_to_the_channel(bot: Bot) -> None:
    bot.command("launch s3://tunebot-test/raw/charts/ model=both", channel="C7")

    reply = bot.last_response()
    dataset = bot.service.list_datasets(created_by="U1")[0]
    assert f"as dataset `{dataset.id}`" in reply["text"]
    assert decode(dataset.reply_to) == ReplyTo("C7")
    assert groups_of(bot) == set()


def test_review_cost_for_typed_epochs_shows_the_figure_the_launch_then_stores(bot: Bot) -> None:
    dataset_id = bot.dataset(train=300)

    submit_form(bot, dataset=dataset_id, model="both", epochs="3", eval="on")
    card = wait_for(lambda: bot.stub.calls_to("chat.postEphemeral"))[0].params
    text = json.dumps(card["blocks"])
    estimate = bot.service.estimate_launch(dataset_id=dataset_id, models=["11b", "90b"], epochs=3)
    by_model = {job.model: job.cost.total_usd for job in estimate.jobs}

    assert "shown when launched" not in text and "unknown" not in text
    chosen = "epochs 3 (recommended 8), learning rate 1e-05 (recommended 1e-05)"
    assert f"{chosen}; estimated ${by_model['11b']:,.2f}" in text
    assert f"estimated ${by_model['90b']:,.2f}" in text and f"estimated ${estimate.total_usd:,.2f}" in text
    assert "Costs are estimates from placeholder prices: set real ones in TUNEBOT_PRICES_FILE." in text

    launch = next(b for b in card["blocks"] if b["type"] == "actions")["elements"][0]
    bot.click(blocks.LAUNCH_CONFIRM, launch["value"])
    jobs = wait_for(lambda: bot.service.list_jobs(limit=10).jobs)
    # The card's figures are the ones the launch stored (and compared with the cost cap).
    assert {job.model: job.cost_estimate_usd for job in jobs} == by_model
    assert f"estimated ${estimate.total_usd:,.2f}" in bot.last_response(1)["text"]
