"""The Slack edge as `tunebot serve` loads it (entry point ``tunebot.edges: slack``).

HTTP mode mounts /slack/events; Socket Mode (SLACK_APP_TOKEN set) opens a websocket instead. The same
Bolt app serves both.
"""

from __future__ import annotations

import logging
import threading

from fastapi import APIRouter, Request, Response
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

from bot.app import build_app
from services.client import ServiceClient
from services.config import Settings

log = logging.getLogger(__name__)


class SlackEdge:
    name = "slack"

    def __init__(self, settings: Settings, app: App) -> None:
        self._settings = settings
        self._app = app
        self._socket: SocketModeHandler | None = None
        self._connector: threading.Thread | None = None
        self._stopping = threading.Event()

    def router(self) -> APIRouter | None:
        router = APIRouter()
        app = self._app

        @router.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            bolt_request = to_bolt_request(request, await request.body())
            # Bolt's dispatch blocks; in the event loop it would stall every other request.
            bolt_response = await run_in_threadpool(app.dispatch, bolt_request)
            return to_starlette_response(bolt_response)

        return router

    def start(self) -> None:
        if self._settings.slack_app_token is None:
            log.info("slack listening", extra={"mode": "http", "path": "/slack/events"})
            return
        self._socket = SocketModeHandler(self._app, self._settings.slack_app_token.get_secret_value())
        # Connecting talks to Slack; a refusal must not stop the server (health, API) from starting.
        self._connector = threading.Thread(target=self._connect_socket, name="slack-socket", daemon=True)
        self._connector.start()

    def _connect_socket(self) -> None:
        assert self._socket is not None
        delay = 2.0
        while not self._stopping.is_set():
            try:
                self._socket.connect()  # type: ignore[no-untyped-call]
                log.info("slack connected", extra={"mode": "socket"})
                return
            except Exception as error:  # a SlackApiError or a network error: say which, retry
                reason = getattr(getattr(error, "response", None), "get", lambda _key: None)("error")
                log.error(
                    "slack socket mode connection failed; retrying",
                    extra={"error": reason or type(error).__name__, "retry_seconds": delay},
                )
                self._stopping.wait(delay)
                delay = min(delay * 2, 60.0)

    def stop(self) -> None:
        self._stopping.set()
        if self._socket is not None:
            self._socket.close()  # type: ignore[no-untyped-call]


def slack_edge(settings: Settings) -> SlackEdge | None:
    """Entry-point factory: the edge when Slack is configured, else None."""
    if not settings.slack_http_enabled:
        return None
    assert settings.service_url is not None and settings.api_token is not None
    service = ServiceClient(settings.service_url, settings.api_token.get_secret_value())
    return SlackEdge(settings, build_app(settings, service))
