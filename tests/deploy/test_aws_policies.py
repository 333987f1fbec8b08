"""aws/*.json: the IAM documents of the README's AWS setup (reference/bedrock-llama32.md, IAM)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

AWS = Path(__file__).resolve().parents[2] / "aws"
POLICIES = ("trust-policy.json", "permissions-policy.json", "caller-policy.json")
_SID = re.compile(r"^[A-Za-z0-9]+$")
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")


def load(name: str) -> dict[str, Any]:
    document = json.loads((AWS / name).read_text())
    assert isinstance(document, dict)
    return document


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def statements(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = load(name)["Statement"]
    return found


def actions(name: str) -> set[str]:
    return {action for statement in statements(name) for action in as_list(statement["Action"])}


def granting(name: str, action: str) -> list[dict[str, Any]]:
    return [s for s in statements(name) if action in as_list(s["Action"]) and s["Effect"] == "Allow"]


def resources_for(name: str, action: str) -> set[str]:
    return {resource for s in granting(name, action) for resource in as_list(s["Resource"])}


@pytest.mark.parametrize("name", POLICIES)
def test_is_an_iam_policy_document(name: str) -> None:
    document = load(name)
    assert document["Version"] == "2012-10-17"
    assert isinstance(document["Statement"], list) and document["Statement"]
    sids = [statement.get("Sid") for statement in document["Statement"]]
    assert len(sids) == len(set(sids)), "Sids must be unique"
    for statement in document["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        assert statement["Action"]
        assert all(_ACTION.match(action) for action in as_list(statement["Action"])), statement["Action"]
        assert "Sid" not in statement or _SID.match(statement["Sid"]), statement["Sid"]
        if name == "trust-policy.json":
            # A trust policy names who may assume the role, not resources.
            assert "Principal" in statement and "Resource" not in statement
        else:
            assert statement["Resource"] and "Principal" not in statement
            assert all(r == "*" or r.startswith("arn:aws:") for r in as_list(statement["Resource"]))


@pytest.mark.parametrize("name", POLICIES)
def test_uses_placeholders_not_real_accounts(name: str) -> None:
    text = (AWS / name).read_text()
    assert not re.search(r"\b\d{12}\b", text), "a real account ID does not belong in the repository"


def test_trust_policy_lets_only_bedrock_customization_jobs_of_this_account_assume_the_role() -> None:
    (statement,) = statements("trust-policy.json")
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    condition = statement["Condition"]
    assert condition["StringEquals"]["aws:SourceAccount"] == "ACCOUNT_ID"
    assert (
        condition["ArnLike"]["aws:SourceArn"]
        == "arn:aws:bedrock:us-west-2:ACCOUNT_ID:model-customization-job/*"
    )


def test_permissions_policy_reads_data_and_writes_outputs() -> None:
    assert actions("permissions-policy.json") == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    assert "arn:aws:s3:::BUCKET/PREFIX/*" in resources_for("permissions-policy.json", "s3:GetObject")
    puts = resources_for("permissions-policy.json", "s3:PutObject")
    assert puts and all(r.startswith("arn:aws:s3:::BUCKET/PREFIX/") for r in puts)
    assert resources_for("permissions-policy.json", "s3:ListBucket") == {"arn:aws:s3:::BUCKET"}
    # The training role gets nothing beyond S3.
    assert all(action.startswith("s3:") for action in actions("permissions-policy.json"))


def test_caller_policy_has_the_job_service_actions() -> None:
    assert {
        "bedrock:CreateModelCustomizationJob",
        "bedrock:GetModelCustomizationJob",
        "bedrock:ListModelCustomizationJobs",
        "bedrock:StopModelCustomizationJob",
        "bedrock:GetFoundationModel",
        "bedrock:ListFoundationModels",
        "bedrock:CreateProvisionedModelThroughput",
        "bedrock:GetProvisionedModelThroughput",
        "bedrock:DeleteProvisionedModelThroughput",
        "bedrock:ListProvisionedModelThroughputs",
        # Converse is authorized as bedrock:InvokeModel; there is no separate IAM action for it.
        "bedrock:InvokeModel",
        "bedrock:TagResource",
        "iam:PassRole",
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
    } <= actions("caller-policy.json")


def test_caller_policy_invokes_the_us_profiles_and_provisioned_models() -> None:
    invoke = resources_for("caller-policy.json", "bedrock:InvokeModel")
    for size in ("11b", "90b"):
        assert (
            f"arn:aws:bedrock:us-west-2:ACCOUNT_ID:inference-profile/us.meta.llama3-2-{size}-instruct-v1:0"
            in invoke
        )
        # A cross-region profile also needs the model in each region it routes to.
        assert any(r.endswith(f":foundation-model/meta.llama3-2-{size}-instruct-v1:0") for r in invoke)
    assert "arn:aws:bedrock:us-west-2:ACCOUNT_ID:provisioned-model/*" in invoke


def test_caller_policy_passes_the_role_to_bedrock_only() -> None:
    (statement,) = granting("caller-policy.json", "iam:PassRole")
    assert as_list(statement["Resource"]) and "*" not in as_list(statement["Resource"])
    assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == "bedrock.amazonaws.com"


def test_caller_policy_grants_no_wildcard_actions() -> None:
    assert not [action for action in actions("caller-policy.json") if "*" in action]
    # Only the List calls, which have no resource-level permissions, may use Resource "*".
    for statement in statements("caller-policy.json"):
        if "*" in as_list(statement["Resource"]):
            assert all(":List" in action for action in as_list(statement["Action"])), statement["Sid"]


def test_push_rule_matches_bedrocks_job_events_and_the_caller_reads_its_queue() -> None:
    from services.aws.queue import EVENT_PATTERN

    assert load("events-rule.json") == EVENT_PATTERN
    queue = "arn:aws:sqs:us-west-2:ACCOUNT_ID:tunebot-job-events"
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert resources_for("caller-policy.json", action) == {queue}
    (statement,) = statements("events-queue-policy.json")
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert (statement["Action"], statement["Resource"]) == ("sqs:SendMessage", queue)
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":rule/tunebot-job-events")
