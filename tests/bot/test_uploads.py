"""Shared dataset files: the safe download recipe, and the upload flow from a file_share event."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.uploads import DownloadError, download, is_slack_host
from tests.bot.conftest import BOT_TOKEN, Bot, wait_for
from tests.slack_stub import SlackStub

MB = 1_000_000


def fetch(stub: SlackStub, url: str, tmp_path: Path, token: str = BOT_TOKEN, limit: int = MB) -> bytes:
    target = tmp_path / "file"
    download(url, token, target, limit, trusted_hosts=("127.0.0.1",))
    return target.read_bytes()


def test_the_token_goes_to_slack_hosts_only() -> None:
    assert is_slack_host("files.slack.com")
    assert is_slack_host("slack.com")
    assert not is_slack_host("evil-slack.com")
    assert not is_slack_host("slack.com.evil.io")


def test_a_download_sends_the_token_to_slack(slack_stub: SlackStub, tmp_path: Path) -> None:
    url = slack_stub.add_file("data.jsonl", b'{"a": 1}\n')

    assert fetch(slack_stub, url, tmp_path) == b'{"a": 1}\n'
    assert slack_stub.calls_to("GET files")[0].authorization == f"Bearer {BOT_TOKEN}"


def test_a_cross_host_redirect_is_followed_without_the_token(slack_stub: SlackStub, tmp_path: Path) -> None:
    slack_stub.add_file("data.zip", b"PK-zip-bytes")
    elsewhere = f"{slack_stub.other_host_url}/public/data.zip"

    content = fetch(slack_stub, f"{slack_stub.base_url}/redirect?to={quote(elsewhere)}", tmp_path)

    assert content == b"PK-zip-bytes"
    hop = slack_stub.calls_to("GET public")[0]
    assert hop.host.startswith("localhost") and hop.authorization is None


def test_an_html_login_page_is_refused(slack_stub: SlackStub, tmp_path: Path) -> None:
    url = slack_stub.add_file("data.csv", b"image,question,answer\n")
    behind_redirect = (
        f"{slack_stub.base_url}/redirect?to={quote(slack_stub.other_host_url + '/files/data.csv')}"
    )

    with pytest.raises(DownloadError, match=r"login page.*files:read"):
        fetch(slack_stub, url, tmp_path, token="xoxb-wrong")
    with pytest.raises(DownloadError, match="login page"):
        fetch(slack_stub, behind_redirect, tmp_path)


def test_too_large_and_too_many_hops_are_refused(slack_stub: SlackStub, tmp_path: Path) -> None:
    url = slack_stub.add_file("big.zip", b"x" * 2048)
    loop = f"{slack_stub.base_url}/redirect"

    with pytest.raises(DownloadError, match="TUNEBOT_MAX_UPLOAD_MB"):
        fetch(slack_stub, url, tmp_path, limit=1024)
    with pytest.raises(DownloadError, match="redirected more than 3 times"):
        fetch(slack_stub, loop, tmp_path)


def share(bot: Bot, name: str, url: str, size: int, event_id: str = "Ev1", **headers: str) -> None:
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel": "C1",
        "user": "U1",
        "ts": "1700000100.000100",
        "files": [{"id": "F1", "name": name, "size": size, "url_private_download": url}],
    }
    assert bot.event(event, event_id, **headers).status_code == 200


def test_a_retried_share_is_checked_once_and_a_login_page_is_explained(bot: Bot) -> None:
    bot.stub.file_token = "xoxb-some-other-token"  # the bot's token is refused, as without files:read
    url = bot.stub.add_file("charts.jsonl", b"{}\n")

    share(bot, "charts.jsonl", url, 3)
    share(bot, "charts.jsonl", url, 3, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})

    posts = wait_for(
        lambda: len(bot.stub.calls_to("chat.postMessage")) >= 2 and bot.stub.calls_to("chat.postMessage")
    )
    assert "Checking `charts.jsonl`" in posts[0].params["text"]
    assert posts[0].params["thread_ts"] == "1700000100.000100"
    assert "login page" in posts[1].params["text"] and "files:read" in posts[1].params["text"]
    assert len(bot.stub.calls_to("GET files")) == 1


def test_a_file_over_the_limit_is_refused_before_downloading(bot: Bot) -> None:
    url = bot.stub.add_file("huge.zip", b"x")

    share(bot, "huge.zip", url, 600 * MB)

    posts = wait_for(
        lambda: len(bot.stub.calls_to("chat.postMessage")) >= 2 and bot.stub.calls_to("chat.postMessage")
    )
    assert "over 500 MB" in posts[1].params["text"] and "s3://" in posts[1].params["text"]
    assert bot.stub.calls_to("GET files") == []


def test_an_upload_is_checked_and_its_report_comes_back_in_the_thread_with_launch_buttons(bot: Bot) -> None:
    lines = [
        json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "Answer with the number only."}],
                "messages": [
                    {"role": "user", "content": [{"text": f"What is {i} + 1?"}]},
                    {"role": "assistant", "content": [{"text": str(i + 1)}]},
                ],
            }
        )
        for i in range(150)
    ]
    content = ("\n".join(lines) + "\n").encode()
    url = bot.stub.add_file("sums.jsonl", content)

    share(bot, "sums.jsonl", url, len(content))

    dataset = wait_for(lambda: bot.service.list_datasets(created_by="U1"), 10)[0]
    assert dataset["name"] == "sums.jsonl" and dataset["slack_thread_ts"] == "1700000100.000100"
    wait_for(lambda: bot.service.get_dataset(dataset["id"])["status"] != "checking", 30)
    assert bot.delivery().run_once() >= 1
    report = [c.params for c in bot.stub.calls_to("chat.postMessage") if c.params.get("blocks")][-1]
    text = json.dumps(report["blocks"])
    assert report["thread_ts"] == "1700000100.000100"
    assert "ready to train" in text, text
    assert "Launch both and compare" in text
