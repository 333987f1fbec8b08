"""The held-out test set as the evaluation reads it: a prepared dataset's files, wherever they are.

``read_test_examples`` turns test.jsonl (Bedrock's record format plus the ``tunebot`` object the dataset
writer adds) into ``HeldOutExample`` values, and ``training_answers`` pulls the expected answers out of
train.jsonl so the baseline prompt can describe their shape. ``DatasetFiles`` reads those files and the
images they name from the local prepared folder when this replica has it, otherwise from the dataset's
S3 prefix. This module changes when the prepared dataset's layout or record format changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from services.aws.errors import AwsError, aws_errors
from services.aws.s3 import split_s3_uri
from services.evaluation.errors import EvaluationFailed
from services.platform.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TEST_FILE = "test.jsonl"
TRAIN_FILE = "train.jsonl"
IMAGES_DIR = "images"
MAX_IMAGE_BYTES = 10 * 1024 * 1024


class TestSetError(EvaluationFailed):
    """test.jsonl (or an image it names) cannot be read; the message names the record and the fix."""

    __test__ = False  # not a pytest class

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True, slots=True)
class HeldOutExample:
    """One test example as the evaluation asks it: the last user turn, its first image, the references."""

    id: str
    question: str
    references: tuple[str, ...]
    system: str | None = None
    image_uri: str | None = None
    image_format: str | None = None


def _texts(content: object) -> list[str]:
    if not isinstance(content, list):
        return []
    return [str(part["text"]) for part in content if isinstance(part, dict) and "text" in part]


def _first_image(content: object) -> tuple[str | None, str | None]:
    if not isinstance(content, list):
        return None, None
    for part in content:
        image = part.get("image") if isinstance(part, dict) else None
        if isinstance(image, dict):
            location = image.get("source", {}).get("s3Location", {})
            uri = location.get("uri") if isinstance(location, dict) else None
            return (str(uri) if uri else None), (str(image.get("format")) if image.get("format") else None)
    return None, None


def parse_test_record(line: str, where: str) -> HeldOutExample:
    """A test.jsonl record (Bedrock's format plus the ``tunebot`` object the dataset writer adds)."""
    fix = "prepare the dataset again with `tunebot prepare` so test.jsonl is rewritten"
    try:
        record = json.loads(line)
    except ValueError as error:
        raise TestSetError(f"{where}: not valid JSON ({error}); {fix}") from None
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(messages, list) or not messages:
        raise TestSetError(f'{where}: no "messages" list; {fix}')
    user_turns = [
        index
        for index, message in enumerate(messages)
        if isinstance(message, dict) and message.get("role") == "user"
    ]
    if not user_turns:
        raise TestSetError(f"{where}: no user turn to ask; {fix}")
    asked = messages[user_turns[-1]]
    answers = [
        " ".join(_texts(message.get("content")))
        for message in messages[user_turns[-1] + 1 :]
        if isinstance(message, dict) and message.get("role") == "assistant"
    ]
    extra = record.get("tunebot") if isinstance(record.get("tunebot"), dict) else {}
    references = tuple(str(item) for item in extra.get("references") or ()) or tuple(answers[:1])
    if not references:
        raise TestSetError(f"{where}: no reference answer (no assistant turn after the question); {fix}")
    system_texts = _texts(record.get("system"))
    image_uri, image_format = _first_image(asked.get("content"))
    question = "\n".join(_texts(asked.get("content")))
    if not question and image_uri is None:
        raise TestSetError(f"{where}: the question has neither text nor an image; {fix}")
    return HeldOutExample(
        id=str(extra.get("id") or where),
        question=question,
        references=references,
        system=system_texts[0] if system_texts else None,
        image_uri=image_uri,
        image_format=image_format,
    )


def read_test_examples(lines: Iterable[str], name: str = TEST_FILE) -> list[HeldOutExample]:
    """Every example of a test file, in order; ids must be unique (each gets one stored answer)."""
    examples: list[HeldOutExample] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        example = parse_test_record(line, f"{name} line {number}")
        if example.id in seen:
            raise TestSetError(
                f"{name} line {number}: example id {example.id!r} appears twice; give it a new id"
            )
        seen.add(example.id)
        examples.append(example)
    if not examples:
        raise TestSetError(f"{name} holds no example: prepare the dataset with a test split (--test-share)")
    return examples


def training_answers(lines: Iterable[str]) -> Iterator[str]:
    """The expected answer (last assistant turn) of each training record; unreadable lines are skipped."""
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list):
            continue
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "assistant":
                yield " ".join(_texts(message.get("content")))
                break


class DatasetSource(Protocol):
    """A prepared dataset's files: JSON Lines by name, images by the URI a record gives."""

    def lines(self, name: str) -> Iterator[str]: ...

    def image(self, uri: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class DatasetLocation:
    dataset_id: str
    local_dir: Path | None
    s3_uri: str | None


class DatasetFiles:
    """Reads the local prepared folder when this replica has it, otherwise the dataset's S3 prefix."""

    def __init__(self, location: DatasetLocation, s3: S3Client | None = None) -> None:
        self._location = location
        self._s3 = s3

    def _local(self, relative: str) -> Path | None:
        folder = self._location.local_dir
        if folder is None:
            return None
        path = folder / relative
        return path if path.is_file() else None

    def _s3_object(self, uri: str, limit: int | None = None) -> Any:
        if self._s3 is None:
            raise TestSetError(
                f"dataset {self._location.dataset_id}: {uri} is not on this machine and no S3 client is "
                "configured: set TUNEBOT_S3_URI and AWS credentials, or run where the dataset was prepared"
            )
        bucket, key = split_s3_uri(uri)
        try:
            with aws_errors("GetObject"):
                return self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except AwsError as error:
            raise TestSetError(
                f"cannot read {uri} ({error}): check the object exists and the service may s3:GetObject it"
            ) from None

    def lines(self, name: str) -> Iterator[str]:
        local = self._local(name)
        if local is not None:
            with local.open(encoding="utf-8") as handle:
                yield from handle
            return
        if self._location.s3_uri is None:
            raise TestSetError(
                f"dataset {self._location.dataset_id} has no {name} here and was never uploaded: "
                "prepare it again with --upload"
            )
        body = self._s3_object(f"{self._location.s3_uri.rstrip('/')}/{name}")
        for raw in body.iter_lines():
            yield raw.decode("utf-8")

    def image(self, uri: str) -> bytes:
        file_name = uri.rsplit("/", 1)[-1]
        local = self._local(f"{IMAGES_DIR}/{file_name}")
        data = local.read_bytes() if local is not None else self._s3_object(uri).read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:
            raise TestSetError(f"{uri} is larger than Bedrock's 10 MB image limit: prepare the dataset again")
        return bytes(data)


def dataset_files(settings: Settings, location: DatasetLocation) -> DatasetSource:
    """Production wiring: an S3 client only when the files may have to come from S3."""
    s3 = None
    if location.s3_uri is not None:
        from services.aws.clients import ClientOptions, s3_client

        s3 = s3_client(ClientOptions.from_settings(settings))
    return DatasetFiles(location, s3)
