"""Answers chosen HTTP attempts of one AWS operation at botocore's send boundary, and counts every attempt.

``before-send`` is emitted once per HTTP attempt, after botocore has signed the request and before it
goes to the network (or to moto, whose own hook runs after ours: ``register_first``). An answer given
here is parsed by botocore and judged by its retry handler exactly as AWS's would be, so a test counts
the attempts botocore's retry mode really makes. With no answer left, the attempt goes through.

Error bodies follow the restJson1 protocol of Bedrock and Bedrock Runtime: the code in the
``x-amzn-ErrorType`` header, the text in ``message`` (the Smithy restJson1 specification,
https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html#operation-error-serialization).
S3's (restXml) are an ``<Error>`` document with ``Code`` and ``Message``, e.g. 503 ``SlowDown``
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html): ``s3_error``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries.standard import ExponentialBackoff


class _Body(BytesIO):
    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        while chunk := self.read():
            yield chunk


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    code: str | None = None
    xml: bytes | None = None  # S3's error document, sent as the body instead of ``body``


def error(code: str, status: int) -> Answer:
    return Answer(status, {"message": f"{code} (injected)"}, code)


def s3_error(code: str, status: int, message: str = "Please reduce your request rate.") -> Answer:
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
    )
    return Answer(status, {}, xml=document.encode())


def ok(body: dict[str, Any]) -> Answer:
    return Answer(200, body)


class HttpAnswers:
    """The next HTTP attempts of ``operation`` get ``answers``, in order; ``calls`` counts every attempt."""

    def __init__(self, client: Any, operation: str, answers: list[Answer]) -> None:
        self.answers = list(answers)
        self.calls = 0
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-send.{service}.{operation}", self)

    def __call__(self, request: Any, **_kwargs: Any) -> AWSResponse | None:
        self.calls += 1
        if not self.answers:
            return None
        answer = self.answers.pop(0)
        if answer.xml is not None:
            return AWSResponse(
                request.url, answer.status, {"Content-Type": "application/xml"}, _Body(answer.xml)
            )
        headers = {"Content-Type": "application/json"}
        if answer.code:
            headers["x-amzn-ErrorType"] = answer.code
        return AWSResponse(request.url, answer.status, headers, _Body(json.dumps(answer.body).encode()))


@pytest.fixture
def retry_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays botocore's standard/adaptive retry mode chose, in order; the test does not wait them."""
    delays: list[float] = []
    original = ExponentialBackoff.delay_amount

    def record(self: ExponentialBackoff, context: Any) -> float:
        delays.append(original(self, context))
        return 0.0

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", record)
    return delays
