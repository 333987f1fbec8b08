"""A real HTTP server standing in for Slack's Web API, as strict as Slack: it refuses what Slack refuses,
in Slack's words, and rate-limits as Slack does.

Point `TUNEBOT_SLACK_API_URL` (or `WebClient(base_url=...)`) at ``stub.api_url``. What it plays:
- messages: ``chat.postMessage``/``chat.update``/``chat.delete``/``chat.postEphemeral`` keep the
  conversation in ``messages`` (with versions), checked by ``tests.slack_blockkit`` (``invalid_blocks``,
  ``no_text``, ``msg_too_long``, ``invalid_metadata_format``); ``chat.update`` of a message that is not
  there is ``message_not_found``; ``conversations.replies``/``history`` return metadata only with
  ``include_all_metadata``; ``chat.getPermalink`` answers a link;
- rate limits (https://docs.slack.dev/apis/web-api/rate-limits): ``chat.postMessage`` about one message
  a second per channel with short bursts (``post_burst``; Slack gives no number), ``chat.update`` and
  ``conversations.replies``/``history`` Tier 3 (50 a minute), ``views.*`` Tier 4 (100 a minute); over
  it: HTTP 429, ``{"ok": false, "error": "ratelimited"}`` and ``Retry-After`` in whole seconds;
- triggers (https://api.slack.com/docs/triggers): ``issue_trigger`` hands out ids that expire after 3 s
  and can be exchanged once (``expired_trigger_id``, ``exchanged_trigger_id``, ``invalid_trigger_id``);
- response_url (https://docs.slack.dev/interactivity/handling-user-interaction): ``response_url`` hands
  out URLs usable 5 times within 30 minutes (``used_url``, ``expired_url``); ``replace_original`` and
  ``delete_original`` act on the message the URL came from — for everyone when it is a channel message
  (``rewrites`` records it); otherwise the reply is a new ephemeral message to the user;
- views: ``views.open`` (needs a live trigger), ``views.update`` (needs an opened view), ``views.publish``;
  bad views are ``invalid_arguments`` with the errors in ``response_metadata.messages``;
- files: ``files_upload_v2``'s three calls; ``add_file`` serves bytes at ``/files/<name>`` to the right
  bearer token only (anyone else gets Slack's HTML login page with HTTP 200, as Slack does);
  ``/public/<name>`` serves without a token; ``/redirect?to=<url>`` answers 302 (a loop without ``to``);
  ``other_host_url`` is this server under another host name;
- ``fail_next(method, status, retry_after)`` makes the next call(s) of a method fail; ``hold_next(method)``
  carries the next call out and never answers it (the caller dies waiting); ``outage_status`` set makes
  every Web API call answer that HTTP status (Slack down).
Every refusal of a payload's shape is kept in ``refusals``; the ``slack_stub`` fixture fails a test whose
bot sent one, unless the test says it expects it (``expect_refusal``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.slack_blockkit import message_errors
from tests.slack_methods import Answer, Message, WebApiMethods, _ok, _refuse

LOGIN_PAGE = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
RESPONSE_URL_USES = 5
RESPONSE_URL_SECONDS = 30 * 60


@dataclass
class SlackCall:
    method: str
    params: dict[str, Any]
    authorization: str | None
    http_method: str = "POST"
    host: str = ""
    status: int = 200
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None


@dataclass
class Failure:
    status: int
    retry_after: int | None
    body: dict[str, Any]


@dataclass
class Hold:
    """A call Slack carries out whose answer never reaches the caller (the caller dies waiting for it)."""

    method: str
    skip: int = 0  # let this many calls of ``method`` through first
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResponseUrl:
    channel: str
    message_ts: str | None
    user: str
    issued: float
    uses: int = 0


@dataclass
class Bucket:
    """Slack's allowance as a token bucket: ``capacity`` at once, refilled at ``rate`` per second."""

    capacity: float
    rate: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """0 when allowed, else the seconds until it would be."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class SlackStub(WebApiMethods):
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    file_token: str = "xoxb-test-token"
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    rewrites: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, ts, how)
    refusals: list[SlackCall] = field(default_factory=list)
    expected_refusals: set[str] = field(default_factory=set)
    triggers: dict[str, float] = field(default_factory=dict)
    exchanged: set[str] = field(default_factory=set)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    post_burst: int = 4
    holds: list[Hold] = field(default_factory=list)
    outage_status: int | None = None  # while set, every Web API call answers this HTTP status
    clock: Callable[[], float] = time.monotonic
    lock: threading.RLock = field(default_factory=threading.RLock)
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/"

    @property
    def other_host_url(self) -> str:
        """This server under another host name: a redirect here is a cross-host redirect."""
        assert self.server is not None
        return f"http://localhost:{self.server.server_address[1]}"

    # --- what tests read and arrange --------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

    def accepted(self, method: str) -> list[SlackCall]:
        """The calls of ``method`` Slack accepted (a refused or rate-limited attempt is not a message)."""
        return [call for call in self.calls_to(method) if call.ok]

    def channel_messages(self, channel: str) -> list[Message]:
        """What everyone in ``channel`` sees now, oldest first (no ephemeral messages)."""
        with self.lock:
            found = [m for m in self.messages.values() if m.channel == channel and m.user is None]
        return sorted(found, key=lambda m: m.ts)

    def add_file(self, name: str, content: bytes, content_type: str = "application/octet-stream") -> str:
        """Serve ``content`` to the bot token; returns its private download URL."""
        self.files[name] = (content, content_type)
        return f"{self.base_url}/files/{name}"

    def fail_next(
        self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1, error: str = ""
    ) -> None:
        body = {"ok": False, "error": error or ("ratelimited" if status == 429 else "internal_error")}
        with self.lock:
            self.failures.setdefault(method, []).extend(
                Failure(status, retry_after, body) for _ in range(times)
            )
            if error:
                self.expected_refusals.add(error)

    def hold_next(self, method: str, skip: int = 0) -> Hold:
        """The next call of ``method`` (after ``skip``) is carried out, then its answer is held back."""
        hold = Hold(method, skip)
        with self.lock:
            self.holds.append(hold)
        return hold

    def take_hold(self, method: str, params: dict[str, Any]) -> Hold | None:
        with self.lock:
            for hold in self.holds:
                if hold.method == method:
                    if hold.skip:
                        hold.skip -= 1
                        return None
                    self.holds.remove(hold)
                    hold.params = params
                    return hold
        return None

    def expect_refusal(self, error: str) -> None:
        """This test means the bot to meet ``error``: the fixture's check lets it pass."""
        self.expected_refusals.add(error)

    def unexpected_refusals(self) -> list[str]:
        with self.lock:
            return [
                f"{call.method}: {call.error} {call.params.get('_errors', '')}".strip()
                for call in self.refusals
                if call.error not in self.expected_refusals
            ]

    def issue_trigger(self, trigger_id: str | None = None, age: float = 0.0) -> str:
        """A trigger_id as Slack puts in an interaction payload, issued ``age`` seconds ago."""
        trigger = trigger_id or f"{next(self._ids)}.{time.time_ns()}.trigger"
        with self.lock:
            self.triggers[trigger] = self.clock() - age
        return trigger

    def response_url(self, channel: str, user: str, message_ts: str | None = None, age: float = 0.0) -> str:
        """A response_url for an interaction by ``user`` (on message ``message_ts``, for a button)."""
        token = f"R{next(self._ids):06d}"
        with self.lock:
            self.response_urls[token] = ResponseUrl(channel, message_ts, user, self.clock() - age)
        return f"{self.base_url}/respond/{token}"

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    # --- Slack's answers ----------------------------------------------------------------------------------

    def _rate_limited(self, method: str, params: dict[str, Any]) -> Answer | None:
        if method == "chat.postMessage":
            key, capacity, rate = (method, str(params.get("channel"))), float(self.post_burst), 1.0
        elif method == "chat.update":
            key, capacity, rate = (method, ""), 50.0, 50 / 60
        elif method in ("conversations.replies", "conversations.history"):
            # Tier 3 for internal apps (Slack's reference pages of both methods; since 2025 commercially
            # distributed non-Marketplace apps get 1 a minute, which an internal bot is not).
            key, capacity, rate = (method, ""), 50.0, 50 / 60
        elif method.startswith("views."):
            key, capacity, rate = (method, ""), 100.0, 100 / 60
        else:
            return None
        now = self.clock()
        bucket = self._buckets.setdefault(key, Bucket(capacity, rate, capacity, now))
        wait = bucket.take(now)
        if wait == 0:
            return None
        return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(max(1, math.ceil(wait)))}

    def answer(self, method: str, params: dict[str, Any]) -> Answer:
        with self.lock:
            queue = self.failures.get(method)
            failure = queue.pop(0) if queue else None
            if failure is not None:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return failure.status, failure.body, headers
            if method in self.responses:  # the test's own canned answer, refusal or not
                self.expected_refusals.add(str(self.responses[method].get("error")))
                return 200, self.responses[method], {}
            limited = self._rate_limited(method, params)
            if limited is not None:
                return limited
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            return handler(params) if handler is not None else _ok()

    def respond(self, token: str, body: dict[str, Any]) -> Answer:
        """A POST to a response_url."""
        with self.lock:
            url = self.response_urls.get(token)
            if url is None:
                return _refuse("invalid_url", status=404)
            if self.clock() - url.issued > RESPONSE_URL_SECONDS:
                return _refuse("expired_url", status=404)
            if url.uses >= RESPONSE_URL_USES:
                return _refuse("used_url", status=404)
            url.uses += 1
            original = self.messages.get((url.channel, url.message_ts or ""))
            if body.get("delete_original"):
                if original is not None:
                    del self.messages[(original.channel, original.ts)]
                    if original.user is None:
                        self.rewrites.append((original.channel, original.ts, "deleted"))
                return _ok()
            refused = message_errors(body)
            if refused is not None:
                return _refuse(*refused, status=400)
            if body.get("replace_original") and original is not None:
                self._revise(original, body)
                if original.user is None:
                    self.rewrites.append((original.channel, original.ts, "replaced"))
                return _ok()
            shared = body.get("response_type") == "in_channel"
            message = Message(
                url.channel,
                self.next_ts(),
                body.get("text") or "",
                body.get("blocks") or [],
                body.get("thread_ts"),
                user=None if shared else url.user,
            )
            self.messages[(message.channel, message.ts)] = message
            return _ok()

    # --- the server -------------------------------------------------------------------------------------

    def _record(self, call: SlackCall, status: int, answer: dict[str, Any]) -> None:
        call.status = status
        if not answer.get("ok", True):
            call.error = str(answer.get("error"))
            # A refusal of what was sent; a rate limit or Slack's own failure (5xx) says nothing about it.
            if status != 429 and status < 500 and call.error != "ratelimited":
                call.params["_errors"] = answer.get("errors", [])
                with self.lock:
                    self.refusals.append(call)
        with self.lock:
            self.calls.append(call)

    def start(self) -> SlackStub:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _handler(stub: SlackStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _call(self, method: str, params: dict[str, Any], http_method: str) -> SlackCall:
            return SlackCall(
                method, params, self.headers.get("Authorization"), http_method, self.headers.get("Host", "")
            )

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _api(self, method: str, params: dict[str, Any], http_method: str) -> None:
            for key in ("blocks", "metadata", "view"):
                if isinstance(params.get(key), str):
                    with contextlib.suppress(ValueError):
                        params[key] = json.loads(params[key])
            call = self._call(method, params, http_method)
            if stub.outage_status is not None:  # Slack is down: nothing is done
                body = {"ok": False, "error": "service_unavailable"}
                stub._record(call, stub.outage_status, body)
                self._send(stub.outage_status, json.dumps(body).encode(), "application/json", {})
                return
            status, answer, headers = stub.answer(method, params)
            stub._record(call, status, answer)
            hold = stub.take_hold(method, params) if status == 200 and answer.get("ok") else None
            if hold is not None:
                hold.arrived.set()
                hold.release.wait(120)
                self.close_connection = True  # done in Slack, but the caller never hears so
                return
            self._send(status, json.dumps(answer).encode(), "application/json", headers)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path = urlparse(self.path).path
            if path.startswith("/upload/"):
                file_id = path.rsplit("/", 1)[-1]
                stub.uploads[file_id] = raw
                stub._record(self._call("upload", {"file_id": file_id, "bytes": len(raw)}, "POST"), 200, {})
                self._send(200, b"OK - " + str(len(raw)).encode(), "text/plain", {})
                return
            text = raw.decode()
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(text or "{}")
            else:
                params = {key: values[0] for key, values in parse_qs(text).items()}
            if path.startswith("/respond/"):
                call = self._call("respond", params, "POST")
                status, answer, headers = stub.respond(path.rsplit("/", 1)[-1], params)
                stub._record(call, status, answer)
                self._send(status, json.dumps(answer).encode(), "application/json", headers)
                return
            self._api(path.rsplit("/", 1)[-1], params, "POST")

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            if url.path.startswith("/api/"):
                self._api(url.path.rsplit("/", 1)[-1], query, "GET")
                return
            name = url.path.rsplit("/", 1)[-1]
            stub._record(
                self._call("GET " + url.path.split("/")[1], {"path": url.path, **query}, "GET"), 200, {}
            )
            if url.path == "/redirect":
                self._send(302, b"", "text/plain", {"Location": query.get("to", "/redirect")})
            elif url.path.startswith(("/files/", "/public/")) and name in stub.files:
                content, content_type = stub.files[name]
                token_ok = self.headers.get("Authorization") == f"Bearer {stub.file_token}"
                if url.path.startswith("/files/") and not token_ok:
                    self._send(200, LOGIN_PAGE, "text/html; charset=utf-8", {})
                else:
                    self._send(200, content, content_type, {})
            else:
                self._send(404, b"not found", "text/plain", {})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
