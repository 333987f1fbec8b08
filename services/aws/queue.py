"""Bedrock's job state-change events, as EventBridge delivers them to an SQS queue tunebot long-polls.

The rule (README, "Push") matches ``source: aws.bedrock`` and ``detail-type: Model Customization Job State
Change`` and targets the queue; EventBridge puts the whole event in each message's body. Bedrock's
documented event (https://docs.aws.amazon.com/bedrock/latest/userguide/monitoring-eventbridge-how-it-works.html)
carries the job in ``detail.jobName`` and ``detail.jobArn`` (with ``detail.version`` "0.0"); only the name is
read here, since the state is read back from Bedrock.

Events are best effort and may come twice or out of order: a message is only a hint of *which* job to look
at; the caller reads the job's current state from Bedrock itself. A body that is not such an event is
reported as unusable (so it is deleted rather than redelivered forever).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.aws.errors import aws_errors

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

EVENT_SOURCE = "aws.bedrock"
EVENT_DETAIL_TYPE = "Model Customization Job State Change"
EVENT_PATTERN: dict[str, list[str]] = {"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE]}
# Under SQS's 20 s maximum, so a stopping replica's listener ends within 10 s; still one call per 10 s idle.
LONG_POLL_SECONDS = 10
MAX_MESSAGES = 10  # SQS's most per receive
MAX_BODY_CHARS = 262_144  # SQS's largest message (256 KiB); larger bodies are not Bedrock's events


@dataclass(frozen=True, slots=True)
class JobStateEvent:
    """One delivered message: the job it names (None when the body is not a Bedrock job event)."""

    receipt: str
    job_name: str | None
    problem: str | None = None  # why the body is unusable, for the log


def parse_event(body: str) -> tuple[str | None, str | None]:
    """(job name, problem) from a message body as EventBridge delivers it."""
    if len(body) > MAX_BODY_CHARS:
        return None, "body larger than any SQS message"
    try:
        event: Any = json.loads(body)
    except ValueError:
        return None, "body is not JSON"
    if not isinstance(event, dict):
        return None, "body is not a JSON object"
    if event.get("source") != EVENT_SOURCE or event.get("detail-type") != EVENT_DETAIL_TYPE:
        return None, "not a Bedrock model customization job state change"
    detail = event.get("detail")
    name = detail.get("jobName") if isinstance(detail, dict) else None
    if not isinstance(name, str) or not name:
        return None, "the event names no job (detail.jobName)"
    return name, None


class JobEventQueue:
    """The SQS queue EventBridge delivers Bedrock's job events to."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def receive(self, wait_seconds: int = LONG_POLL_SECONDS) -> list[JobStateEvent]:
        """Up to ten events, waiting up to ``wait_seconds`` for the first (SQS long polling)."""
        with aws_errors("ReceiveMessage"):
            response = self._client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=MAX_MESSAGES, WaitTimeSeconds=wait_seconds
            )
        events = []
        for message in response.get("Messages", []):
            name, problem = parse_event(message.get("Body", ""))
            events.append(JobStateEvent(message["ReceiptHandle"], name, problem))
        return events

    def delete(self, receipts: list[str]) -> None:
        """Delete handled messages (SQS redelivers the rest after their visibility timeout)."""
        if not receipts:
            return
        entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": receipt} for index, receipt in enumerate(receipts)
        ]
        with aws_errors("DeleteMessageBatch"):
            self._client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

    def attributes(self) -> dict[str, str]:
        """The queue's ARN, policy and backlog: what ``tunebot doctor`` checks."""
        with aws_errors("GetQueueAttributes"):
            response = self._client.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=["QueueArn", "Policy", "ApproximateNumberOfMessages"],
            )
        return {str(key): value for key, value in response.get("Attributes", {}).items()}
