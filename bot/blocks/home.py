"""App Home: the user's recent jobs and what runs for the team. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.jobs import job_line
from bot.blocks.kit import Block, sandbox_note, section
from services.api.schemas import JobOut


def home_view(mine: Sequence[JobOut], running: Sequence[JobOut]) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "tunebot"}}]
    blocks.append(section("*Your recent jobs*"))
    blocks.append(
        section("\n".join(job_line(job) for job in mine) or "None yet: `/finetune help` shows how.")
    )
    blocks.append({"type": "divider"})
    blocks.append(section("*Running for the team*"))
    blocks.append(section("\n".join(job_line(job) for job in running) or "Nothing is running."))
    blocks += sandbox_note(*mine, *running)
    return {"type": "home", "blocks": blocks[:100]}
