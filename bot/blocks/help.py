"""Help and error lines. Pure."""

from __future__ import annotations

from bot.blocks.kit import Block, context, section
from bot.commands import EXAMPLES, SUBCOMMANDS

# What a shared file's name ends with when the bot reads it as a dataset (bot.uploads checks it).
DATASET_SUFFIXES = (".zip", ".jsonl", ".json", ".csv", ".tsv", ".xlsx", ".parquet", ".arrow", ".pdf")
DATASET_FILES = ", ".join(suffix.lstrip(".") for suffix in DATASET_SUFFIXES)
WHAT_I_DO = "I fine-tune Llama 3.2 Vision (11B, 90B) on Amazon Bedrock"


def help_blocks() -> list[Block]:
    lines = "\n".join(f"• `{usage}`\n      {EXAMPLES[name]}" for name, usage in SUBCOMMANDS.items())
    return [
        section("*tunebot* fine-tunes Llama 3.2 Vision (11B, 90B) on Amazon Bedrock."),
        section(lines),
        context(f"Share a dataset file ({DATASET_FILES}) with me to check it."),
    ]


def greeting_text() -> str:
    """The answer to a DM or an @mention that is not a file: what the bot does and what to type."""
    return (
        f":wave: I am tunebot: {WHAT_I_DO}. Share a dataset file ({DATASET_FILES}) in a channel with me "
        "and I check it and answer with launch buttons; type `/finetune help` for every command."
    )


def not_a_dataset_text(filename: str) -> str:
    return (
        f":page_facing_up: `{filename}` is not a dataset file I read. Share a {DATASET_FILES} file "
        "(images go in a .zip with their records), or type `/finetune help`."
    )


def no_download_text(filename: str) -> str:
    return error_text(
        f"Slack sent me no download link for `{filename}`, so I cannot read it.",
        "Upload the file itself into Slack (not a link to it) and share it again.",
    )


def not_here_text(allowed_channels: list[str]) -> str:
    """Why a file shared here is not checked: datasets are checked where they may be launched."""
    if not allowed_channels:
        return error_text("I check datasets in channels, not in direct messages.", "Share it in a channel.")
    where = ", ".join(f"<#{channel}>" for channel in allowed_channels)
    return error_text(f"I check and launch datasets only in {where}.", "Share the file there.")


def usage_error_text(message: str, usage: str) -> str:
    return f"{message} Try: `{usage}`"


def error_text(message: str, hint: str | None = None) -> str:
    return f":warning: {message}" + (f" {hint}" if hint else "")
