"""The fault suite's proxies: one in front of moto that injects Bedrock's errors or holds a call in flight,
and a TCP forwarder in front of PostgreSQL that can be cut and restored (``TcpCut``).

Bedrock's error answers are shaped as Bedrock sends them (REST-JSON: the HTTP status, an
``x-amzn-ErrorType`` header naming the exception, a ``{"message": ...}`` body), with the statuses of its
API reference: ThrottlingException 429, InternalServerException 500, ServiceUnavailableException 503,
ServiceQuotaExceededException 400, ValidationException 400, AccessDeniedException 403,
ResourceNotFoundException 404 (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelCustomizationJob.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html). S3's are restXml: an ``<Error>``
document with its ``Code`` and ``Message``, e.g. 503 SlowDown
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html).

What moto lacks (Provisioned Throughput, bedrock-runtime's Converse) the proxy answers itself through
tests.faults.bedrock_standin; faults apply to those calls as to moto's.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import unquote

from tests.conftest import free_port
from tests.faults.bedrock_standin import BedrockStandIn

# (status, x-amzn-ErrorType) of each injected Bedrock error, from Bedrock's API reference (module docstring)
ERRORS = {
    "throttling": (429, "ThrottlingException"),
    "5xx": (503, "ServiceUnavailableException"),
    "internal": (500, "InternalServerException"),
    "quota": (400, "ServiceQuotaExceededException"),
    "validation": (400, "ValidationException"),
    "access": (403, "AccessDeniedException"),
}
# (status, Code, Message) of each injected S3 error, from S3's error responses (module docstring)
S3_ERRORS = {"slowdown": (503, "SlowDown", "Please reduce your request rate.")}
S3 = "S3"  # the operation name the proxy gives every S3 request
_JOB_PATH = re.compile(r"^/model-customization-jobs(?:/(?P<name>[^/?]+))?(?P<stop>/stop)?(?:\?.*)?$")


def bedrock_operation(method: str, path: str, authorization: str) -> str | None:
    """The operation of a request (REST paths of Bedrock's and Bedrock Runtime's APIs; both sign as
    ``bedrock``), ``S3`` for any S3 request, or None."""
    if "/s3/aws4_request" in authorization:
        return S3
    if "/bedrock/" not in authorization:
        return None  # others pass straight through
    bare = path.split("?")[0]
    if method == "GET" and bare == "/provisioned-model-throughputs":
        return "ListProvisionedModelThroughputs"
    if bare.startswith("/provisioned-model-throughput"):
        verbs = {"POST": "Create", "GET": "Get", "DELETE": "Delete", "PATCH": "Update"}
        return f"{verbs.get(method, method)}ProvisionedModelThroughput"
    if bare == "/listTagsForResource":
        return "ListTagsForResource"
    if bare.startswith("/model/") and bare.endswith("/converse"):
        return "Converse"
    match = _JOB_PATH.match(path)
    if match is None:
        return None
    if match["stop"]:
        return "StopModelCustomizationJob"
    if match["name"]:
        return "GetModelCustomizationJob"
    return "CreateModelCustomizationJob" if method == "POST" else "ListModelCustomizationJobs"


@dataclass
class Rule:
    """What the proxy does to the next ``times`` calls of ``operation`` (-1: every call)."""

    operation: str
    error: str | None = None  # a key of ERRORS (S3_ERRORS for the S3 operation)
    path_contains: str | None = None  # only calls whose (decoded) path has this, e.g. a model id
    hold: Literal["before", "after"] | None = None  # hold the call before / after moto saw it
    times: int = 1
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    hits: int = 0


class FaultProxy:
    """A loopback HTTP proxy in front of moto: the service's AWS_ENDPOINT_URL."""

    def __init__(self, upstream: str, bedrock: BedrockStandIn | None = None) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.bedrock = bedrock
        self.rules: list[Rule] = []
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            for rule in self.rules:
                rule.release.set()
            self.rules.clear()

    def close(self) -> None:
        self.clear()
        self._server.shutdown()
        self._server.server_close()

    def _rule_for(self, operation: str | None, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                matches = rule.path_contains is None or rule.path_contains in unquote(path)
                if rule.operation == operation and matches and rule.times != 0:
                    rule.times -= 1 if rule.times > 0 else 0
                    rule.hits += 1
                    return rule
        return None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        operation = bedrock_operation(request.command, request.path, request.headers.get("Authorization", ""))
        if operation:
            self.calls[operation] += 1
        rule = self._rule_for(operation, request.path)
        if rule is not None and rule.error is not None:
            self._reply(request, *self._error(operation, rule.error))
            return
        if rule is not None and rule.hold == "before":
            rule.arrived.set()
            rule.release.wait(120)
            request.close_connection = True  # the caller is gone: answer nothing
            return
        answer = self.bedrock.handle(request.command, request.path, body) if self.bedrock else None
        status, headers, payload = answer or self._forward(request, body)
        if rule is not None and rule.hold == "after":
            rule.arrived.set()  # it is done; the answer never reaches the caller
            rule.release.wait(120)
            request.close_connection = True
            return
        self._reply(request, status, headers, payload)

    @staticmethod
    def _error(operation: str | None, name: str) -> tuple[int, dict[str, str], bytes]:
        if operation == S3:
            status, code, message = S3_ERRORS[name]
            document = (
                f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}'
                "</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
            )
            return status, {"Content-Type": "application/xml"}, document.encode()
        status, code = ERRORS[name]
        return status, {"x-amzn-ErrorType": code}, json.dumps({"message": f"{code} (injected)"}).encode()

    def _forward(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream, timeout=60)
        headers = {key: value for key, value in request.headers.items() if key.lower() != "host"}
        headers["Host"] = self.upstream
        connection.request(request.command, request.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        kept = {
            key: value
            for key, value in response.getheaders()
            if key.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date")
        }
        connection.close()
        return response.status, kept, payload

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], payload: bytes) -> None:
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(payload)


class TcpCut:
    """A TCP forwarder in front of a server (PostgreSQL) that can be cut — every connection closed, new ones
    refused, as while the server restarts — and restored on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown wakes the accept() blocked on it (Linux)
        with self._lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            _close(connection)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()
