"""What moto lacks and the evaluation needs: Bedrock's Provisioned Throughput API and bedrock-runtime's
Converse, answered by the fault proxy (tests.faults.proxy) as strictly as Bedrock answers them.

Paths, fields and errors are those of Bedrock's API reference (the same as botocore's service model):
- CreateProvisionedModelThroughput ``POST /provisioned-model-throughput`` -> 201 ``provisionedModelArn``;
  a repeated ``clientRequestToken`` returns the same throughput
  (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateProvisionedModelThroughput.html)
- GetProvisionedModelThroughput ``GET /provisioned-model-throughput/{provisionedModelId}`` (ARN or name);
  ``status`` Creating | InService | Updating | Failed
  (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetProvisionedModelThroughput.html)
- DeleteProvisionedModelThroughput ``DELETE /provisioned-model-throughput/{provisionedModelId}`` -> 200 ``{}``
  (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_DeleteProvisionedModelThroughput.html)
- ListProvisionedModelThroughputs ``GET /provisioned-model-throughputs`` with ``nameContains``,
  ``statusEquals``, ``maxResults`` (1-1000) and ``nextToken``; ``provisionedModelSummaries``
  (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListProvisionedModelThroughputs.html,
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ProvisionedModelSummary.html)
- ListTagsForResource ``POST /listTagsForResource`` ``{"resourceARN"}`` for a throughput's ARN (moto answers
  for its own resources) (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListTagsForResource.html)
- Converse ``POST /model/{modelId}/converse``: ``output.message.content[].text``, ``stopReason``,
  ``usage`` (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
  Llama 3.2 answers on demand only through an inference profile (``us.meta.llama3-2-...``): its bare model
  id is refused with Bedrock's "on-demand throughput isn't supported" ValidationException
  (https://github.com/langchain-ai/langchain-aws/issues/258); a custom model answers only on an InService
  Provisioned Throughput, and any other identifier (a throughput still Creating, deleted, or never made)
  gets Bedrock's "The provided model identifier is invalid." ValidationException.
An unknown throughput is ResourceNotFoundException 404; errors are REST-JSON (``x-amzn-ErrorType``, a
``message``), as in tests.faults.proxy.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from PIL import Image, UnidentifiedImageError

Answer = tuple[int, dict[str, str], bytes]
ACCOUNT = "123456789012"
REGION = "us-west-2"
# Llama 3.2's on-demand identifiers: the US cross-region inference profiles (the issue above, pointing to
# https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference-support.html)
INFERENCE_PROFILES = frozenset({"us.meta.llama3-2-11b-instruct-v1:0", "us.meta.llama3-2-90b-instruct-v1:0"})
IMAGE_FORMATS = frozenset({"gif", "jpeg", "png", "webp"})
_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")
_THROUGHPUT = re.compile(r"^/provisioned-model-throughput/(?P<id>[^/]+)$")
_CONVERSE = re.compile(r"^/model/(?P<model>[^/]+)/converse$")
INVALID_MODEL = "The provided model identifier is invalid."
FOUNDATION_MODEL = "meta.llama3-2-11b-instruct-v1:0"


@dataclass
class Throughput:
    arn: str
    name: str
    model_arn: str
    units: int
    tags: list[dict[str, str]]
    token: str | None
    created: datetime
    ready_at: float | None  # time.monotonic() when it becomes InService; None: never

    def status(self) -> str:
        return "InService" if self.ready_at is not None and time.monotonic() >= self.ready_at else "Creating"

    def summary(self) -> dict[str, Any]:
        stamp = self.created.isoformat().replace("+00:00", "Z")
        return {
            "provisionedModelName": self.name,
            "provisionedModelArn": self.arn,
            "modelArn": self.model_arn,
            "desiredModelArn": self.model_arn,
            "foundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{FOUNDATION_MODEL}",
            "modelUnits": self.units,
            "desiredModelUnits": self.units,
            "status": self.status(),
            "creationTime": stamp,
            "lastModifiedTime": stamp,
        }


def error(status: int, code: str, message: str) -> Answer:
    return (
        status,
        {"x-amzn-ErrorType": code, "Content-Type": "application/json"},
        json.dumps({"message": message}).encode(),
    )


def ok(body: dict[str, Any], status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class BedrockStandIn:
    """Provisioned Throughputs and Converse, kept in memory. ``custom_models`` says which custom model ARNs
    exist (moto's completed jobs); ``answer(model_id, question)`` is the model's reply; a throughput comes
    up ``ready_after`` seconds after it is created (None: it never does)."""

    def __init__(
        self,
        custom_models: Callable[[], set[str]],
        answer: Callable[[str, str], str],
        ready_after: float | None = 2.0,
    ) -> None:
        self.custom_models = custom_models
        self.answer = answer
        self.ready_after = ready_after
        self.throughputs: dict[str, Throughput] = {}
        self.created = 0
        self.conversations: list[str] = []  # the model id of every answered Converse
        self._lock = threading.Lock()

    def handle(self, method: str, raw_path: str, body: bytes) -> Answer | None:
        """Bedrock's answer, or None for a request moto answers."""
        parts = urlsplit(raw_path)
        path = parts.path
        if method == "POST" and path == "/provisioned-model-throughput":
            return self._create(_json(body))
        if method == "GET" and path == "/provisioned-model-throughputs":
            return self._list(parse_qs(parts.query))
        if match := _THROUGHPUT.match(path):
            if method == "GET":
                return self._get(unquote(match["id"]))
            if method == "DELETE":
                return self._delete(unquote(match["id"]))
        if method == "POST" and path == "/listTagsForResource":
            arn = str(_json(body).get("resourceARN", ""))
            return self._tags(arn) if ":provisioned-model/" in arn else None
        if method == "POST" and (match := _CONVERSE.match(path)):
            return self._converse(unquote(match["model"]), _json(body))
        return None

    def left(self) -> int:
        with self._lock:
            return len(self.throughputs)

    def _find(self, identifier: str) -> Throughput | None:
        return self.throughputs.get(identifier) or next(
            (t for t in self.throughputs.values() if t.name == identifier), None
        )

    def _create(self, request: dict[str, Any]) -> Answer:
        name, model, units = (
            request.get("provisionedModelName"),
            request.get("modelId"),
            request.get("modelUnits"),
        )
        if not isinstance(units, int) or units < 1:
            return error(400, "ValidationException", "modelUnits must be an integer of at least 1")
        if not isinstance(name, str) or not _NAME.match(name):
            return error(
                400, "ValidationException", "provisionedModelName does not match the required pattern"
            )
        tags = request.get("tags") or []
        if len(tags) > 50:
            return error(400, "TooManyTagsException", "A resource can have at most 50 tags")
        if model not in self.custom_models():
            return error(404, "ResourceNotFoundException", f"Model {model} not found")
        token = request.get("clientRequestToken")
        with self._lock:
            for existing in self.throughputs.values():
                if token is not None and existing.token == token:
                    return ok({"provisionedModelArn": existing.arn}, 201)  # the same request, again
                if existing.name == name:
                    return error(400, "ValidationException", f"Provisioned model name {name} already exists")
            arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/{secrets.token_hex(6)}"
            ready_at = None if self.ready_after is None else time.monotonic() + self.ready_after
            self.throughputs[arn] = Throughput(
                arn, name, str(model), units, list(tags), token, datetime.now(UTC), ready_at
            )
            self.created += 1
        return ok({"provisionedModelArn": arn}, 201)

    def _get(self, identifier: str) -> Answer:
        with self._lock:
            found = self._find(identifier)
            if found is None:
                return error(404, "ResourceNotFoundException", f"Provisioned model {identifier} not found")
            return ok(found.summary())

    def _delete(self, identifier: str) -> Answer:
        with self._lock:
            found = self._find(identifier)
            if found is None:
                return error(404, "ResourceNotFoundException", f"Provisioned model {identifier} not found")
            del self.throughputs[found.arn]
        return ok({})

    def _list(self, query: dict[str, list[str]]) -> Answer:
        contains = (query.get("nameContains") or [""])[0]
        status = (query.get("statusEquals") or [None])[0]
        size = int((query.get("maxResults") or ["1000"])[0])
        if not 1 <= size <= 1000:
            return error(400, "ValidationException", "maxResults must be between 1 and 1000")
        start = int((query.get("nextToken") or ["0"])[0])
        with self._lock:
            matching = [
                t.summary()
                for t in sorted(self.throughputs.values(), key=lambda t: t.created)
                if contains in t.name and (status is None or t.status() == status)
            ]
        page: dict[str, Any] = {"provisionedModelSummaries": matching[start : start + size]}
        if start + size < len(matching):
            page["nextToken"] = str(start + size)
        return ok(page)

    def _tags(self, arn: str) -> Answer:
        with self._lock:
            found = self.throughputs.get(arn)
            if found is None:
                return error(404, "ResourceNotFoundException", f"Resource {arn} not found")
            return ok({"tags": found.tags})

    def _converse(self, model_id: str, request: dict[str, Any]) -> Answer:
        if model_id.startswith("meta.llama3-2-"):
            return error(
                400,
                "ValidationException",
                f"Invocation of model ID {model_id} with on-demand throughput isn\u2019t supported. "
                "Retry your request with the ID or ARN of an inference profile that contains this model.",
            )
        with self._lock:
            throughput = self.throughputs.get(model_id)
            usable = model_id in INFERENCE_PROFILES or (
                throughput is not None and throughput.status() == "InService"
            )
        if not usable:
            return error(400, "ValidationException", INVALID_MODEL)
        refused = _converse_refusal(request)
        if refused is not None:
            return error(400, "ValidationException", refused)
        question = " ".join(
            str(part["text"]) for part in request["messages"][-1]["content"] if "text" in part
        )
        text = self.answer(model_id, question)
        with self._lock:
            self.conversations.append(model_id)
        input_tokens, output_tokens = 100 + len(question.split()), len(text.split())
        return ok(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "end_turn",
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": 12},
            }
        )


def _converse_refusal(request: dict[str, Any]) -> str | None:
    """What Converse refuses in a request the evaluation could send, as Bedrock words it; None if fine."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages or messages[0].get("role") != "user":
        return (
            "A conversation must start with a user message. Try again with a conversation that starts "
            "with a user message."
        )
    config = request.get("inferenceConfig") or {}
    if int(config.get("maxTokens", 1)) < 1 or not 0 <= float(config.get("temperature", 0)) <= 1:
        return "The value of inferenceConfig is not valid (maxTokens at least 1, temperature 0 to 1)."
    for part in messages[-1].get("content") or []:
        image = part.get("image")
        if image is None:
            continue
        if image.get("format") not in IMAGE_FORMATS:
            return f"The format of the image is not supported: {image.get('format')}"
        try:
            data = base64.b64decode(image["source"]["bytes"], validate=True)
            with Image.open(io.BytesIO(data)) as decoded:
                decoded.verify()
        except (KeyError, binascii.Error, UnidentifiedImageError, OSError):
            return "The provided image could not be processed. Check the image and try again."
    return None


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
