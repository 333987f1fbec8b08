"""build_app(settings, client) -> the Bolt app. Listener registration only; behaviour lives in handlers."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

from bot import handlers
from services.client import ServiceClient
from services.config import Settings


def web_client(settings: Settings) -> WebClient:
    assert settings.slack_bot_token is not None
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
    # slack_sdk retries a 429 once by default; Slack's per-channel pacing needs more patience.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=2))
    return client


def build_app(settings: Settings, service: ServiceClient) -> App:
    assert settings.slack_signing_secret is not None
    app = App(
        client=web_client(settings),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # auth.test at construction would make start-up depend on Slack; `tunebot doctor` checks it.
        token_verification_enabled=False,
        process_before_response=False,
    )
    app.command("/finetune")(handlers.finetune_command)
    # Subscribed message events must be answered, or Slack retries them; uploads are handled later.
    app.event("message")(handlers.ignore_event)
    app.event("app_home_opened")(handlers.ignore_event)
    return app
