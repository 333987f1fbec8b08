"""Bedrock's record format and the files of a prepared dataset.

Layout of an output folder::

    train.jsonl, validation.jsonl   read by Bedrock: exactly its record format, nothing else
    test.jsonl, unused.jsonl        ours: the same records plus a top-level "tunebot" object
                                    {"id", "source", "references"} that evaluation reads
    images/<sha256>.<ext>           each image once, named by the SHA-256 of its bytes
    report.json

test.jsonl keeps the full conversation (the expected answer is the last assistant turn) so the
evaluation builds its prompt with the same code as training and compares against every reference.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from services.datasets.images import EXTENSIONS, BedrockFormat
from services.datasets.model import Example
from services.datasets.rules import strip_placeholder
from services.datasets.split import Side

SCHEMA_VERSION = "bedrock-conversation-2024"
PLACEHOLDER_S3_URI = "s3://tunebot-placeholder"
IMAGES_DIR = "images"
EVALUATION_FIELD = "tunebot"
SPLIT_FILES: dict[Side, str] = {
    "train": "train.jsonl",
    "validation": "validation.jsonl",
    "test": "test.jsonl",
    "unused": "unused.jsonl",  # ours: records left out to stay within Bedrock's limits, with "tunebot"
}


@dataclass(frozen=True, slots=True)
class StoredImage:
    """An image as written to ``images/``: enough to reference it from a record."""

    sha256: str
    format: BedrockFormat
    width: int
    height: int

    @property
    def key(self) -> str:
        return image_key(self.sha256, self.format)


def image_key(sha256: str, fmt: BedrockFormat) -> str:
    return f"{IMAGES_DIR}/{sha256}.{EXTENSIONS[fmt]}"


def image_uri(s3_uri: str, image: StoredImage) -> str:
    return f"{s3_uri.rstrip('/')}/{image.key}"


def store_image(out_dir: Path, image: StoredImage, data: bytes) -> Path:
    """Write an image once under its content hash; a second call for the same bytes does nothing.

    The write goes to a temporary name first so a crash or a parallel writer never leaves a
    half-written file under the final name.
    """
    target = out_dir / image.key
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)
    return target


def bedrock_record(
    example: Example, images: Sequence[StoredImage], s3_uri: str, system: str | None
) -> dict[str, Any]:
    """One Bedrock conversation record. ``images`` are the stored forms of ``example.images``."""
    remaining = iter(images)
    messages = []
    for turn in example.turns:
        content: list[dict[str, Any]] = []
        text = strip_placeholder(turn.text)
        if text:
            content.append({"text": text})
        for source in turn.images:
            image = next(remaining)
            location = {"uri": image_uri(s3_uri, image)}
            if source.bucket_owner and source.uri and _bucket(source.uri) == _bucket(s3_uri):
                location["bucketOwner"] = source.bucket_owner  # the images stay in that account's bucket
            content.append({"image": {"format": image.format, "source": {"s3Location": location}}})
        messages.append({"role": turn.role, "content": content})
    record: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION}
    if system:
        record["system"] = [{"text": system}]
    record["messages"] = messages
    return record


def _bucket(uri: str) -> str:
    return uri.removeprefix("s3://").split("/", 1)[0]


def evaluation_fields(example: Example) -> dict[str, Any]:
    """What test.jsonl adds for evaluation: every reference answer and where the record came from."""
    answers = [t.text for t in example.turns if t.role == "assistant"]
    references = list(example.references) or answers[-1:]
    return {"id": example.id, "source": str(example.source), "references": references}


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class SplitWriter:
    """The three JSON Lines files, open for appending one record at a time."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self._files: dict[Side, IO[str]] = {
            side: (out_dir / name).open("w", encoding="utf-8") for side, name in SPLIT_FILES.items()
        }
        self.counts: dict[Side, int] = {side: 0 for side in SPLIT_FILES}

    def write(self, side: Side, record: dict[str, Any]) -> None:
        """Write a record; the evaluation fields are kept only in test.jsonl."""
        if side in ("train", "validation") and EVALUATION_FIELD in record:
            record = {key: value for key, value in record.items() if key != EVALUATION_FIELD}
        self._files[side].write(dumps(record) + "\n")
        self.counts[side] += 1

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
