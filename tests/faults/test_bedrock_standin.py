"""The proxy's Provisioned Throughput and Converse answer as Bedrock does, seen through boto3's own
clients (so botocore parses every answer and error as it would AWS's): see tests.faults.bedrock_standin
for the API reference each behaviour comes from."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.faults.proxy import FaultProxy
from tests.faults.s3_files import chart_png
from tests.jobs.conftest import REGION, moto_jobs

CUSTOM_MODEL = "arn:aws:bedrock:us-west-2:123456789012:custom-model/tunebot-made-earlier"


def code_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def ask(runtime: Any, model_id: str) -> Any:
    image = {"image": {"format": "png", "source": {"bytes": chart_png()}}}
    return runtime.converse(
        modelId=model_id,
        messages=[{"role": "user", "content": [{"text": "What is the value of bar 4?"}, image]}],
        inferenceConfig={"maxTokens": 16, "temperature": 0.0},
    )


def test_a_throughput_comes_up_answers_and_is_gone_once_deleted(proxy: FaultProxy) -> None:
    assert proxy.bedrock is not None
    proxy.bedrock.ready_after = 0.5
    proxy.bedrock.custom_models = lambda: {CUSTOM_MODEL}
    control = boto3.client("bedrock", region_name=REGION, endpoint_url=proxy.url)
    runtime = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=proxy.url)
    with pytest.raises(ClientError) as unknown_model:
        control.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="x", modelId="arn:nope"
        )
    assert code_of(unknown_model) == (404, "ResourceNotFoundException")

    made = dict(
        modelUnits=1, provisionedModelName="tunebot-eval-j1", modelId=CUSTOM_MODEL, clientRequestToken="t1"
    )
    arn = control.create_provisioned_model_throughput(**made)["provisionedModelArn"]
    assert control.create_provisioned_model_throughput(**made)["provisionedModelArn"] == arn, "same token"
    assert (
        control.get_provisioned_model_throughput(provisionedModelId="tunebot-eval-j1")["status"] == "Creating"
    )
    with pytest.raises(ClientError) as not_ready:
        ask(runtime, arn)
    assert code_of(not_ready) == (400, "ValidationException")
    time.sleep(0.6)
    got = control.get_provisioned_model_throughput(provisionedModelId=arn)
    assert (got["status"], got["modelArn"], got["creationTime"].tzinfo is not None) == (
        "InService",
        CUSTOM_MODEL,
        True,
    )
    reply = ask(runtime, arn)
    assert reply["output"]["message"]["content"] == [{"text": "value 4"}]
    assert reply["stopReason"] == "end_turn"

    [summary] = control.list_provisioned_model_throughputs(nameContains="tunebot-eval-")[
        "provisionedModelSummaries"
    ]
    assert summary["provisionedModelArn"] == arn
    control.delete_provisioned_model_throughput(provisionedModelId=arn)
    assert control.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    for call in (control.get_provisioned_model_throughput, control.delete_provisioned_model_throughput):
        with pytest.raises(ClientError) as gone:
            call(provisionedModelId=arn)
        assert code_of(gone) == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as deleted:
        ask(runtime, arn)
    assert code_of(deleted) == (400, "ValidationException")
    assert not moto_jobs()


def test_converse_takes_llama_3_2_on_demand_only_through_its_inference_profile(proxy: FaultProxy) -> None:
    runtime = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=proxy.url)
    reply = ask(runtime, "us.meta.llama3-2-11b-instruct-v1:0")
    assert reply["output"]["message"]["content"] == [{"text": "value 4 exactly"}]
    assert reply["usage"]["inputTokens"] > 0
    with pytest.raises(ClientError) as bare:
        ask(runtime, "meta.llama3-2-11b-instruct-v1:0")
    assert code_of(bare) == (400, "ValidationException")
    assert "with on-demand throughput isn\u2019t supported" in str(bare.value)
    with pytest.raises(ClientError) as not_an_image:
        runtime.converse(
            modelId="us.meta.llama3-2-11b-instruct-v1:0",
            messages=[
                {"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": b"nope"}}}]}
            ],
        )
    assert code_of(not_an_image) == (400, "ValidationException")
