"""The Web API methods of the Slack stand-in (tests.slack_stub), each answering as Slack's reference says.

- chat.postMessage, chat.postEphemeral, chat.update, chat.delete, chat.getPermalink:
  https://docs.slack.dev/reference/methods/chat.postMessage (and the pages of the others);
- conversations.replies/history return ``metadata`` only with ``include_all_metadata``
  (https://docs.slack.dev/messaging/message-metadata); replies needs ``channel`` and the ``ts`` of an
  existing message (``thread_not_found``); both are cursor-paginated (``limit`` default 1000,
  ``response_metadata.next_cursor`` empty on the last page):
  https://docs.slack.dev/reference/methods/conversations.replies, .../conversations.history;
- views.open needs a live trigger_id (https://api.slack.com/docs/triggers), views.update an opened view;
  a bad view is ``invalid_arguments`` with the errors in ``response_metadata.messages``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.slack_blockkit import message_errors, view_errors

Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[Any]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    user: str | None = None  # set for an ephemeral message: only this user sees it
    versions: list[dict[str, Any]] = field(default_factory=list)


def _ok(**body: Any) -> Answer:
    return 200, {"ok": True, **body}, {}


def _refuse(error: str, errors: list[str] | None = None, status: int = 200) -> Answer:
    body: dict[str, Any] = {"ok": False, "error": error}
    if errors:
        body["errors"] = errors
        body["response_metadata"] = {"messages": [f"[ERROR] {e}" for e in errors]}
    return status, body, {}


TRIGGER_SECONDS = 3.0


class WebApiMethods:
    """Slack's methods over the stand-in's state; ``SlackStub`` holds the state and serves them."""

    messages: dict[tuple[str, str], Message]
    triggers: dict[str, float]
    exchanged: set[str]
    views: dict[str, dict[str, Any]]
    clock: Callable[[], float]
    base_url: str
    _ids: itertools.count[int]

    def next_ts(self) -> str:
        raise NotImplementedError

    def channel_messages(self, channel: str) -> list[Message]:
        raise NotImplementedError

    def _chat_postMessage(self, params: dict[str, Any]) -> Answer:
        if not params.get("channel"):
            return _refuse("channel_not_found")
        refused = message_errors(params)
        if refused is not None:
            return _refuse(*refused)
        message = self._keep(params, metadata=params.get("metadata"))
        return _ok(ts=message.ts, channel=message.channel, message={"text": message.text})

    def _chat_postEphemeral(self, params: dict[str, Any]) -> Answer:
        if not params.get("channel") or not params.get("user"):
            return _refuse("invalid_arguments")
        refused = message_errors(params)
        if refused is not None:
            return _refuse(*refused)
        message = self._keep(params, user=params["user"])
        return _ok(message_ts=message.ts)

    def _keep(
        self, params: dict[str, Any], metadata: dict[str, Any] | None = None, user: str | None = None
    ) -> Message:
        """A message Slack accepted, kept as it shows it (with ``user``: an ephemeral one, only theirs)."""
        message = Message(
            params["channel"],
            self.next_ts(),
            params.get("text") or "",
            params.get("blocks") or [],
            params.get("thread_ts"),
            metadata,
            user,
        )
        self.messages[(message.channel, message.ts)] = message
        return message

    def _chat_update(self, params: dict[str, Any]) -> Answer:
        message = self.messages.get((str(params.get("channel")), str(params.get("ts"))))
        if message is None or message.user is not None:
            return _refuse("message_not_found")
        refused = message_errors({"text": params.get("text") or message.text, **params})
        if refused is not None:
            return _refuse(*refused)
        self._revise(message, params)
        return _ok(ts=message.ts, channel=message.channel, text=message.text)

    def _chat_delete(self, params: dict[str, Any]) -> Answer:
        if self.messages.pop((str(params.get("channel")), str(params.get("ts"))), None) is None:
            return _refuse("message_not_found")
        return _ok(ts=params.get("ts"), channel=params.get("channel"))

    def _chat_getPermalink(self, params: dict[str, Any]) -> Answer:
        """https://api.slack.com/methods/chat.getPermalink: ``{"ok", "channel", "permalink"}``; a reply
        in a thread gets ``?thread_ts=<parent>&cid=<channel>`` on its link ("the permalink format
        changes"); an unknown ts is ``message_not_found``, an ephemeral message has no permalink."""
        channel, ts = str(params.get("channel")), str(params.get("message_ts"))
        message = self.messages.get((channel, ts))
        if message is None or message.user is not None:
            return _refuse("message_not_found")
        link = f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if message.thread_ts and message.thread_ts != ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel}"
        return _ok(channel=channel, permalink=link)

    def _conversations_replies(self, params: dict[str, Any]) -> Answer:
        """A thread, oldest first: its parent and the replies. ``ts`` must be an existing message
        (``thread_not_found`` otherwise); cursor-paginated by ``limit`` (default 1000)."""
        channel, thread = str(params.get("channel") or ""), str(params.get("ts") or "")
        if not channel or not thread:
            return _refuse("invalid_arguments")
        found = [m for m in self.channel_messages(channel) if m.ts == thread or m.thread_ts == thread]
        if not any(m.ts == thread for m in found):
            return _refuse("thread_not_found")
        return self._page(found, params)

    def _conversations_history(self, params: dict[str, Any]) -> Answer:
        """The channel's messages that are not thread replies, newest first; cursor-paginated."""
        found = [m for m in self.channel_messages(str(params.get("channel"))) if m.thread_ts is None]
        return self._page(list(reversed(found)), params)

    def _page(self, messages: list[Message], params: dict[str, Any]) -> Answer:
        """One page of ``messages`` from ``cursor`` (an opaque string Slack hands out in
        ``response_metadata.next_cursor``, empty on the last page)."""
        try:
            limit = int(params.get("limit") or 1000)
            start = int(str(params.get("cursor") or "offset:0").removeprefix("offset:"))
        except ValueError:
            return _refuse("invalid_cursor")
        limit = max(1, min(limit, 1000))
        page = messages[start : start + limit]
        more = start + limit < len(messages)
        return _ok(
            messages=[self._as_seen(m, params) for m in page],
            has_more=more,
            response_metadata={"next_cursor": f"offset:{start + limit}" if more else ""},
        )

    @staticmethod
    def _as_seen(message: Message, params: dict[str, Any]) -> dict[str, Any]:
        seen: dict[str, Any] = {"type": "message", "ts": message.ts, "text": message.text}
        seen["blocks"] = message.blocks
        if message.thread_ts:
            seen["thread_ts"] = message.thread_ts
        if message.metadata and str(params.get("include_all_metadata")).lower() in ("true", "1"):
            seen["metadata"] = message.metadata
        return seen

    def _auth_test(self, params: dict[str, Any]) -> Answer:
        return _ok(user_id="UBOT", bot_id="BBOT", user="tunebot", team="Acme", team_id="T1")

    def _views_open(self, params: dict[str, Any]) -> Answer:
        trigger = str(params.get("trigger_id") or "")
        issued = self.triggers.get(trigger)
        if issued is None:
            return _refuse("invalid_trigger_id")
        if trigger in self.exchanged:
            return _refuse("exchanged_trigger_id")
        if self.clock() - issued > TRIGGER_SECONDS:
            return _refuse("expired_trigger_id")
        refused = self._view_refused(params)
        if refused is not None:
            return refused
        self.exchanged.add(trigger)
        view_id = f"V{len(self.views) + 1:04d}"
        self.views[view_id] = params["view"]
        return _ok(view={"id": view_id, **params["view"]})

    def _views_update(self, params: dict[str, Any]) -> Answer:
        view_id = str(params.get("view_id") or "")
        if view_id not in self.views:
            return _refuse("not_found")
        refused = self._view_refused(params)
        if refused is not None:
            return refused
        self.views[view_id] = params["view"]
        return _ok(view={"id": view_id, **params["view"]})

    def _views_publish(self, params: dict[str, Any]) -> Answer:
        if not params.get("user_id"):
            return _refuse("invalid_arguments")
        refused = self._view_refused(params)
        if refused is not None:
            return refused
        if params["view"].get("type") != "home":
            return _refuse("invalid_arguments", ["must be home [json-pointer:/view/type]"])
        self.views[f"home:{params['user_id']}"] = params["view"]
        return _ok(view={"id": f"VH{params['user_id']}", **params["view"]})

    @staticmethod
    def _view_refused(params: dict[str, Any]) -> Answer | None:
        view = params.get("view")
        if isinstance(view, str):
            view = params["view"] = json.loads(view)
        errors = view_errors(view)
        return _refuse("invalid_arguments", errors) if errors else None

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> Answer:
        file_id = f"F{next(self._ids):08d}"
        return _ok(upload_url=f"{self.base_url}/upload/{file_id}", file_id=file_id)

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> Answer:
        files = json.loads(params.get("files") or "[]")
        return _ok(files=[{"id": f["id"], "title": f.get("title")} for f in files])

    def _revise(self, message: Message, change: dict[str, Any]) -> None:
        message.versions.append({"text": message.text, "blocks": message.blocks})
        message.text = change.get("text") or message.text
        message.blocks = change.get("blocks") if change.get("blocks") is not None else message.blocks
        if "metadata" in change:
            message.metadata = change["metadata"]
