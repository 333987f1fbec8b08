"""The Slack stand-in refuses what Slack refuses, the way Slack answers, so a green bot suite means Slack
would have taken every message. Each rule cites Slack's reference (see tests/slack_blockkit.py and
tests/slack_stub.py for the full list of sources)."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.clock import FrozenClock
from tests.slack_blockkit import pointer_targets
from tests.slack_stub import SlackStub

TEXT = {"type": "mrkdwn", "text": "hi"}


def button(action_id: str, text: str = "Go") -> dict[str, object]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": "v",
    }


def client(stub: SlackStub) -> WebClient:
    """A real WebClient without retry handlers, so a 429 reaches the test."""
    web = WebClient(token="xoxb-test-token", base_url=stub.api_url)
    web.retry_handlers.clear()
    return web


def refusal(stub: SlackStub, method: str, **params: object) -> dict[str, object]:
    with pytest.raises(SlackApiError) as raised:
        getattr(client(stub), method)(**params)
    stub.expect_refusal(str(raised.value.response["error"]))
    return dict(raised.value.response.data)  # type: ignore[arg-type]


def test_two_buttons_with_one_action_id_are_refused_as_slack_does(slack_stub: SlackStub) -> None:
    # reference/slack.md: Slack answers invalid_blocks, "`action_id` \"x\" already exists [json-pointer:...]"
    answer = refusal(
        slack_stub,
        "chat_postMessage",
        channel="C1",
        text="report",
        blocks=[{"type": "actions", "elements": [button("launch"), button("launch")]}],
    )

    assert answer["ok"] is False and answer["error"] == "invalid_blocks"
    assert answer["errors"] == [
        '`action_id` "launch" already exists [json-pointer:/blocks/0/elements/1/action_id]'
    ]
    assert slack_stub.channel_messages("C1") == []


def test_one_action_id_in_two_blocks_is_fine_but_a_repeated_block_id_is_not(slack_stub: SlackStub) -> None:
    # https://docs.slack.dev/reference/block-kit/blocks: block_id unique within a message
    client(slack_stub).chat_postMessage(
        channel="C1",
        text="two rows",
        blocks=[
            {"type": "actions", "elements": [button("go")]},
            {"type": "actions", "elements": [button("go")]},
        ],
    )
    answer = refusal(
        slack_stub,
        "chat_postMessage",
        channel="C1",
        text="x",
        blocks=[{"type": "section", "block_id": "a", "text": TEXT}, {"type": "divider", "block_id": "a"}],
    )

    assert pointer_targets(answer["errors"]) == ["/blocks/1/block_id"]  # type: ignore[arg-type]
    assert len(slack_stub.channel_messages("C1")) == 1


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        # 50 blocks a message: https://docs.slack.dev/reference/block-kit/blocks
        ([{"type": "divider"}] * 51, "/blocks"),
        # section text up to 3,000: https://docs.slack.dev/reference/block-kit/blocks/section-block
        ([{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3_001}}], "/blocks/0/text/text"),
        ([{"type": "section", "fields": [TEXT] * 11}], "/blocks/0/fields"),
        # actions up to 25 elements: https://docs.slack.dev/reference/block-kit/blocks/actions-block
        ([{"type": "actions", "elements": [button(f"b{i}") for i in range(26)]}], "/blocks/0/elements"),
        # context up to 10 elements: https://docs.slack.dev/reference/block-kit/blocks/context-block
        ([{"type": "context", "elements": [TEXT] * 11}], "/blocks/0/elements"),
        # button text 75: https://docs.slack.dev/reference/block-kit/block-elements/button-element
        ([{"type": "actions", "elements": [button("b", "x" * 76)]}], "/blocks/0/elements/0/text/text"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}], "/blocks/0/text/text"),
        ([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}], "/blocks/0/text/text"),
        # Slack's schemas are closed: a field it does not define is refused
        ([{"type": "section", "text": TEXT, "colour": "red"}], "/blocks/0/colour"),
        ([{"type": "input", "label": {"type": "plain_text", "text": "x"}}], "/blocks/0/type"),
    ],
)
def test_slack_limits_and_unknown_fields_are_refused_naming_the_field(
    slack_stub: SlackStub, blocks: list[object], pointer: str
) -> None:
    answer = refusal(slack_stub, "chat_postMessage", channel="C1", text="x", blocks=blocks)

    assert answer["error"] == "invalid_blocks"
    assert pointer in pointer_targets(answer["errors"])  # type: ignore[arg-type]
    assert str(answer["response_metadata"]["messages"][0]).startswith("[ERROR] ")  # type: ignore[index]


def test_a_message_without_text_or_blocks_is_no_text(slack_stub: SlackStub) -> None:
    # https://docs.slack.dev/reference/methods/chat.postMessage (no_text)
    assert refusal(slack_stub, "chat_postMessage", channel="C1", text="")["error"] == "no_text"


def test_modal_titles_and_button_labels_over_24_characters_are_refused(slack_stub: SlackStub) -> None:
    # https://docs.slack.dev/reference/views/modal-views: title, submit and close up to 24 characters
    view = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Launch fine-tuning of Llama"},
        "submit": {"type": "plain_text", "text": "Review the cost of this launch"},
        "blocks": [{"type": "section", "text": TEXT}],
    }

    answer = refusal(slack_stub, "views_open", trigger_id=slack_stub.issue_trigger(), view=view)

    assert answer["error"] == "invalid_arguments"
    assert pointer_targets(answer["errors"]) == ["/view/title/text", "/view/submit/text"]  # type: ignore[arg-type]


def test_a_trigger_expires_after_3_seconds_and_is_good_for_one_view(slack_stub: SlackStub) -> None:
    # https://api.slack.com/docs/triggers: "Triggers expire in three seconds", "used only once"
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    fresh = slack_stub.issue_trigger()

    client(slack_stub).views_open(trigger_id=fresh, view=view)

    assert refusal(slack_stub, "views_open", trigger_id=fresh, view=view)["error"] == "exchanged_trigger_id"
    stale = slack_stub.issue_trigger(age=3.5)
    assert refusal(slack_stub, "views_open", trigger_id=stale, view=view)["error"] == "expired_trigger_id"
    assert refusal(slack_stub, "views_open", trigger_id="made-up", view=view)["error"] == "invalid_trigger_id"


def test_posts_to_one_channel_are_limited_to_about_one_a_second_with_short_bursts(
    slack_stub: SlackStub,
) -> None:
    # https://docs.slack.dev/apis/web-api/rate-limits: chat.postMessage "one message per second per
    # channel", short bursts allowed; a 429 carries Retry-After
    clock = slack_stub.clock = FrozenClock(1000.0)
    web = client(slack_stub)
    for n in range(slack_stub.post_burst):
        web.chat_postMessage(channel="C1", text=f"burst {n}")

    with pytest.raises(SlackApiError) as raised:
        web.chat_postMessage(channel="C1", text="one too many")
    web.chat_postMessage(channel="C2", text="another channel has its own allowance")
    clock.now += 1.0
    web.chat_postMessage(channel="C1", text="a second later")

    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert raised.value.response.headers["Retry-After"] in ("1", ["1"])
    assert [m.text for m in slack_stub.channel_messages("C1")][-1] == "a second later"


def test_chat_update_is_tier_3(slack_stub: SlackStub) -> None:
    # https://docs.slack.dev/reference/methods/chat.update: Tier 3, 50+ per minute
    clock = slack_stub.clock = FrozenClock(1000.0)
    web = client(slack_stub)
    ts = web.chat_postMessage(channel="C1", text="card")["ts"]
    for n in range(50):
        web.chat_update(channel="C1", ts=ts, text=f"v{n}")

    with pytest.raises(SlackApiError) as raised:
        web.chat_update(channel="C1", ts=ts, text="v50")

    assert raised.value.response.status_code == 429 and int(raised.value.response.headers["Retry-After"]) >= 1
    clock.now += 60
    assert refusal(slack_stub, "chat_update", channel="C1", ts="1.000001", text="x")["error"] == (
        "message_not_found"
    )


def test_a_response_url_works_5_times_in_30_minutes_and_replacing_a_channel_message_rewrites_it_for_all(
    slack_stub: SlackStub,
) -> None:
    # https://docs.slack.dev/interactivity/handling-user-interaction: up to 5 times within 30 minutes;
    # replace_original replaces the message the interaction came from
    report = client(slack_stub).chat_postMessage(channel="C1", text="the report")["ts"]
    url = slack_stub.response_url("C1", "U1", message_ts=report)

    answers = [httpx.post(url, json={"text": f"reply {n}"}) for n in range(5)]
    sixth = httpx.post(url, json={"text": "reply 6"})
    rewriting = slack_stub.response_url("C1", "U2", message_ts=report)
    httpx.post(rewriting, json={"text": "U2 launched it", "replace_original": True})
    old = slack_stub.response_url("C1", "U1", age=31 * 60)
    expired = httpx.post(old, json={"text": "late"})
    slack_stub.expect_refusal("used_url")
    slack_stub.expect_refusal("expired_url")

    assert [a.json()["ok"] for a in answers] == [True] * 5
    assert sixth.json()["error"] == "used_url" and expired.json()["error"] == "expired_url"
    replies = [m for m in slack_stub.messages.values() if m.user == "U1"]
    assert len(replies) == 5  # ephemeral: only the clicker sees them
    assert [m.text for m in slack_stub.channel_messages("C1")] == ["U2 launched it"]
    assert slack_stub.rewrites == [("C1", report, "replaced")]


def test_thread_replies_show_their_metadata_only_when_asked(slack_stub: SlackStub) -> None:
    # https://docs.slack.dev/messaging/message-metadata: include_all_metadata on conversations.replies
    slack_stub.post_burst = 10  # this test is not about the per-channel limit
    web = client(slack_stub)
    parent = web.chat_postMessage(channel="C1", text="card")["ts"]
    web.chat_postMessage(
        channel="C1",
        thread_ts=parent,
        text="started",
        metadata={"event_type": "tunebot_event", "event_payload": {"event_id": "e1"}},
    )

    plain = web.conversations_replies(channel="C1", ts=parent)["messages"]
    full = web.conversations_replies(channel="C1", ts=parent, include_all_metadata=True)["messages"]

    assert "metadata" not in plain[1]
    assert full[1]["metadata"]["event_payload"] == {"event_id": "e1"}
    bad = {"event_type": "x"}
    assert refusal(slack_stub, "chat_postMessage", channel="C1", text="x", metadata=bad)["error"] == (
        "invalid_metadata_format"
    )


def test_metadata_comes_back_only_with_include_all_metadata_and_threads_page_by_cursor(
    slack_stub: SlackStub,
) -> None:
    # https://docs.slack.dev/messaging/message-metadata: metadata is {event_type, event_payload}, returned
    # by conversations.replies/history with include_all_metadata; replies are cursor-paginated with
    # response_metadata.next_cursor (https://docs.slack.dev/reference/methods/conversations.replies).
    slack_stub.post_burst = 10  # this test is not about the per-channel limit
    web = client(slack_stub)
    parent = web.chat_postMessage(channel="C1", text="card")["ts"]
    for number in range(5):
        web.chat_postMessage(
            channel="C1",
            thread_ts=parent,
            text=f"step {number}",
            metadata={"event_type": "tunebot_event", "event_payload": {"event_id": number}},
        )

    plain = web.conversations_replies(channel="C1", ts=parent)
    assert [m.get("metadata") for m in plain["messages"]] == [None] * 6

    seen: list[object] = []
    cursor = None
    pages = 0
    while True:
        page = web.conversations_replies(
            channel="C1",
            ts=parent,
            include_all_metadata=True,
            limit=2,
            **({"cursor": cursor} if cursor else {}),
        )
        pages += 1
        seen += [(m.get("metadata") or {}).get("event_payload", {}).get("event_id") for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and seen == [None, 0, 1, 2, 3, 4]


def test_replies_of_a_message_that_is_not_there_are_thread_not_found(slack_stub: SlackStub) -> None:
    answer = refusal(slack_stub, "conversations_replies", channel="C1", ts="1700000000.999999")
    assert answer["error"] == "thread_not_found"


def test_malformed_metadata_is_refused(slack_stub: SlackStub) -> None:
    answer = refusal(
        slack_stub, "chat_postMessage", channel="C1", text="x", metadata={"event_payload": {"event_id": 1}}
    )
    assert answer["error"] == "invalid_metadata_format"


def test_a_permalink_opens_a_threaded_reply_in_its_thread_and_an_unknown_ts_is_refused(
    slack_stub: SlackStub,
) -> None:
    # https://api.slack.com/methods/chat.getPermalink: {"ok", "channel", "permalink"}; "When the provided
    # message_ts is part of a thread, the permalink format changes" (?thread_ts=<parent>&cid=<channel>).
    web = client(slack_stub)
    parent = web.chat_postMessage(channel="C1", text="parent")["ts"]
    reply = web.chat_postMessage(channel="C1", text="reply", thread_ts=parent)["ts"]

    top = web.chat_getPermalink(channel="C1", message_ts=parent)
    inner = web.chat_getPermalink(channel="C1", message_ts=reply)

    assert top["channel"] == "C1"
    assert top["permalink"] == f"https://acme.slack.com/archives/C1/p{parent.replace('.', '')}"
    assert inner["permalink"] == (
        f"https://acme.slack.com/archives/C1/p{reply.replace('.', '')}?thread_ts={parent}&cid=C1"
    )
    assert (
        refusal(slack_stub, "chat_getPermalink", channel="C1", message_ts="1.2")["error"]
        == "message_not_found"
    )
