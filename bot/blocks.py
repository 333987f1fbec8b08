"""Block Kit renderers: domain values in, blocks out. Pure."""

from __future__ import annotations

from typing import Any

from bot.commands import SUBCOMMANDS

Block = dict[str, Any]


def help_blocks() -> list[Block]:
    lines = "\n".join(f"• `{usage}`" for usage in SUBCOMMANDS.values())
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*tunebot* fine-tunes Llama 3.2 Vision on Bedrock."},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": lines}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Share a dataset file (zip, jsonl, json, csv, pdf) with me to check it.",
                }
            ],
        },
    ]


def usage_error_text(message: str, usage: str) -> str:
    return f"{message} Try: `{usage}`"
