"""TUNEBOT_ALLOW_DMS=true lets launches happen in a DM with the bot even with an allow-list set."""

from __future__ import annotations

import pytest

from bot import blocks
from tests.bot.conftest import Bot


@pytest.fixture
def extra_env() -> dict[str, str]:
    return {"TUNEBOT_ALLOWED_CHANNELS": "CLAUNCH", "TUNEBOT_ALLOW_DMS": "true"}


def test_an_operator_may_allow_launches_in_dms(bot: Bot) -> None:
    dataset_id = bot.dataset()

    bot.click(blocks.report_launch_id("11b"), f"{dataset_id}:11b", channel="D0DIRECT")

    assert ":rocket: Launched" in bot.last_response()["text"]
    assert [job.model for job in bot.service.list_jobs().jobs] == ["11b"]
    bot.click(blocks.report_launch_id("11b"), f"{dataset_id}:11b", channel="COTHER", message_ts="2.2")
    assert "Launches happen only in <#CLAUNCH>" in bot.last_response(2)["text"]
