"""Hugging Face llava-instruct-mix-vsft style: ``messages`` + ``images``, as parquet, JSONL or a JSON list.

- ``messages``: ``[{"role", "content"}]`` where content is text or a list of items
  ``{"type": "text"|"image", "text", "index"}``; every item may carry all three keys with nulls.
- An image item's ``index`` points into ``images``; a null index takes the next image not yet placed.
  Images no item places go to the first user turn.
- ``images``: parquet structs ``{bytes, path}`` (bytes win; embedded as ImageRef.data), or in JSON a
  path, ``{"path"}``, or ``{"bytes": <base64>}``. Paths resolve like LLaVA's.
- A ``system`` message becomes the system prompt. Parquet is read in small row batches.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from services.datasets.model import Example, ImageRef, ReadResult, Turn
from services.datasets.readers._columnar import iter_parquet
from services.datasets.readers._common import (
    ImageResolver,
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
from services.datasets.readers._records import iter_json_records
from services.datasets.readers.sniff import files_of_format


def read(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    base = display_base(root)
    for path in files_of_format(data_files(root, (".parquet", ".jsonl", ".json")), "hf-llava"):
        resolver = ImageResolver([path.parent, base, base / "images", path.parent / "images"])
        prefix = id_prefix(path, base)
        name = relative_name(path, base)
        records = (
            iter_parquet(path, name) if path.suffix.lower() == ".parquet" else iter_json_records(path, name)
        )
        yield from convert(
            records,
            partial(to_example, prefix=prefix, resolver=resolver, default_system=options.system),
        )


def to_example(raw: RawRecord, prefix: str, resolver: ImageResolver, default_system: str | None) -> Example:
    record = require_mapping(raw.value)
    images_value = record.get("images") or []
    if not isinstance(images_value, list):
        raise RecordError(f'"images" must be a list, not {type_name(images_value)}')
    images = [_image(item, position, resolver) for position, item in enumerate(images_value)]
    placed: set[int] = set()
    system: str | None = None
    turns: list[Turn] = []
    for position, message in enumerate(require_list(record, "messages")):
        fields = require_mapping(message, f"messages[{position}]")
        role = require_key(fields, "role")
        text, indexes = _content(require_key(fields, "content"), position, len(images), placed)
        if role == "system":
            system = text
        elif role in ("user", "assistant"):
            turns.append(Turn(role=role, text=text, images=tuple(images[i] for i in indexes)))
        else:
            raise RecordError(f'messages[{position}] has role {role!r}; use "user", "assistant" or "system"')
    if not turns:
        raise RecordError('"messages" holds no user or assistant message; add the conversation')
    unplaced = tuple(image for i, image in enumerate(images) if i not in placed)
    if unplaced:
        target = next((i for i, turn in enumerate(turns) if turn.role == "user"), 0)
        turn = turns[target]
        turns[target] = Turn(role=turn.role, text=turn.text, images=turn.images + unplaced)
    return Example(
        id=record_id(record.get("id"), prefix, raw.ordinal),
        source=raw.ref,
        turns=tuple(turns),
        system=system or default_system,
    )


def _content(content: object, position: int, image_count: int, placed: set[int]) -> tuple[str, list[int]]:
    """The message's text (text items joined by line breaks) and the indexes of its images.

    ``placed`` collects the image indexes used so far in the record (a null index takes the next free one).
    """
    where = f"messages[{position}]"
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        raise RecordError(f'{where}: "content" must be text or a list of items, not {type_name(content)}')
    texts: list[str] = []
    indexes: list[int] = []
    for item in content:
        part = require_mapping(item, f"{where} content item")
        kind = part.get("type")
        if kind == "text":
            texts.append(as_text(part.get("text"), f"{where} text"))
        elif kind == "image":
            index = part.get("index")
            if index is None:
                index = next((i for i in range(image_count) if i not in placed), image_count)
            if not isinstance(index, int) or not 0 <= index < image_count:
                raise RecordError(
                    f"{where} refers to image {index!r} but the record has {image_count} image(s); "
                    'fix "index" or add the image to "images"'
                )
            placed.add(index)
            indexes.append(index)
        else:
            raise RecordError(f'{where} has a content item of type {kind!r}; use "text" or "image"')
    return "\n".join(texts), indexes


def _image(item: object, position: int, resolver: ImageResolver) -> ImageRef:
    where = f"images[{position}]"
    if isinstance(item, str) and item:
        return ImageRef(path=resolver.resolve(item))
    if isinstance(item, Mapping):
        data = _embedded_bytes(item.get("bytes"), where)
        if data is not None:
            return ImageRef(data=data)
        path = item.get("path")
        if isinstance(path, str) and path:
            return ImageRef(path=resolver.resolve(path))
    raise RecordError(f"{where} has neither image bytes nor a path; fix or remove it")


def _embedded_bytes(value: Any, where: str) -> bytes | None:
    if isinstance(value, bytes):
        return value or None
    if isinstance(value, str) and value:
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise RecordError(f"{where}: image bytes are not valid base64 ({exc})") from exc
    return None
