"""slack/manifest.yml: the Slack app tunebot expects (scopes of reference/slack.md, /finetune, events)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "slack" / "manifest.yml"
ENDPOINT_PATH = "/slack/events"


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_display_information_within_slack_limits() -> None:
    info = manifest()["display_information"]
    assert info["name"] == "tunebot"
    assert 0 < len(info["description"]) <= 140
    # Slack rejects a long description shorter than 175 or longer than 4000 characters.
    assert 175 <= len(info["long_description"]) <= 4000
    assert info["background_color"].startswith("#")


def test_bot_user_and_messages_tab() -> None:
    features = manifest()["features"]
    assert features["bot_user"]["display_name"] == "tunebot"
    # message.im needs users to be able to write to the bot.
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is False


def test_finetune_command() -> None:
    commands = manifest()["features"]["slash_commands"]
    assert [command["command"] for command in commands] == ["/finetune"]
    finetune = commands[0]
    assert finetune["description"]
    for verb in ("help", "launch", "recommend", "status", "history", "cancel", "compare", "datasets"):
        assert verb in finetune["usage_hint"]
    assert urlparse(finetune["url"]).path == ENDPOINT_PATH
    assert urlparse(finetune["url"]).scheme == "https"


def test_bot_scopes() -> None:
    scopes = manifest()["oauth_config"]["scopes"]["bot"]
    assert set(scopes) == {
        "commands",
        "app_mentions:read",
        "chat:write",
        "chat:write.public",
        "files:read",
        "files:write",
        "channels:history",
        "groups:history",
        "im:history",
    }
    assert len(scopes) == len(set(scopes))


def test_events_interactivity_and_socket_mode() -> None:
    settings = manifest()["settings"]
    events = settings["event_subscriptions"]
    assert set(events["bot_events"]) == {
        "message.channels",
        "message.groups",
        "message.im",
        "app_home_opened",
        "app_mention",
    }
    assert urlparse(events["request_url"]).path == ENDPOINT_PATH
    assert settings["interactivity"]["is_enabled"] is True
    assert urlparse(settings["interactivity"]["request_url"]).path == ENDPOINT_PATH
    assert settings["socket_mode_enabled"] is True


def test_every_event_has_the_scope_it_needs() -> None:
    needs = {
        "message.channels": "channels:history",
        "message.groups": "groups:history",
        "message.im": "im:history",
        "app_mention": "app_mentions:read",
    }
    data = manifest()
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    for event in data["settings"]["event_subscriptions"]["bot_events"]:
        assert needs.get(event, "commands") in scopes, event
