"""The launch form's submission: each refusal shown under the field it belongs to, then the cost of
exactly what was typed.

Slack wants the submission answered within 3 s, and the dispatch runs on the server's event loop (see
bot.edge), so the answer itself only holds what the grammar can say. The form then shows "checking" while
the service judges the values off the request path (the estimate refuses what the launch refuses): a
refusal re-opens the form with the typed values and the message under its field; valid values get the
confirmation card with the estimate in the channel, and the form says where it is.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import blocks, commands
from bot.flows.launch import LaunchFlows
from services.client import ServiceError

log = logging.getLogger(__name__)

# The service's field names, as the form's blocks call them.
SERVICE_FIELDS = {
    "dataset_id": "dataset",
    "models": "model",
    "epochs": "epochs",
    "learning_rate": "lr",
    "name": "name",
}
MODAL_MESSAGES = {
    "dataset_not_found": "No dataset has the id `{}`: `/finetune datasets` lists yours.",
    "dataset_not_ready": "Dataset `{}` is not ready to train: its report says what to fix.",
}


def typed_values(view: Mapping[str, Any]) -> dict[str, str]:
    """What the form's fields hold, by block id."""
    state = view["state"]["values"]
    values: dict[str, str] = {}
    for name in (*blocks.MODAL_FIELDS, "channel"):
        entry = state.get(name, {}).get(name, {})
        chosen = (entry.get("selected_option") or {}).get("value") or entry.get("selected_conversation")
        values[name] = str(entry.get("value") or chosen or "").strip()
    return values


class ModalFlows(LaunchFlows):
    def modal_command(self, view: Mapping[str, Any], user: str) -> commands.Command:
        """The form's fields as the command a user would have typed, parsed by the same grammar."""
        values = typed_values(view)
        words = ["launch", shlex.quote(values["dataset"] or "?")]
        words += [
            f"{key}={shlex.quote(values[key])}"
            for key in ("model", "epochs", "lr", "eval", "name")
            if values[key]
        ]
        return commands.parse(" ".join(words), user)

    def modal_errors(self, view: Mapping[str, Any], user: str) -> dict[str, Any]:
        """``ack`` arguments: the field the grammar refuses and why, else "checking" while the service
        judges the values (``modal_submitted``)."""
        parsed = self.modal_command(view, user)
        if isinstance(parsed, commands.UsageError):
            return blocks.modal_error(parsed.field or "dataset", parsed.message)
        return {"response_action": "update", "view": blocks.checking_view()}

    def modal_submitted(self, view: Mapping[str, Any], user: str) -> None:
        parsed = self.modal_command(view, user)
        if not isinstance(parsed, commands.Launch):
            return
        metadata = view.get("private_metadata") or "{}"
        # A form opened in a channel knows it; one opened from App Home asked for it.
        channel = json.loads(metadata).get("channel") or typed_values(view)["channel"]
        problem = self._refusal(parsed)
        if problem is not None:
            form = blocks.launch_modal(None, None, metadata, typed=typed_values(view), problem=problem)
            self._show(view, form)
            return
        reply = self.launch(parsed, user, channel, f"view:{view.get('id', '')}")
        said = reply.text if reply is not None else None
        if reply is not None:
            try:
                self.slack.chat_postEphemeral(
                    channel=channel, user=user, text=reply.text, blocks=reply.blocks
                )
            except SlackApiError as error:
                log.info("confirmation card not posted", extra={"error": error.response.get("error")})
                said = blocks.error_text(
                    f"I cannot post in <#{channel}>.", "Invite me there (`/invite @tunebot`) and try again."
                )
        self._show(view, blocks.reviewed_view(channel, said))

    def _refusal(self, parsed: commands.Launch) -> tuple[str, str] | None:
        """(field, message) when the service would refuse to launch these values, else None."""
        if parsed.dataset is None or parsed.dataset == "last" or parsed.dataset.startswith("s3://"):
            return None  # resolved (or checked first) by the launch itself, which says what is wrong
        try:
            self.service.estimate_launch(
                dataset_id=parsed.dataset,
                models=list(parsed.models),
                epochs=parsed.epochs,
                learning_rate=parsed.learning_rate,
                evaluate=parsed.evaluate,
            )
        except ServiceError as error:
            if error.code == "service_unreachable":
                return None  # the launch meets the same and its reply says so
            field = SERVICE_FIELDS.get(error.field or "", "dataset")
            return field, MODAL_MESSAGES.get(error.code, error.message).format(parsed.dataset)
        return None

    def _show(self, view: Mapping[str, Any], form: dict[str, Any]) -> None:
        try:
            self.slack.views_update(view_id=view["id"], view=form)
        except SlackApiError as error:  # the user closed the form meanwhile
            log.info("form not updated", extra={"error": error.response.get("error")})
