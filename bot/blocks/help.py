"""Help and error lines. Pure."""

from __future__ import annotations

from bot.blocks.kit import Block, context, section
from bot.commands import EXAMPLES, SUBCOMMANDS


def help_blocks() -> list[Block]:
    lines = "\n".join(f"• `{usage}`\n      {EXAMPLES[name]}" for name, usage in SUBCOMMANDS.items())
    return [
        section("*tunebot* fine-tunes Llama 3.2 Vision (11B, 90B) on Amazon Bedrock."),
        section(lines),
        context("Share a dataset file (zip, jsonl, json, csv, tsv, xlsx, parquet, pdf) with me to check it."),
    ]


def usage_error_text(message: str, usage: str) -> str:
    return f"{message} Try: `{usage}`"


def error_text(message: str, hint: str | None = None) -> str:
    return f":warning: {message}" + (f" {hint}" if hint else "")
