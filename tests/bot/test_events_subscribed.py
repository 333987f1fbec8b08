"""slack/manifest.yml subscribes to exactly the events the bot has listeners for.

An event with no listener is answered 404 by Bolt and retried by Slack; a listener for an event the
manifest never subscribes to is dead code that looks like a feature (reference/slack.md). Each event
type Slack could send is posted, signed, to the running bot: the ones answered 200 are the ones with a
listener, and they must be the manifest's.
"""

from __future__ import annotations

from typing import Any

from tests.bot.conftest import Bot
from tests.deploy.test_slack_manifest import manifest

# Slack's bot events a tunebot could plausibly listen to (https://api.slack.com/events), one sample each.
CANDIDATES: dict[str, dict[str, Any]] = {
    "app_home_opened": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "about"},
    "app_mention": {"type": "app_mention", "user": "U1", "channel": "C1", "ts": "1.1", "text": "<@UBOT>"},
    "message.channels": {"type": "message", "channel_type": "channel", "channel": "C1", "subtype": "x"},
    "message.groups": {"type": "message", "channel_type": "group", "channel": "G1", "subtype": "x"},
    "message.im": {"type": "message", "channel_type": "im", "channel": "D1", "subtype": "x"},
    "file_shared": {"type": "file_shared", "file_id": "F1", "user_id": "U1", "channel_id": "C1"},
    "file_created": {"type": "file_created", "file_id": "F1", "user_id": "U1"},
    "member_joined_channel": {"type": "member_joined_channel", "user": "U1", "channel": "C1"},
    "reaction_added": {"type": "reaction_added", "user": "U1", "reaction": "eyes", "item": {}},
    "app_uninstalled": {"type": "app_uninstalled"},
}


def test_the_manifest_subscribes_to_exactly_the_events_with_listeners(bot: Bot) -> None:
    answered = {name: bot.event(event, f"Ev-{name}").status_code for name, event in CANDIDATES.items()}
    subscribed = set(manifest()["settings"]["event_subscriptions"]["bot_events"])

    assert set(answered.values()) <= {200, 404}, answered
    assert subscribed <= set(CANDIDATES), "add the new subscription to CANDIDATES"
    assert {name for name, status in answered.items() if status == 200} == subscribed
