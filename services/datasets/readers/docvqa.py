"""DocVQA (Task 1): ``{"dataset_split", "data": [{"questionId", "question", "image", "answers"}]}``.

- Every such JSON file under the root is read (``data`` is streamed), filtered by ``--split`` on the
  file name (``train_v1.0.json``), or the root itself when it is one such file.
- ``image`` (``documents/<doc>_<page>.png``) resolves against the JSON file's folder, else the root.
- Trains on the first answer; ``references`` keep them all. A record without answers (the test split
  ships none) is a ``bad_record`` saying so.
"""

from __future__ import annotations

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
    record_id,
    relative_name,
    require_mapping,
    require_text,
)
from services.datasets.readers._records import iter_json_array
from services.datasets.readers.sniff import files_of_format


def read(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    base = display_base(root)
    for path in files_of_format(data_files(root, (".json",)), "docvqa"):
        if root.is_dir() and not options.wants_split(path.stem):
            continue
        # Each official archive holds its JSON beside its documents/ folder; some copies keep the
        # JSON files in a folder of their own beside the split folders.
        resolver = ImageResolver([path.parent, base, base / "images", path.parent.parent])
        prefix = id_prefix(path, base)
        records = iter_json_array(path, relative_name(path, base), "data")
        yield from convert(
            records,
            partial(
                to_example,
                prefix=prefix,
                resolver=resolver,
                system=options.system,
                split=canonical_split(path.stem),
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
    answers = record.get("answers")
    if not answers:
        raise RecordError(
            "this DocVQA record has no answers (the test split ships without them), so it cannot be "
            "trained on; leave the test file out of the dataset"
        )
    if not isinstance(answers, list):
        answers = [answers]
    references = tuple(answer_text(answer, '"answers" item') for answer in answers)
    image = ImageRef(path=resolver.resolve(require_text(record, "image")))
    return Example(
        id=record_id(record.get("questionId"), prefix, raw.ordinal),
        source=raw.ref,
        turns=(
            Turn(role="user", text=require_text(record, "question"), images=(image,)),
            Turn(role="assistant", text=references[0]),
        ),
        system=system,
        references=references,
        split=split,
    )
