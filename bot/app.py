"""build_app(settings, service) -> the Bolt app. Listener registration only; behaviour lives in handlers."""

from __future__ import annotations

import logging
import re

from slack_bolt import App
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

from bot import blocks, replays
from bot.delivery.pacing import Pacer
from bot.flows import Flows
from bot.listeners import Listeners
from bot.uploads import UploadWorker
from services.client import ServiceClient
from services.platform.config import Settings

log = logging.getLogger(__name__)


def web_client(settings: Settings, with_token: bool = True) -> WebClient:
    assert settings.slack_bot_token is not None
    token = settings.slack_bot_token.get_secret_value() if with_token else None
    client = WebClient(token=token, base_url=settings.slack_api_url)
    # slack_sdk retries a 429 once by default; Slack's per-channel pacing needs more patience.
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=5))
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=2))
    return client


class BotAuthorization:
    """Bolt's per-request authorization without a network call, so dispatch never waits on Slack.

    One workspace: the bot token is configuration. The bot's own ids (Bolt ignores the bot's own events
    by them) come from one auth.test made off the request path by ``identify``.
    """

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None

    def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=self._client.token,
            bot_user_id=self.bot_user_id,
            bot_id=self.bot_id,
            user_id=user_id,
        )

    def identify(self) -> bool:
        """Ask Slack who the bot is; False (logged) when it cannot say now."""
        try:
            answer = self._client.auth_test()
        except SlackApiError as error:
            log.error("slack auth.test failed", extra={"error": error.response.get("error")})
            return False
        except OSError as error:
            log.error("slack unreachable", extra={"error": type(error).__name__})
            return False
        self.bot_user_id, self.bot_id = answer.get("user_id"), answer.get("bot_id")
        return True


def build_listeners(
    settings: Settings, service: ServiceClient, client: WebClient, updates: Pacer | None = None
) -> Listeners:
    """``updates``: the process's chat.update budget, shared with delivery (bot.delivery.pacing)."""
    assert settings.slack_bot_token is not None
    flows = Flows(settings, service, client)
    uploads = UploadWorker(flows, client, settings.slack_bot_token.get_secret_value(), updates=updates)
    return Listeners(flows, uploads)


def build_app(
    settings: Settings,
    service: ServiceClient,
    listeners: Listeners | None = None,
    authorization: BotAuthorization | None = None,
) -> App:
    assert settings.slack_signing_secret is not None
    client = web_client(settings)
    on = listeners or build_listeners(settings, service, client)
    # No auth.test at construction or on a request: start-up and acks never wait on Slack.
    auth = authorization or BotAuthorization(client)

    # Bolt passes arguments by name and counts ``self`` as one, so hand it a plain function.
    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        return auth.authorize(enterprise_id, team_id, user_id)

    app = App(
        client=web_client(settings, with_token=False),
        authorize=authorize,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # Listeners ack and hand their work to their own pool (bot.listeners), so the HTTP answer leaves
        # as the listener returns; without this Bolt polls every 10 ms for the ack on a second thread.
        process_before_response=True,
    )
    # After Bolt's signature check: a retried event or a replayed request is answered, not run again.
    app.middleware(replays.ReplayGuard().middleware)
    app.command("/finetune")(on.finetune)
    app.action(blocks.LAUNCH_CONFIRM)(on.launch_confirm)
    app.action(blocks.SWEEP_CONFIRM)(on.sweep_confirm)
    app.action(re.compile(rf"^{blocks.LAUNCH_FROM_REPORT}(:|$)"))(on.launch_from_report)
    app.action(blocks.LAUNCH_DISMISS)(on.dismiss)
    app.action(blocks.CANCEL_CONFIRM)(on.cancel_confirm)
    app.action(blocks.CANCEL_KEEP)(on.dismiss)
    app.action(blocks.HISTORY_MORE)(on.history_more)
    app.action(blocks.APPROVE)(on.approve)
    app.action(blocks.DECLINE)(on.decline)
    app.view(blocks.LAUNCH_MODAL)(on.launch_modal)
    app.event("message")(on.message)
    app.event("app_mention")(on.app_mention)
    app.event("app_home_opened")(on.home_opened)
    # slack/manifest.yml subscribes to exactly these events (tests/bot/test_events_subscribed.py).
    for home_button in (blocks.HOME_LAUNCH, blocks.HOME_DATASETS, blocks.HOME_HISTORY):
        app.action(home_button)(on.home_button)
    return app
