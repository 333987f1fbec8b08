"""LLaVA conversations: a JSON array (streamed) or JSONL of
``{"id", "image", "conversations": [{"from": "human"|"gpt", "value"}]}``.

- ``role``/``content`` is accepted for ``from``/``value``; ``human``/``user`` and ``gpt``/``assistant``
  map to user and assistant; a ``system`` turn becomes the example's system prompt.
- The ``<image>`` placeholder is removed from the text (its position carries no meaning).
- ``image`` is a path or a list of paths (multi-image variants), attached to the first user turn; a
  record without one is text-only.
- Paths resolve against the first folder where they exist: the JSON file's folder, the root, or an
  ``images/`` folder in either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from services.datasets.model import Example, ImageRef, ReadResult, Role, Turn
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
    require_list,
    require_mapping,
    type_name,
)
from services.datasets.readers._records import iter_json_records
from services.datasets.readers.sniff import files_of_format

ROLE_NAMES: dict[str, Role | None] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": None,
}
# The placeholder with the spaces after it and one line break, so "<image>\nWhat..." leaves "What...".
_PLACEHOLDER = re.compile(r"<image>[ \t]*\n?")


def read(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    base = display_base(root)
    for path in files_of_format(data_files(root, (".json", ".jsonl")), "llava"):
        resolver = ImageResolver([path.parent, base, base / "images", path.parent / "images"])
        prefix = id_prefix(path, base)
        records = iter_json_records(path, relative_name(path, base))
        yield from convert(
            records,
            partial(to_example, prefix=prefix, resolver=resolver, default_system=options.system),
        )


def strip_placeholder(text: str) -> str:
    return _PLACEHOLDER.sub("", text).strip()


def to_example(raw: RawRecord, prefix: str, resolver: ImageResolver, default_system: str | None) -> Example:
    record = require_mapping(raw.value)
    images = tuple(ImageRef(path=resolver.resolve(name)) for name in _image_names(record.get("image")))
    system: str | None = None
    turns: list[Turn] = []
    for position, entry in enumerate(require_list(record, "conversations")):
        role, text = _role_and_text(entry, position)
        if role is None:
            system = text
        else:
            turns.append(Turn(role=role, text=text))
    if not turns:
        raise RecordError('"conversations" holds no human or gpt turn; add the question and the answer')
    if images:
        # Images belong to the first user turn; with no user turn, to the first turn (checks report it).
        target = next((i for i, turn in enumerate(turns) if turn.role == "user"), 0)
        turns[target] = Turn(role=turns[target].role, text=turns[target].text, images=images)
    return Example(
        id=record_id(record.get("id"), prefix, raw.ordinal),
        source=raw.ref,
        turns=tuple(turns),
        system=system or default_system,
    )


def _image_names(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(name, str) and name for name in value):
        return list(value)
    raise RecordError(f'"image" must be a path or a list of paths, not {type_name(value)}')


def _role_and_text(entry: object, position: int) -> tuple[Role | None, str]:
    where = f"conversations[{position}]"
    turn: Mapping[str, Any] = require_mapping(entry, where)
    speaker = turn.get("from", turn.get("role"))
    content = turn.get("value", turn.get("content"))
    if not isinstance(speaker, str) or speaker.lower() not in ROLE_NAMES:
        raise RecordError(
            f'{where} has speaker {speaker!r}; use "from": "human" or "gpt" (or "role": "user"/"assistant")'
        )
    if content is None:
        raise RecordError(f'{where} has no "value" (or "content") text; add it')
    return ROLE_NAMES[speaker.lower()], strip_placeholder(as_text(content, f"{where} value"))
