"""ChartQA: ``<split>/<split>_{human,augmented}.json``, lists of ``{"imgname", "query", "label"}``.

- Every JSON file of that shape under the root is read (or the root itself when it is one); its split
  is the name before ``_human``/``_augmented`` (else its folder's name), filtered by ``--split``.
- The image is ``png/<imgname>`` beside the JSON file (ChartQA's layout), else found like LLaVA's.
- ``label`` is the answer; the Hugging Face mirror's list of labels trains on the first and keeps all
  as references. Queries are kept as written (some contain U+FFFD from the original release).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from services.datasets.model import Example, ImageRef, ReadResult, SourceSplit, Turn
from services.datasets.readers._common import (
    ImageResolver,
    RawRecord,
    ReaderOptions,
    RecordError,
    answer_text,
    canonical_split,
    convert,
    data_files,
    display_base,
    id_prefix,
    relative_name,
    require_key,
    require_mapping,
    require_text,
)
from services.datasets.readers._records import iter_json_array
from services.datasets.readers.sniff import files_of_format

_SPLIT_FILE = re.compile(r"^(?P<split>.+)_(human|augmented)$", re.IGNORECASE)


def split_of(path: Path) -> str:
    match = _SPLIT_FILE.match(path.stem)
    return match["split"] if match else path.parent.name


def read(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    base = display_base(root)
    files = files_of_format(data_files(root, (".json",)), "chartqa")
    for path in files:
        if root.is_dir() and not options.wants_split(split_of(path)):
            continue
        resolver = ImageResolver(
            [path.parent / "png", path.parent, base / split_of(path) / "png", base / "png", base / "images"]
        )
        prefix = id_prefix(path, base)
        records = iter_json_array(path, relative_name(path, base))
        yield from convert(
            records,
            partial(
                to_example,
                prefix=prefix,
                resolver=resolver,
                system=options.system,
                split=canonical_split(split_of(path)),
            ),
        )


def to_example(
    raw: RawRecord,
    prefix: str,
    resolver: ImageResolver,
    system: str | None,
    split: SourceSplit | None = None,
) -> Example:
    record = require_mapping(raw.value)
    label = require_key(record, "label")
    references: tuple[str, ...] = ()
    if isinstance(label, list):
        if not label:
            raise RecordError('"label" is an empty list; add the answer')
        references = tuple(answer_text(item, '"label" item') for item in label)
        answer = references[0]
    else:
        answer = answer_text(label, '"label"')
    image = ImageRef(path=resolver.resolve(require_text(record, "imgname")))
    return Example(
        id=f"{prefix}-{raw.ordinal}",
        source=raw.ref,
        turns=(
            Turn(role="user", text=require_text(record, "query"), images=(image,)),
            Turn(role="assistant", text=answer),
        ),
        system=system,
        references=references,
        split=split,
    )
