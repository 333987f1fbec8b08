"""The launch form (a modal): its loading view and its fields. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.kit import Block, context, cut, section
from services.api.schemas import Recommendation

LAUNCH_MODAL = "launch_modal"
MODAL_FIELDS = ("dataset", "model", "epochs", "lr", "eval", "name")


def loading_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Launch fine-tuning"},
        "blocks": [section(":hourglass_flowing_sand: Reading your last dataset and its recommendation…")],
    }


def _input(block_id: str, label: str, element: Block, optional: bool = False, hint: str = "") -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": cut(hint, 2_000)}
    return block


def _text_input(initial: str | None) -> Block:
    element: Block = {"type": "plain_text_input"}
    if initial:
        element["initial_value"] = initial
    return element


def _select(options: Sequence[tuple[str, str]], initial: str) -> Block:
    choices = [{"text": {"type": "plain_text", "text": label}, "value": value} for value, label in options]
    chosen = next(choice for choice in choices if choice["value"] == initial)
    return {"type": "static_select", "options": choices, "initial_option": chosen}


def launch_modal(
    dataset_id: str | None,
    advice: Recommendation | None,
    metadata: str,
    typed: Mapping[str, str] | None = None,
    problem: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The launch form, prefilled with the caller's last dataset and its recommendation (when known), or
    with what was ``typed`` and the service's ``problem`` (field, message) shown right under that field."""
    reasons = " ".join(advice.reasons) if advice else ""
    values = dict(typed or {})
    epochs = values.get("epochs") or (str(advice.epochs) if advice else "")
    rate = values.get("lr") or (f"{advice.learning_rate:g}" if advice else "")
    fields = [
        _input(
            "dataset",
            "Dataset (id or s3:// URI)",
            _text_input(values.get("dataset") or dataset_id),
        ),
        _input(
            "model",
            "Model",
            _select(
                [("11b", "11B"), ("90b", "90B"), ("both", "Both, and compare")], values.get("model") or "11b"
            ),
        ),
        _input("epochs", "Epochs (1-10)", _text_input(epochs or None), True, reasons),
        _input("lr", "Learning rate", _text_input(rate or None), True),
        _input(
            "eval",
            "Evaluate with SQuAD F1",
            _select([("on", "On"), ("off", "Off")], values.get("eval") or "on"),
        ),
        _input("name", "Name", _text_input(values.get("name") or None), True),
    ]
    if not json.loads(metadata or "{}").get("channel"):
        # Opened from App Home: the confirmation card and the launch need a channel to go to.
        picker = {"type": "conversations_select", "filter": {"include": ["public", "private"]}}
        if values.get("channel"):
            picker["initial_conversation"] = values["channel"]
        fields.insert(0, _input("channel", "Post the launch in", picker))
    if problem is not None:
        field, message = problem
        at = next((i for i, block in enumerate(fields) if block["block_id"] == field), 0)
        fields.insert(at + 1, {**context(f":warning: {cut(message, 2_000)}"), "block_id": f"{field}_problem"})
    return {
        "type": "modal",
        "callback_id": LAUNCH_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Launch fine-tuning"},
        "submit": {"type": "plain_text", "text": "Review cost"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": fields,
    }


def checking_view() -> dict[str, Any]:
    """The form while the service judges its values (Slack closes nothing meanwhile)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Launch fine-tuning"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(":hourglass_flowing_sand: Checking the dataset and the cost of these values…")],
    }


def reviewed_view(channel: str, said: str | None) -> dict[str, Any]:
    """The form once the confirmation card (with the cost) is in the channel, or why it is not."""
    where = f"<#{channel}>" if channel else "the channel"
    text = (
        f"The cost of these values is on the confirmation card in {where}, shown only to you: "
        "press Launch there."
    )
    if said and said.startswith(":warning:"):
        text = said
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Launch fine-tuning"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(text)],
    }


MODAL_ERROR_LIMIT = 150  # Slack shows a field's error under it; keep it to a line or two


def modal_error(field: str, message: str) -> dict[str, Any]:
    """The ``ack`` of a form with one field to fix: Slack shows ``message`` under that field."""
    block = field if field in MODAL_FIELDS else "dataset"
    return {"response_action": "errors", "errors": {block: cut(message, MODAL_ERROR_LIMIT)}}
