"""Bedrock conversation records (``bedrock-conversation-2024``), one JSON object per line.

Already converted data: every ``*.jsonl`` under the root that holds such records (train, validation
...). Images stay the S3 URIs the records name, with the format they declare; the image stage decides
what to do with them. A record's ``system`` wins over ``--system``. Inline base64 ``bytes`` images,
which Bedrock's training API refuses, are accepted and carried as embedded data so they get uploaded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from services.datasets.model import Example, ImageRef, ReadResult, Turn
from services.datasets.readers._common import (
    RawRecord,
    ReaderOptions,
    RecordError,
    as_text,
    convert,
    data_files,
    display_base,
    id_prefix,
    record_id,
    relative_name,
    require_key,
    require_list,
    require_mapping,
    type_name,
)
from services.datasets.readers._records import count_jsonl_records, iter_jsonl
from services.datasets.readers.sniff import files_of_format

SCHEMA_VERSION = "bedrock-conversation-2024"
ROLES = ("user", "assistant")


def read(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    base = display_base(root)
    for path in _files(root):
        prefix = id_prefix(path, base)
        records = iter_jsonl(path, relative_name(path, base))
        yield from convert(records, partial(to_example, prefix=prefix, default_system=options.system))


def count(root: Path) -> int:
    """How many records ``read`` yields: a line each, so counted before reading (a check's progress)."""
    return sum(count_jsonl_records(path) for path in _files(root))


def _files(root: Path) -> list[Path]:
    return files_of_format(data_files(root, (".jsonl",)), "bedrock")


def to_example(raw: RawRecord, prefix: str, default_system: str | None) -> Example:
    record = require_mapping(raw.value)
    version = record.get("schemaVersion")
    if version is not None and version != SCHEMA_VERSION:
        raise RecordError(f'"schemaVersion" is {version!r}; Bedrock accepts only "{SCHEMA_VERSION}"')
    turns = tuple(
        _turn(message, position) for position, message in enumerate(require_list(record, "messages"))
    )
    return Example(
        id=record_id(record.get("id"), prefix, raw.ordinal),
        source=raw.ref,
        turns=turns,
        system=_system(record.get("system")) or default_system,
    )


def _system(value: object) -> str | None:
    """Bedrock's ``[{"text": ...}]`` (several parts are joined); plain text is accepted too."""
    if value is None or isinstance(value, str):
        return value or None
    if not isinstance(value, list):
        raise RecordError(f'"system" must be a list like [{{"text": "..."}}], not {type_name(value)}')
    parts = [
        as_text(require_key(require_mapping(part, '"system" item'), "text"), '"system" text')
        for part in value
    ]
    return "\n".join(parts) or None


def _turn(message: object, position: int) -> Turn:
    where = f"message {position + 1}"
    fields = require_mapping(message, where)
    role = require_key(fields, "role")
    if role not in ROLES:
        raise RecordError(f'{where} has role {role!r}; use "user" or "assistant"')
    content = require_key(fields, "content")
    if isinstance(content, str):
        return Turn(role=role, text=content)
    if not isinstance(content, list):
        raise RecordError(f'{where}: "content" must be a list of text and image items')
    texts: list[str] = []
    images: list[ImageRef] = []
    for item in content:
        part = require_mapping(item, f"{where} content item")
        if "text" in part:
            texts.append(as_text(part["text"], f"{where} text"))
        elif "image" in part:
            images.append(_image(require_mapping(part["image"], f"{where} image"), where))
        else:
            kinds = ", ".join(sorted(str(key) for key in part)) or "nothing"
            raise RecordError(
                f"{where} has a content item with {kinds}; only text and image items are allowed"
            )
    return Turn(role=role, text="\n".join(texts), images=tuple(images))


def _image(image: Mapping[str, Any], where: str) -> ImageRef:
    declared = image.get("format")
    if declared is not None and not isinstance(declared, str):
        raise RecordError(f'{where}: image "format" must be text such as "png"')
    source = require_mapping(require_key(image, "source"), f"{where} image source")
    if "s3Location" in source:
        location = require_mapping(source["s3Location"], f"{where} s3Location")
        uri = require_key(location, "uri")
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise RecordError(f'{where}: image "uri" must be an s3:// URI, not {uri!r}')
        owner = location.get("bucketOwner")
        if owner is not None and not (isinstance(owner, str) and owner.isdigit() and len(owner) == 12):
            raise RecordError(f'{where}: "bucketOwner" must be a 12-digit AWS account id, not {owner!r}')
        return ImageRef(uri=uri, declared_format=declared, bucket_owner=owner)
    if "bytes" in source and isinstance(source["bytes"], str):
        try:
            data = base64.b64decode(source["bytes"], validate=True)
        except binascii.Error as exc:
            raise RecordError(f"{where}: image bytes are not valid base64 ({exc})") from exc
        return ImageRef(data=data, declared_format=declared)
    raise RecordError(f'{where}: image "source" needs an "s3Location" with a "uri"')
