"""Bedrock's Provisioned Throughput calls on real boto3 clients: botocore's Stubber for requests and
answers (moto has no Provisioned Throughput), answers at botocore's send boundary for its retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.stub import ANY, Stubber

from services.aws.clients import ClientOptions, bedrock_client
from services.aws.errors import AwsError
from services.aws.throughput import ProvisionedThroughputs, ThroughputNotReady
from tests.aws.http_answers import HttpAnswers, error, ok

PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc"
MODEL_ARN = "arn:aws:bedrock:us-west-2:123456789012:custom-model/tuned"
FOUNDATION_ARN = "arn:aws:bedrock:us-west-2::foundation-model/meta.llama3-2-11b-instruct-v1:0:128k"
# Nothing listens here: an attempt that no answer intercepts fails instead of reaching AWS.
OPTIONS = ClientOptions("us-west-2", "http://127.0.0.1:9", credentials=("testing", "testing"))


def make() -> ProvisionedThroughputs:
    clock = iter(range(0, 10_000, 10))
    return ProvisionedThroughputs(
        control=bedrock_client(OPTIONS), sleep=lambda _: None, clock=lambda: float(next(clock))
    )


@pytest.fixture
def stubbed() -> Iterator[tuple[ProvisionedThroughputs, Stubber]]:
    throughputs = make()
    with Stubber(throughputs.control) as control_stub:
        yield throughputs, control_stub
        control_stub.assert_no_pending_responses()


def test_a_throughput_is_one_unit_without_commitment_tagged_and_retried_on_throttling(
    retry_delays: list[float],
) -> None:
    throughputs = make()
    sent: list[bytes] = []
    attempts = HttpAnswers(
        throughputs.control,
        "CreateProvisionedModelThroughput",
        [error("ThrottlingException", 429), ok({"provisionedModelArn": PT_ARN})],
    )
    throughputs.control.meta.events.register_first(
        "before-send.bedrock.CreateProvisionedModelThroughput", lambda request, **_: sent.append(request.body)
    )

    arn = throughputs.create_provisioned_throughput(MODEL_ARN, "tunebot-eval-job1", {"tunebot:job": "job1"})

    assert arn == PT_ARN
    assert attempts.calls == 2 and len(retry_delays) == 1
    assert sent[0] == sent[1]  # the same client token: a retry after a lost answer never makes a second


def test_the_create_request_is_one_unit_tagged_as_tunebots(
    stubbed: tuple[ProvisionedThroughputs, Stubber],
) -> None:
    throughputs, control = stubbed
    expected = {
        "clientRequestToken": ANY,
        "modelUnits": 1,
        "provisionedModelName": "tunebot-eval-job1",
        "modelId": MODEL_ARN,
        "tags": [{"key": "tunebot:job", "value": "job1"}, {"key": "tunebot:owner", "value": "tunebot"}],
    }
    control.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN}, expected)
    assert (
        throughputs.create_provisioned_throughput(MODEL_ARN, "tunebot-eval-job1", {"tunebot:job": "job1"})
        == PT_ARN
    )


def test_a_quota_refusal_says_which_quota_to_raise(stubbed: tuple[ProvisionedThroughputs, Stubber]) -> None:
    throughputs, control = stubbed
    control.add_client_error(
        "create_provisioned_model_throughput", "ServiceQuotaExceededException", http_status_code=400
    )
    with pytest.raises(AwsError, match="no-commitment model units"):
        throughputs.create_provisioned_throughput(MODEL_ARN, "tunebot-eval-job1", {})


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


def test_waiting_polls_until_in_service(stubbed: tuple[ProvisionedThroughputs, Stubber]) -> None:
    throughputs, control = stubbed
    control.add_response("get_provisioned_model_throughput", get_response("Creating"))
    control.add_response("get_provisioned_model_throughput", get_response("InService"))
    throughputs.wait_in_service(PT_ARN, timeout=600)


def test_waiting_reports_a_failed_throughput_with_bedrocks_reason(
    stubbed: tuple[ProvisionedThroughputs, Stubber],
) -> None:
    throughputs, control = stubbed
    control.add_response(
        "get_provisioned_model_throughput", get_response("Failed", failureMessage="no capacity")
    )
    with pytest.raises(AwsError, match="no capacity"):
        throughputs.wait_in_service(PT_ARN, timeout=600)


def test_waiting_gives_up_after_the_timeout(stubbed: tuple[ProvisionedThroughputs, Stubber]) -> None:
    throughputs, control = stubbed
    control.add_response("get_provisioned_model_throughput", get_response("Creating"))
    control.add_response("get_provisioned_model_throughput", get_response("Creating"))
    with pytest.raises(ThroughputNotReady, match="still Creating"):
        throughputs.wait_in_service(PT_ARN, timeout=15)


def test_describe_and_delete_treat_a_missing_throughput_as_gone(
    stubbed: tuple[ProvisionedThroughputs, Stubber],
) -> None:
    throughputs, control = stubbed
    control.add_client_error(
        "get_provisioned_model_throughput", "ResourceNotFoundException", http_status_code=404
    )
    control.add_client_error(
        "delete_provisioned_model_throughput", "ResourceNotFoundException", http_status_code=404
    )
    assert throughputs.describe_provisioned_throughput("tunebot-eval-job1") is None
    throughputs.delete_provisioned_throughput(PT_ARN)


def test_only_throughputs_tagged_as_tunebots_are_listed_as_owned(
    stubbed: tuple[ProvisionedThroughputs, Stubber],
) -> None:
    throughputs, control = stubbed
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

    owned = throughputs.list_owned_provisioned_throughputs()

    assert [(item.arn, item.job_id, item.created_at, item.status) for item in owned] == [
        (ours, "job1", created, "InService")
    ]
