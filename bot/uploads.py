"""Shared dataset files: the safe download recipe, and the worker that turns a share into a checked dataset.

The recipe (reference/slack.md): no automatic redirects and at most 3 hops; the bot token goes only to
Slack's own hosts; an HTML body is Slack's login page, not the file; the size is checked before and
while reading; the body is streamed to disk.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks
from bot.flows import Flows, SeenIds
from services.client import ServiceError

log = logging.getLogger(__name__)

DATASET_SUFFIXES = (".zip", ".jsonl", ".json", ".csv", ".tsv", ".xlsx", ".parquet", ".arrow", ".pdf")
SLACK_HOSTS = ("slack.com", "slack-edge.com", "slack-files.com")
MAX_HOPS = 3
CHUNK = 1 << 16


class DownloadError(Exception):
    """The file could not be fetched safely; the message says what the user or admin can do."""


def is_slack_host(host: str, extra: Iterable[str] = ()) -> bool:
    host = host.lower()
    return any(host == known or host.endswith("." + known) for known in (*SLACK_HOSTS, *extra))


def download(
    url: str,
    token: str,
    destination: Path,
    max_bytes: int,
    *,
    trusted_hosts: Iterable[str] = (),
    http: httpx.Client | None = None,
) -> int:
    """Fetch ``url`` into ``destination``; return the byte count. Raises ``DownloadError``."""
    trusted = tuple(trusted_hosts)
    client = http or httpx.Client(timeout=httpx.Timeout(30.0, read=120.0))
    try:
        for _hop in range(MAX_HOPS + 1):
            host = urlparse(url).hostname or ""
            headers = {"Authorization": f"Bearer {token}"} if is_slack_host(host, trusted) else {}
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
    """Runs a share's slow steps off Bolt's threads: say "checking…", download, hand to the service."""

    def __init__(
        self,
        flows: Flows,
        slack: WebClient,
        token: str,
        *,
        workers: int = 2,
    ) -> None:
        self.flows = flows
        self.slack = slack
        self._token = token
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-upload")
        self._seen_files = SeenIds()
        api_host = urlparse(flows.settings.slack_api_url).hostname or ""
        self.trusted_hosts = (api_host,)

    def submit(self, event: dict[str, Any]) -> None:
        for file in event.get("files") or []:
            is_dataset = str(file.get("name", "")).lower().endswith(DATASET_SUFFIXES)
            if is_dataset and self._seen_files.first_time(str(file.get("id"))):
                self._pool.submit(self._guarded, event, file)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _guarded(self, event: dict[str, Any], file: dict[str, Any]) -> None:
        try:
            self.check(event, file)
        except Exception:
            log.exception("upload flow failed", extra={"file_id": file.get("id")})

    def check(self, event: dict[str, Any], file: dict[str, Any]) -> None:
        channel, thread = event["channel"], event.get("thread_ts") or event["ts"]
        name = str(file.get("name", "dataset"))
        self._post(channel, thread, blocks.checking_text(name))
        limit = self.flows.settings.max_upload_mb * 1_000_000
        try:
            if int(file.get("size") or 0) > limit:
                raise DownloadError(_too_big(int(file["size"]), limit))
            with tempfile.TemporaryDirectory(prefix="tunebot-upload-") as folder:
                path = Path(folder) / "upload"
                download(
                    file["url_private_download"], self._token, path, limit, trusted_hosts=self.trusted_hosts
                )
                # The service checks it in the background and announces the outcome as an event, which
                # bot.delivery posts into this thread: a restart of either side loses no report.
                self.flows.service.upload_dataset(
                    str(path),
                    name,
                    created_by=event.get("user", ""),
                    idempotency_key=f"slack-file:{file['id']}",
                    slack_channel=channel,
                    slack_thread_ts=thread,
                )
        except DownloadError as error:
            self._post(channel, thread, blocks.error_text(f"I could not fetch `{name}`: {error}."))
        except ServiceError as error:
            self._post(channel, thread, blocks.error_text(f"The service refused `{name}`: {error.message}"))

    def _post(self, channel: str, thread: str, text: str, message: list[blocks.Block] | None = None) -> None:
        try:
            self.slack.chat_postMessage(channel=channel, thread_ts=thread, text=text, blocks=message)
        except SlackApiError as error:
            log.warning("upload reply refused", extra={"error": error.response.get("error")})
