"""Bedrock Runtime's Converse on real boto3 clients: botocore's Stubber for the request and the error
mapping (moto has no Converse), answers at botocore's send boundary for its retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from services.aws.clients import ClientOptions, bedrock_client, bedrock_runtime_client
from services.aws.errors import AccessDenied, AwsError, Rejected, Throttled, TransientError
from services.aws.runtime import BedrockInference, make_inference
from services.evaluation.inference import Reply
from services.platform.config import load_settings
from tests.aws.http_answers import HttpAnswers, error, ok

MODEL = "us.meta.llama3-2-11b-instruct-v1:0"
# Nothing listens here: an attempt that no answer intercepts fails instead of reaching AWS.
NOWHERE = "http://127.0.0.1:9"
OPTIONS = ClientOptions("us-west-2", NOWHERE, credentials=("testing", "testing"), max_attempts=3)


def make(options: ClientOptions = OPTIONS) -> BedrockInference:
    return BedrockInference(runtime=bedrock_runtime_client(options), control=bedrock_client(options))


@pytest.fixture
def stubbed() -> Iterator[tuple[BedrockInference, Stubber]]:
    inference = make()
    with Stubber(inference.runtime) as runtime_stub:
        yield inference, runtime_stub
        runtime_stub.assert_no_pending_responses()


def converse_response(text: str) -> dict[str, object]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1612, "outputTokens": 3, "totalTokens": 1615},
        "metrics": {"latencyMs": 200},
    }


def test_converse_sends_text_then_image_with_greedy_decoding_and_reads_usage(
    stubbed: tuple[BedrockInference, Stubber],
) -> None:
    inference, runtime = stubbed
    runtime.add_response(
        "converse",
        converse_response(" 42 \n"),
        {
            "modelId": MODEL,
            "system": [{"text": "Answer with the number only."}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "Highest bar?"},
                        {"image": {"format": "png", "source": {"bytes": b"png-bytes"}}},
                    ],
                }
            ],
            "inferenceConfig": {"maxTokens": 64, "temperature": 0.0},
        },
    )
    reply = inference.converse(
        MODEL, "Answer with the number only.", "Highest bar?", b"png-bytes", "png", max_tokens=64
    )
    assert reply == Reply("42", 1612, 3)


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 429, Throttled),
        ("ServiceUnavailableException", 503, Throttled),
        ("ModelNotReadyException", 429, Throttled),
        ("ModelTimeoutException", 408, TransientError),
        ("InternalServerException", 500, TransientError),
        ("ValidationException", 400, Rejected),
        ("AccessDeniedException", 403, AccessDenied),
        ("ModelErrorException", 424, AwsError),
    ],
)
def test_converse_errors_are_mapped_so_the_runner_knows_what_to_do(
    stubbed: tuple[BedrockInference, Stubber], code: str, status: int, expected: type[AwsError]
) -> None:
    inference, runtime = stubbed
    runtime.add_client_error(
        "converse", service_error_code=code, service_message="nope", http_status_code=status
    )
    with pytest.raises(expected) as caught:
        inference.converse(MODEL, None, "q", None, None)
    assert type(caught.value) is expected and caught.value.code == code


def test_access_denied_says_which_permissions_to_grant(stubbed: tuple[BedrockInference, Stubber]) -> None:
    inference, runtime = stubbed
    runtime.add_client_error("converse", service_error_code="AccessDeniedException", http_status_code=403)
    with pytest.raises(AccessDenied, match="bedrock:InvokeModel"):
        inference.converse(MODEL, None, "q", None, None)


def test_a_throttled_converse_is_retried_by_botocore_and_answers(retry_delays: list[float]) -> None:
    inference = make()
    attempts = HttpAnswers(
        inference.runtime,
        "Converse",
        [
            error("ThrottlingException", 429),
            error("InternalServerException", 500),
            ok(converse_response("7")),
        ],
    )

    assert inference.converse(MODEL, None, "How many bars?", None, None).text == "7"
    assert attempts.calls == 3
    assert len(retry_delays) == 2


def test_a_throttle_that_outlasts_max_attempts_reaches_the_runner_as_throttled(
    retry_delays: list[float],
) -> None:
    inference = make()
    attempts = HttpAnswers(inference.runtime, "Converse", [error("ThrottlingException", 429)] * 5)

    with pytest.raises(Throttled):
        inference.converse(MODEL, None, "q", None, None)
    assert attempts.calls == OPTIONS.max_attempts == 3
    assert len(retry_delays) == 2


def test_a_rejected_request_is_not_retried(retry_delays: list[float]) -> None:
    inference = make()
    attempts = HttpAnswers(inference.runtime, "Converse", [error("ValidationException", 400)])

    with pytest.raises(Rejected, match="invalid"):
        inference.converse(MODEL, None, "q", None, None)
    assert attempts.calls == 1 and retry_delays == []


def test_the_production_inference_takes_the_retry_policy_from_the_settings() -> None:
    settings = load_settings(AWS_RETRY_MODE="adaptive", AWS_MAX_ATTEMPTS=7, AWS_ENDPOINT_URL=NOWHERE)
    inference = make_inference(settings)
    for client in (inference.runtime, inference.control):
        retries = client.meta.config.retries
        assert retries is not None
        assert (retries["mode"], retries["total_max_attempts"]) == ("adaptive", 7)
    assert inference.runtime.meta.config.read_timeout == 120
