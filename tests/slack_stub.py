"""A real HTTP server standing in for Slack's Web API: records every call, answers canned JSON.

Point `TUNEBOT_SLACK_API_URL` (or `WebClient(base_url=...)`) at ``stub.api_url``.

Beyond canned JSON per method it plays the parts of Slack the bot relies on:
- ``chat.postMessage`` answers a fresh ``ts``; ``files_upload_v2``'s three calls work (the upload URL
  points back at this server, and the uploaded bytes are kept in ``uploads``);
- file downloads: ``add_file`` serves bytes at ``/files/<name>`` to the right bearer token only, and
  anyone else gets Slack's HTML login page (HTTP 200, as Slack does); ``/public/<name>`` serves without a
  token (a pre-signed URL); ``/redirect?to=<url>`` answers 302 to any URL, or to itself without ``to``
  (a loop). A target on ``other_host_url`` (this server named ``localhost``) is a cross-host redirect;
- ``fail_next(method, status, retry_after)`` makes the next call(s) of a method fail, e.g. 429s.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

LOGIN_PAGE = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"


@dataclass
class SlackCall:
    method: str
    params: dict[str, Any]
    authorization: str | None
    http_method: str = "POST"
    host: str = ""


@dataclass
class Failure:
    status: int
    retry_after: int | None
    body: dict[str, Any]


@dataclass
class SlackStub:
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[SlackCall] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    uploads: dict[str, bytes] = field(default_factory=dict)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    file_token: str = "xoxb-test-token"
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

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

    def calls_to(self, method: str) -> list[SlackCall]:
        with self.lock:
            return [call for call in self.calls if call.method == method]

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

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            queue = self.failures.get(method)
            failure = queue.pop(0) if queue else None
        if failure is not None:
            headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            return failure.status, failure.body, headers
        if method in self.responses:
            return 200, self.responses[method], {}
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            ts = params.get("ts") or self.next_ts()
            return 200, {"ok": True, "ts": ts, "channel": params.get("channel")}, {}
        if method in ("views.open", "views.update", "views.publish"):
            return 200, {"ok": True, "view": {"id": params.get("view_id") or "V0001"}}, {}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):08d}"
            return (
                200,
                {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id},
                {},
            )
        if method == "files.completeUploadExternal":
            files = json.loads(params.get("files") or "[]")
            return 200, {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}, {}
        return 200, {"ok": True}, {}

    def start(self) -> SlackStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self, method: str, params: dict[str, Any], http_method: str) -> None:
                call = SlackCall(
                    method,
                    params,
                    self.headers.get("Authorization"),
                    http_method,
                    self.headers.get("Host", ""),
                )
                with stub.lock:
                    stub.calls.append(call)

            def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                path = urlparse(self.path).path
                if path.startswith("/upload/"):
                    file_id = path.rsplit("/", 1)[-1]
                    stub.uploads[file_id] = raw
                    self._record("upload", {"file_id": file_id, "bytes": len(raw)}, "POST")
                    self._send(200, b"OK - " + str(len(raw)).encode(), "text/plain", {})
                    return
                text = raw.decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    params = json.loads(text or "{}")
                else:
                    params = {key: values[0] for key, values in parse_qs(text).items()}
                method = path.rsplit("/", 1)[-1]
                self._record(method, params, "POST")
                status, answer, headers = stub._answer(method, params)
                self._send(status, json.dumps(answer).encode(), "application/json", headers)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                name = url.path.rsplit("/", 1)[-1]
                self._record("GET " + url.path.split("/")[1], {"path": url.path, **query}, "GET")
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
