"""The launch form (a modal): its loading view and its fields. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.kit import Block, cut, section
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


def launch_modal(dataset_id: str | None, advice: Recommendation | None, metadata: str) -> dict[str, Any]:
    """The launch form, prefilled with the caller's last dataset and its recommendation (when known)."""
    reasons = " ".join(advice.reasons) if advice else ""
    return {
        "type": "modal",
        "callback_id": LAUNCH_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Launch fine-tuning"},
        "submit": {"type": "plain_text", "text": "Review cost"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("dataset", "Dataset (id or s3:// URI)", _text_input(dataset_id)),
            _input(
                "model",
                "Model",
                _select([("11b", "11B"), ("90b", "90B"), ("both", "Both, and compare")], "11b"),
            ),
            _input(
                "epochs", "Epochs (1-10)", _text_input(str(advice.epochs) if advice else None), True, reasons
            ),
            _input("lr", "Learning rate", _text_input(f"{advice.learning_rate:g}" if advice else None), True),
            _input("eval", "Evaluate with SQuAD F1", _select([("on", "On"), ("off", "Off")], "on")),
            _input("name", "Name", _text_input(None), True),
        ],
    }
