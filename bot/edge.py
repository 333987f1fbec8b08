"""The Slack edge as `tunebot serve` loads it (entry point ``tunebot.edges: slack``).

HTTP mode mounts /slack/events; Socket Mode (SLACK_APP_TOKEN set) opens a websocket instead. The same
Bolt app serves both.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from fastapi import APIRouter, Request, Response
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

from bot.app import BotAuthorization, build_app, build_listeners, web_client
from bot.delivery import Delivery, DeliveryLoop, update_pacer
from bot.listeners import Listeners
from services.client import ServiceClient
from services.platform.config import Settings

log = logging.getLogger(__name__)
SLOW_DISPATCH_SECONDS = 0.05


class SlackEdge:
    name = "slack"

    def __init__(
        self,
        settings: Settings,
        app: App,
        delivery: DeliveryLoop | None = None,
        listeners: Listeners | None = None,
        authorization: BotAuthorization | None = None,
    ) -> None:
        self._settings = settings
        self._app = app
        self.delivery = delivery
        self.listeners = listeners
        self._authorization = authorization
        self._socket: SocketModeHandler | None = None
        self._connector: threading.Thread | None = None
        self._stopping = threading.Event()

    def router(self) -> APIRouter | None:
        router = APIRouter()
        app = self._app

        @router.post("/slack/events", include_in_schema=False)
        async def slack_events(request: Request) -> Response:
            bolt_request = to_bolt_request(request, await request.body())
            # Dispatch runs here, on the event loop: it verifies the signature and runs a listener that
            # acks and hands its work to a pool (bot.listeners), with no network call anywhere (see
            # bot.app.BotAuthorization), so it takes about a millisecond. A thread-pool hop per request
            # cost more than the dispatch itself under a burst of commands (bench/slack_ack.py).
            started = time.perf_counter()
            bolt_response = app.dispatch(bolt_request)
            elapsed = time.perf_counter() - started
            if elapsed > SLOW_DISPATCH_SECONDS:
                log.warning("slow slack dispatch: a listener blocks", extra={"seconds": round(elapsed, 3)})
            return to_starlette_response(bolt_response)

        return router

    def start(self) -> None:
        if self.delivery is not None:
            self.delivery.start()
        if self._authorization is not None:
            threading.Thread(target=self._identify, name="slack-identify", daemon=True).start()
        if self._settings.slack_app_token is None:
            log.info("slack listening", extra={"mode": "http", "path": "/slack/events"})
            return
        self._socket = SocketModeHandler(self._app, self._settings.slack_app_token.get_secret_value())
        # Connecting talks to Slack; a refusal must not stop the server (health, API) from starting.
        self._connector = threading.Thread(target=self._connect_socket, name="slack-socket", daemon=True)
        self._connector.start()

    def _identify(self) -> None:
        """Learn the bot's own ids (to ignore its own events) without holding up start-up or requests."""
        assert self._authorization is not None
        delay = 2.0
        while not self._stopping.is_set() and not self._authorization.identify():
            self._stopping.wait(delay)
            delay = min(delay * 2, 300.0)

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
        if self.delivery is not None:
            self.delivery.stop()
        if self.listeners is not None:
            self.listeners.shutdown()
        if self._socket is not None:
            self._socket.close()  # type: ignore[no-untyped-call]


def slack_edge(settings: Settings) -> SlackEdge | None:
    """Entry-point factory: the edge when Slack is configured, else None."""
    if not settings.slack_http_enabled:
        return None
    assert settings.service_url is not None and settings.api_token is not None
    service = ServiceClient(settings.service_url, settings.api_token.get_secret_value())
    client = web_client(settings)
    # chat.update is one Tier 3 budget for the workspace: cards and "Checking…" progress share it.
    updates = update_pacer()
    listeners = build_listeners(settings, service, client, updates)
    authorization = BotAuthorization(client)
    # Per process: a restarted bot's unacknowledged events come back when their lease expires.
    consumer = f"slack:{socket.gethostname()}:{os.getpid()}"
    lease = settings.slack_delivery_lease_seconds
    # About one post a second per channel: a batch is sized to be delivered well within its lease.
    batch = max(1, min(20, lease // 3))
    delivery = DeliveryLoop(
        Delivery(service, web_client(settings), consumer, lease_seconds=lease, batch=batch, updates=updates)
    )
    app = build_app(settings, service, listeners, authorization)
    return SlackEdge(settings, app, delivery, listeners, authorization)
