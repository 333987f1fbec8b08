"""Canonical examples: what every reader yields and every later stage consumes.

Pure data, no I/O. A reader turns one source record into one ``Example`` (or a ``Finding`` with
severity "error" when the record cannot be read at all); checks, image normalisation, the split and
the writer only ever see these types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Role = Literal["user", "assistant"]
Severity = Literal["error", "warning"]
# The split a source assigns a record (its own train / validation / test files); None when it has none.
SourceSplit = Literal["train", "validation", "test"]


class DatasetStatus(StrEnum):
    """Where a dataset the service was given stands: being checked, then ready to launch or not."""

    CHECKING = "checking"
    READY = "ready"  # usable and uploaded to S3
    UNUSABLE = "unusable"  # checked: errors to fix, see its report
    FAILED = "failed"  # the check itself could not run (unreadable source, S3 refused)


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a record came from, as a person would look it up: file plus line (1-based) or index."""

    file: str
    line: int | None = None
    index: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.file}:{self.line}"
        if self.index is not None:
            return f"{self.file}[{self.index}]"
        return self.file


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image as the source names it, before it is read.

    Exactly one of ``path`` (a local file, already resolved against the dataset root),
    ``data`` (bytes embedded in the source, e.g. parquet structs) or ``uri`` (an s3:// URI a
    Bedrock-format record already points at) is set.
    """

    path: str | None = None
    data: bytes | None = None
    uri: str | None = None
    declared_format: str | None = None  # what the record claims (bedrock records carry one)
    bucket_owner: str | None = None  # the account owning ``uri``'s bucket (Bedrock's bucketOwner)

    @property
    def label(self) -> str:
        return self.path or self.uri or "<embedded image>"


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    text: str
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Example:
    """One training conversation in canonical form.

    ``references`` keeps every accepted answer of the source (VQAv2's ten, DocVQA's list) for
    evaluation; training uses the assistant turns. ``split`` is the source's own split, kept by the
    split stage (an official test set stays held out).
    """

    id: str
    source: SourceRef
    turns: tuple[Turn, ...]
    system: str | None = None
    references: tuple[str, ...] = ()
    split: SourceSplit | None = None

    @property
    def images(self) -> tuple[ImageRef, ...]:
        return tuple(image for turn in self.turns for image in turn.images)

    @property
    def first_question(self) -> str:
        return next((t.text for t in self.turns if t.role == "user"), "")


@dataclass(frozen=True, slots=True)
class Finding:
    """An error or warning about one record (or the whole dataset when ``record`` is None).

    ``message`` always says what to do about it.
    """

    code: str
    message: str
    severity: Severity
    record: SourceRef | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "record": str(self.record) if self.record else None,
            "code": self.code,
            "message": self.message,
        }


def error(code: str, message: str, record: SourceRef | None = None) -> Finding:
    return Finding(code=code, message=message, severity="error", record=record)


def warning(code: str, message: str, record: SourceRef | None = None) -> Finding:
    return Finding(code=code, message=message, severity="warning", record=record)


# What a reader yields: a canonical example, or an error Finding for a record it could not read.
ReadResult = Example | Finding
