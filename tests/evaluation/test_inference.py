"""The inference boundary on real boto3 clients with botocore's Stubber (moto has no Converse or PT)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from services.evaluation.inference import (
    BedrockInference,
    ExampleRejected,
    InferenceError,
    Reply,
    Throttled,
    ThroughputNotReady,
    TransientError,
)

MODEL = "us.meta.llama3-2-11b-instruct-v1:0"
PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc"
MODEL_ARN = "arn:aws:bedrock:us-west-2:123456789012:custom-model/tuned"
FOUNDATION_ARN = "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-2-11b-instruct-v1:0:128k"


Stubbed = tuple[BedrockInference, Stubber, Stubber]


@pytest.fixture
def stubbed() -> Iterator[Stubbed]:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    runtime = boto3.client("bedrock-runtime", region_name="us-west-2", **credentials)
    control = boto3.client("bedrock", region_name="us-west-2", **credentials)
    with Stubber(runtime) as runtime_stub, Stubber(control) as control_stub:
        clock = iter(range(0, 10_000, 10))
        inference = BedrockInference(
            runtime=runtime, control=control, sleep=lambda _: None, clock=lambda: float(next(clock))
        )
        yield inference, runtime_stub, control_stub
        runtime_stub.assert_no_pending_responses()
        control_stub.assert_no_pending_responses()


def converse_response(text: str) -> dict[str, object]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1612, "outputTokens": 3, "totalTokens": 1615},
        "metrics": {"latencyMs": 200},
    }


def test_converse_sends_text_then_image_with_greedy_decoding_and_reads_usage(stubbed: Stubbed) -> None:
    inference, runtime, _ = stubbed
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
        ("ValidationException", 400, ExampleRejected),
        ("AccessDeniedException", 403, InferenceError),
    ],
)
def test_converse_errors_are_mapped_so_the_runner_knows_what_to_do(
    stubbed: Stubbed, code: str, status: int, expected: type[InferenceError]
) -> None:
    inference, runtime, _ = stubbed
    runtime.add_client_error(
        "converse", service_error_code=code, service_message="nope", http_status_code=status
    )
    with pytest.raises(expected) as caught:
        inference.converse(MODEL, None, "q", None, None)
    assert type(caught.value) is expected and caught.value.code == code


def test_access_denied_says_which_permissions_to_grant(stubbed: Stubbed) -> None:
    inference, runtime, _ = stubbed
    runtime.add_client_error("converse", service_error_code="AccessDeniedException", http_status_code=403)
    with pytest.raises(InferenceError, match="bedrock:InvokeModel"):
        inference.converse(MODEL, None, "q", None, None)


def test_a_throughput_is_one_unit_without_commitment_tagged_and_retried_on_throttling(
    stubbed: Stubbed,
) -> None:
    inference, _, control = stubbed
    expected = {
        "clientRequestToken": ANY,
        "modelUnits": 1,
        "provisionedModelName": "tunebot-eval-job1",
        "modelId": MODEL_ARN,
        "tags": [{"key": "tunebot:job", "value": "job1"}, {"key": "tunebot:owner", "value": "tunebot"}],
    }
    control.add_client_error(
        "create_provisioned_model_throughput", "ThrottlingException", http_status_code=429
    )
    control.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN}, expected)
    assert (
        inference.create_provisioned_throughput(MODEL_ARN, "tunebot-eval-job1", {"tunebot:job": "job1"})
        == PT_ARN
    )


def get_response(status: str, **extra: object) -> dict[str, object]:
    return {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": "tunebot-eval-job1",
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": FOUNDATION_ARN,
        "status": status,
        "creationTime": datetime(2026, 11, 26, tzinfo=UTC),
        "lastModifiedTime": datetime(2026, 11, 26, tzinfo=UTC),
        **extra,
    }


def test_waiting_polls_until_in_service(stubbed: Stubbed) -> None:
    inference, _, control = stubbed
    control.add_response("get_provisioned_model_throughput", get_response("Creating"))
    control.add_response("get_provisioned_model_throughput", get_response("InService"))
    inference.wait_in_service(PT_ARN, timeout=600)


def test_waiting_reports_a_failed_throughput_with_bedrocks_reason(stubbed: Stubbed) -> None:
    inference, _, control = stubbed
    control.add_response(
        "get_provisioned_model_throughput", get_response("Failed", failureMessage="no capacity")
    )
    with pytest.raises(InferenceError, match="no capacity"):
        inference.wait_in_service(PT_ARN, timeout=600)


def test_waiting_gives_up_after_the_timeout(stubbed: Stubbed) -> None:
    inference, _, control = stubbed
    control.add_response("get_provisioned_model_throughput", get_response("Creating"))
    control.add_response("get_provisioned_model_throughput", get_response("Creating"))
    with pytest.raises(ThroughputNotReady, match="still Creating"):
        inference.wait_in_service(PT_ARN, timeout=15)


def test_describe_and_delete_treat_a_missing_throughput_as_gone(stubbed: Stubbed) -> None:
    inference, _, control = stubbed
    control.add_client_error(
        "get_provisioned_model_throughput", "ResourceNotFoundException", http_status_code=404
    )
    control.add_client_error(
        "delete_provisioned_model_throughput", "ResourceNotFoundException", http_status_code=404
    )
    assert inference.describe_provisioned_throughput("tunebot-eval-job1") is None
    inference.delete_provisioned_throughput(PT_ARN)


def test_only_throughputs_tagged_as_tunebots_are_listed_as_owned(stubbed: Stubbed) -> None:
    inference, _, control = stubbed
    created = datetime(2026, 11, 26, 8, tzinfo=UTC)

    def summary(arn: str) -> dict[str, object]:
        return {
            "provisionedModelName": arn.rsplit("/", 1)[-1],
            "provisionedModelArn": arn,
            "modelArn": MODEL_ARN,
            "desiredModelArn": MODEL_ARN,
            "foundationModelArn": FOUNDATION_ARN,
            "modelUnits": 1,
            "desiredModelUnits": 1,
            "status": "InService",
            "creationTime": created,
            "lastModifiedTime": created,
        }

    ours, theirs = f"{PT_ARN}-ours", f"{PT_ARN}-theirs"
    control.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [summary(ours)], "nextToken": "page2"},
        {"nameContains": "tunebot-eval-", "maxResults": 1000},
    )
    control.add_response(
        "list_tags_for_resource",
        {"tags": [{"key": "tunebot:owner", "value": "tunebot"}, {"key": "tunebot:job", "value": "job1"}]},
        {"resourceARN": ours},
    )
    control.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [summary(theirs)]},
        {"nameContains": "tunebot-eval-", "maxResults": 1000, "nextToken": "page2"},
    )
    control.add_response("list_tags_for_resource", {"tags": []}, {"resourceARN": theirs})

    owned = inference.list_owned_provisioned_throughputs()

    assert [(item.arn, item.job_id, item.created_at, item.status) for item in owned] == [
        (ours, "job1", created, "InService")
    ]
