"""Shared dataset files: the safe download recipe, and the upload flow from a file_share event."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from bot.reply_to import ReplyTo, decode
from bot.uploads import DownloadError, download, is_slack_host, may_fetch
from services.api.schemas import DatasetStatus
from tests.bot.conftest import BOT_TOKEN, Bot, wait_for
from tests.slack_stub import SlackStub

MB = 1_000_000


def fetch(stub: SlackStub, url: str, tmp_path: Path, token: str = BOT_TOKEN, limit: int = MB) -> bytes:
    target = tmp_path / "file"
    # The stand-in's own origin is trusted as the configured Web API's is (TUNEBOT_SLACK_API_URL).
    download(url, token, target, limit, trusted_origins=(stub.api_url,))
    return target.read_bytes()


class HeaderRecorder:
    """A loopback HTTP server that keeps every request's headers: a host that is not Slack."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.requests.append(dict(self.headers.items()))
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"data")

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/files/data.zip"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere() -> Iterator[HeaderRecorder]:
    recorder = HeaderRecorder()
    yield recorder
    recorder.close()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/download/data.zip", True),
        ("https://files.slack.com:443/files-pri/T1-F1/data.zip", True),
        ("https://slack.com/x", True),
        ("http://files.slack.com/files-pri/T1-F1/data.zip", False),  # the token would travel in clear
        ("https://files.slack.com:8443/data.zip", False),  # Slack serves files on 443 only
        ("https://files.slack.com.evil.io/data.zip", False),
        ("https://evil-slack.com/data.zip", False),
        ("https://user:pw@files.slack.com/data.zip", False),
        ("ftp://files.slack.com/data.zip", False),
        ("https://files.slack.com:99999/data.zip", False),
        ("files.slack.com/data.zip", False),
    ],
)
def test_the_token_goes_over_https_to_slack_file_hosts_only(url: str, allowed: bool) -> None:
    assert may_fetch(url) is allowed
    assert not is_slack_host("slack.com.evil.io") and is_slack_host("files.slack.com")


def test_only_the_configured_origin_is_trusted_besides_slack() -> None:
    trusted = ("http://127.0.0.1:8123/api/",)
    assert may_fetch("http://127.0.0.1:8123/files/a.zip", trusted)
    assert not may_fetch("http://127.0.0.1:8124/files/a.zip", trusted)  # the same host, another port
    assert not may_fetch("https://127.0.0.1:8123/files/a.zip", trusted)  # another scheme
    assert not may_fetch("http://localhost:8123/files/a.zip", trusted)  # another host name


def test_an_http_or_other_port_slack_url_is_refused_before_any_request(tmp_path: Path) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"data")

    with httpx.Client(transport=httpx.MockTransport(record)) as client:
        for url in ("http://files.slack.com/data.zip", "https://files.slack.com:8443/data.zip"):
            with pytest.raises(DownloadError, match="does not point to Slack's file servers over https"):
                download(url, BOT_TOKEN, tmp_path / "file", MB, http=client)
    assert sent == []


def test_a_download_sends_the_token_to_slack(slack_stub: SlackStub, tmp_path: Path) -> None:
    url = slack_stub.add_file("data.jsonl", b'{"a": 1}\n')

    assert fetch(slack_stub, url, tmp_path) == b'{"a": 1}\n'
    assert slack_stub.calls_to("GET files")[0].authorization == f"Bearer {BOT_TOKEN}"


def test_a_link_elsewhere_is_never_fetched_and_gets_no_token(
    slack_stub: SlackStub, tmp_path: Path, elsewhere: HeaderRecorder
) -> None:
    # Real httpx against a loopback server that records headers: neither the link itself nor a redirect
    # from Slack's side to it reaches it (the same host as the trusted stand-in, another port).
    redirect = f"{slack_stub.base_url}/redirect?to={quote(elsewhere.url)}"
    other_host = f"{slack_stub.base_url}/redirect?to={quote(slack_stub.other_host_url + '/public/x.zip')}"
    slack_stub.add_file("x.zip", b"PK")

    for url in (elsewhere.url, redirect, other_host):
        with pytest.raises(DownloadError, match="does not point to Slack's file servers"):
            fetch(slack_stub, url, tmp_path)

    assert elsewhere.requests == []
    assert slack_stub.calls_to("GET public") == []


def test_an_html_login_page_is_refused(slack_stub: SlackStub, tmp_path: Path) -> None:
    url = slack_stub.add_file("data.csv", b"image,question,answer\n")

    with pytest.raises(DownloadError, match=r"login page.*files:read"):
        fetch(slack_stub, url, tmp_path, token="xoxb-wrong")


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
    assert dataset.name == "sums.jsonl" and decode(dataset.reply_to) == ReplyTo("C1", "1700000100.000100")
    wait_for(lambda: bot.service.get_dataset(dataset.id).status != DatasetStatus.CHECKING, 30)
    assert bot.delivery().run_once() >= 1
    report = [c.params for c in bot.stub.calls_to("chat.postMessage") if c.params.get("blocks")][-1]
    text = json.dumps(report["blocks"])
    assert report["thread_ts"] == "1700000100.000100"
    assert "ready to train" in text, text
    assert "Launch both and compare" in text
