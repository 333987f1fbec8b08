"""Listeners: ack at once, delegate, reply. Nothing slow runs here (see bot.flows and bot.uploads).

Bolt passes arguments by name, so each listener names what it needs: ``ack``, ``body``, ``respond``.
Bolt runs with ``process_before_response``: a listener's return sends the HTTP answer, so each one
acks, hands the service call to the ``later`` pool, and returns; the reply goes out through
``respond`` (the response_url) when the service has answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, Respond

from bot.blocks import HOME_DATASETS, HOME_HISTORY, HOME_LAUNCH
from bot.flows import Flows, Reply, ReportMessage, SeenIds
from bot.uploads import UploadWorker

log = logging.getLogger(__name__)
WORKERS = 4  # few: after-ack work must not crowd out the acks themselves


def _action(body: dict[str, Any]) -> dict[str, Any]:
    action: dict[str, Any] = body["actions"][0]
    return action


def _where(body: dict[str, Any]) -> tuple[str, str, str]:
    """(user, channel, message ts) of an interaction."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
    return body["user"]["id"], channel, container.get("message_ts", "")


UNEXPECTED = (
    "tunebot hit an unexpected error with that; the operator's log has the details. "
    "Check `/finetune status` or `/finetune history` before trying again."
)


def _apologise(respond: Respond) -> None:
    """A user never meets silence or a traceback, even when tunebot itself is at fault."""
    try:
        respond(text=UNEXPECTED, response_type="ephemeral")
    except Exception:  # Slack unreachable too: the log above already has the cause
        log.warning("could not tell the user about the failure")


def _delete_original(respond: Respond) -> None:
    respond(delete_original=True)


class Listeners:
    def __init__(self, flows: Flows, uploads: UploadWorker) -> None:
        self.flows = flows
        self.uploads = uploads
        self.seen_events = SeenIds()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="slack-reply")

    def later(self, respond: Respond | None, use_case: Callable[..., Reply | None], *args: Any) -> None:
        """Run ``use_case`` off the request thread and send its reply, if any, to ``respond``."""

        def run() -> None:
            try:
                reply = use_case(*args)
                if reply is not None and respond is not None:
                    respond(**reply.kwargs())
            except Exception:
                log.exception("listener work failed", extra={"use_case": use_case.__name__})
                if respond is not None:
                    _apologise(respond)

        self._pool.submit(run)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.uploads.shutdown()

    def finetune(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack(**self.flows.acknowledgement(command))
        self.later(respond, self.flows.run_command, command)

    def launch_confirm(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user, channel, _ = _where(body)
        self.later(respond, self.flows.confirm_launch, _action(body)["value"], user, channel)

    def sweep_confirm(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user, channel, _ = _where(body)
        self.later(respond, self.flows.confirm_sweep, _action(body)["value"], user, channel)

    def launch_from_report(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user, channel, message_ts = _where(body)
        # Slack sends the clicked message; a report in a thread carries that thread's ts.
        thread_ts = (
            (body.get("message") or {}).get("thread_ts")
            or (body.get("container") or {}).get("thread_ts")
            or message_ts
        )
        shown = "message" in body and not (body.get("container") or {}).get("is_ephemeral")
        report = ReportMessage(channel, message_ts, thread_ts, shown)
        self.later(respond, self.flows.launch_from_report, _action(body)["value"], user, report)

    def dismiss(self, ack: Ack, respond: Respond) -> None:
        ack()
        self.later(None, _delete_original, respond)

    def cancel_confirm(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        self.later(respond, self.flows.confirm_cancel, _action(body)["value"], body["user"]["id"])

    def history_more(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        self.later(respond, self.flows.history_more, _action(body)["value"])

    def approve(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        self.later(respond, self.flows.decide_approval, _action(body)["value"], body["user"]["id"], True)

    def decline(self, ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        self.later(respond, self.flows.decide_approval, _action(body)["value"], body["user"]["id"], False)

    def launch_modal(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack(**self.flows.modal_errors(view, body["user"]["id"]))
        self.later(None, self.flows.modal_submitted, view, body["user"]["id"])

    def message(self, ack: Ack, body: dict[str, Any], event: dict[str, Any]) -> None:
        ack()
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return  # another bot, an edit, a join: nothing anyone asked the bot
        # Slack retries an event it thinks was lost (bot.replays answers most): one answer per event id.
        event_id = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
        if not self.seen_events.first_time(event_id):
            return
        if event.get("files"):
            self.uploads.submit(event)
        elif event.get("channel_type") == "im":  # words in a DM: channel words are not for the bot
            self.later(None, self.flows.greet, event["channel"], None)

    def app_mention(self, ack: Ack, event: dict[str, Any]) -> None:
        ack()
        if not event.get("files"):  # a mention on a shared file is answered by the file's message event
            self.later(None, self.flows.greet, event["channel"], event.get("thread_ts") or event["ts"])

    def home_button(self, ack: Ack, body: dict[str, Any]) -> None:
        """Launch, Datasets or History on App Home: each opens its modal with the click's trigger."""
        ack()
        opens = {
            HOME_LAUNCH: self.flows.home_launch,
            HOME_DATASETS: self.flows.home_datasets,
            HOME_HISTORY: self.flows.home_history,
        }[_action(body)["action_id"]]
        self.later(None, opens, body["trigger_id"], body["user"]["id"])

    def home_opened(self, ack: Ack, event: dict[str, Any]) -> None:
        ack()
        if event.get("tab", "home") == "home":
            self.later(None, self.flows.publish_home, event["user"])
