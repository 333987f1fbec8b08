"""Shared dataset files: the safe download recipe, and the worker that turns a share into a checked dataset.

The recipe (reference/slack.md): no automatic redirects and at most 3 hops; every hop, the first included,
must be https on port 443 to one of Slack's own hosts (or exactly the configured Web API's origin, which a
test points at its stand-in), so the bot token is sent nowhere else and never in clear; an HTML body is
Slack's login page, not the file; the size is checked before and while reading; the body is streamed to
disk.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, policy, reply_to
from bot.delivery.pacing import Pacer
from bot.flows import Flows, SeenIds
from bot.progress import CheckProgress
from services.client import ServiceError

log = logging.getLogger(__name__)

SLACK_HOSTS = ("slack.com", "slack-edge.com", "slack-files.com")
DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_HOPS = 3
CHUNK = 1 << 16


class DownloadError(Exception):
    """The file could not be fetched safely; the message says what the user or admin can do."""


NOT_FROM_SLACK = (
    "its link does not point to Slack's file servers over https, so I did not send my token there; "
    "upload the file into Slack itself and share it again"
)


def is_slack_host(host: str) -> bool:
    host = host.lower()
    return any(host == known or host.endswith("." + known) for known in SLACK_HOSTS)


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of ``url`` (the port spelled out), or None when it has none or credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    return f"{scheme}://{host}:{port or DEFAULT_PORTS[scheme]}"


def may_fetch(url: str, trusted_origins: Iterable[str] = ()) -> bool:
    """Whether the token may go to ``url``: https on 443 to a Slack host, or exactly a trusted origin."""
    origin = origin_of(url)
    if origin is None:
        return False
    if origin in {origin_of(trusted) for trusted in trusted_origins}:
        return True
    scheme, _, rest = origin.partition("://")
    host, _, port = rest.rpartition(":")
    return scheme == "https" and port == "443" and is_slack_host(host)


def download(
    url: str,
    token: str,
    destination: Path,
    max_bytes: int,
    *,
    trusted_origins: Iterable[str] = (),
    http: httpx.Client | None = None,
) -> int:
    """Fetch ``url`` into ``destination``; return the byte count. Raises ``DownloadError``."""
    trusted = tuple(trusted_origins)
    client = http or httpx.Client(timeout=httpx.Timeout(30.0, read=120.0))
    try:
        for _hop in range(MAX_HOPS + 1):
            if not may_fetch(url, trusted):
                raise DownloadError(NOT_FROM_SLACK)
            headers = {"Authorization": f"Bearer {token}"}
            with client.stream("GET", url, headers=headers, follow_redirects=False) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                return _save(response, destination, max_bytes)
        raise DownloadError(f"the download redirected more than {MAX_HOPS} times; share the file again")
    except httpx.HTTPError as error:
        raise DownloadError(f"the download failed ({type(error).__name__}); share the file again") from None
    finally:
        if http is None:
            client.close()


def _save(response: httpx.Response, destination: Path, max_bytes: int) -> int:
    if response.status_code != 200:
        raise DownloadError(f"Slack answered HTTP {response.status_code} for the file; share it again")
    if "text/html" in response.headers.get("content-type", ""):
        raise DownloadError(
            "Slack sent a login page instead of the file: the bot needs the files:read scope "
            "(reinstall the app)"
        )
    declared = int(response.headers.get("content-length") or 0)
    if declared > max_bytes:
        raise DownloadError(_too_big(declared, max_bytes))
    written = 0
    with destination.open("wb") as sink:
        for chunk in response.iter_bytes(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise DownloadError(_too_big(written, max_bytes))
            sink.write(chunk)
    return written


def _too_big(size: int, limit: int) -> str:
    return (
        f"the file is over {limit / 1e6:,.0f} MB (TUNEBOT_MAX_UPLOAD_MB): split it, or put it in S3 and "
        "run `/finetune launch s3://bucket/prefix`"
    )


class UploadWorker:
    """Runs a share's slow steps off Bolt's threads: say "checking…", download, hand to the service, and
    keep the "checking…" message up to date while the service checks (bot.progress)."""

    def __init__(
        self,
        flows: Flows,
        slack: WebClient,
        token: str,
        *,
        workers: int = 2,
        updates: Pacer | None = None,  # the workspace's chat.update budget (bot.delivery.pacing)
    ) -> None:
        self.flows = flows
        self.slack = slack
        self._token = token
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-upload")
        self._seen_files = SeenIds()
        self.progress = CheckProgress(
            flows.service, slack, every=flows.settings.slack_progress_seconds, updates=updates
        )
        # The configured Web API's own origin (Slack's by default; a stand-in's in tests) is trusted too.
        self.trusted_origins = (flows.settings.slack_api_url,)

    def submit(self, event: dict[str, Any]) -> None:
        """Every file of a share gets an answer: checked, or told why not (never silence)."""
        for file in event.get("files") or []:
            if self._seen_files.first_time(str(file.get("id"))):
                self._pool.submit(self._guarded, event, file)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.progress.stop()

    def _guarded(self, event: dict[str, Any], file: dict[str, Any]) -> None:
        try:
            self.check(event, file)
        except Exception:
            log.exception("upload flow failed", extra={"file_id": file.get("id")})

    def check(self, event: dict[str, Any], file: dict[str, Any]) -> None:
        channel, thread = event["channel"], event.get("thread_ts") or event["ts"]
        name = str(file.get("name") or file.get("title") or "the file")
        settings = self.flows.settings
        # Checked only where it may be launched: a report whose buttons are refused helps nobody.
        if not policy.launch_allowed_in(channel, settings.allowed_channels, settings.allow_dms):
            self._post(channel, thread, blocks.not_here_text(settings.allowed_channels))
            return
        if not name.lower().endswith(blocks.DATASET_SUFFIXES):
            self._post(channel, thread, blocks.not_a_dataset_text(name))
            return
        url = file.get("url_private_download")
        if not url:  # an external file, or a share Slack sent without a link: say so, never "Checking…"
            self._post(channel, thread, blocks.no_download_text(name))
            return
        checking = blocks.checking_text(name)
        checking_ts = self._post(channel, thread, checking)
        limit = self.flows.settings.max_upload_mb * 1_000_000
        try:
            if int(file.get("size") or 0) > limit:
                raise DownloadError(_too_big(int(file["size"]), limit))
            with tempfile.TemporaryDirectory(prefix="tunebot-upload-") as folder:
                path = Path(folder) / "upload"
                download(url, self._token, path, limit, trusted_origins=self.trusted_origins)
                # The service checks it in the background and announces the outcome as an event, which
                # bot.delivery posts into this thread: a restart of either side loses no report.
                accepted = self.flows.service.upload_dataset(
                    str(path),
                    name,
                    created_by=event.get("user", ""),
                    idempotency_key=f"slack-file:{file['id']}",
                    reply_to=reply_to.encode(channel, thread),
                )
            if checking_ts is not None:
                self.progress.follow(channel, checking_ts, accepted.id, name, checking)
        except DownloadError as error:
            self._post(channel, thread, blocks.error_text(f"I could not fetch `{name}`: {error}."))
        except ServiceError as error:
            self._post(channel, thread, blocks.error_text(f"The service refused `{name}`: {error.message}"))

    def _post(
        self, channel: str, thread: str, text: str, message: list[blocks.Block] | None = None
    ) -> str | None:
        """Post into the share's thread; the message's ts, or None when Slack refused it."""
        try:
            answer = self.slack.chat_postMessage(channel=channel, thread_ts=thread, text=text, blocks=message)
        except SlackApiError as error:
            log.warning("upload reply refused", extra={"error": error.response.get("error")})
            return None
        ts = answer.get("ts")
        return str(ts) if ts else None
