"""Listeners: ack at once, validate, delegate, reply. Nothing slow runs here."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, Respond

from bot import blocks, commands


def finetune_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    parsed = commands.parse(command.get("text", ""))
    if isinstance(parsed, commands.Help):
        ack(response_type="ephemeral", blocks=blocks.help_blocks(), text="tunebot help")
    elif isinstance(parsed, commands.UsageError):
        ack(response_type="ephemeral", text=blocks.usage_error_text(parsed.message, parsed.usage))
    else:
        ack(
            response_type="ephemeral",
            text=f"`/finetune {parsed.name}` is not available in this build yet. Try `/finetune help`.",
        )


def ignore_event(ack: Ack) -> None:
    ack()
