"""VQAv2: questions and annotations files joined by ``question_id``.

- ``v2_OpenEnded_mscoco_<subtype>_questions.json`` ``{"questions": [{"image_id", "question",
  "question_id"}]}`` pairs with ``v2_mscoco_<subtype>_annotations.json`` ``{"annotations":
  [{"question_id", "multiple_choice_answer", "answers": [{"answer"}, ...]}]}``; ``<subtype>`` is the
  last ``_`` part before the suffix (``train2014``), filtered by ``--split`` (``train`` matches it).
- Annotations are streamed into an index by question id holding only the answers (the join needs
  them all); questions are then streamed against it.
- Trains on ``multiple_choice_answer``; ``references`` are all ten answers.
- Image: ``COCO_<subtype>_<image_id as 12 digits>.jpg``, in ``Images/mscoco/<subtype>/`` (the layout
  VQA's own tools expect, beside ``Questions/`` and ``Annotations/``), ``<subtype>/``,
  ``images/<subtype>/``, ``images/`` or the root, whichever holds them.
- The split is the subtype's (``train2014`` train, ``val2014`` validation, ``test2015`` test).
- A questions file with no annotations (the test splits) is one error finding; its questions are skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from services.datasets.model import (
    Example,
    Finding,
    ImageRef,
    ReadResult,
    SourceRef,
    SourceSplit,
    Turn,
    error,
)
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
    relative_name,
    require_key,
    require_list,
    require_mapping,
    require_text,
)
from services.datasets.readers._records import iter_json_array
from services.datasets.readers.sniff import peek


@dataclass(frozen=True, slots=True)
class Answers:
    """What the join keeps of one annotation."""

    chosen: str
    all: tuple[str, ...]


def subtype_of(path: Path) -> str:
    """``v2_OpenEnded_mscoco_train2014_questions.json`` -> ``train2014``."""
    parts = path.stem.split("_")
    return parts[-2] if len(parts) >= 2 else path.stem


def read(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    base = display_base(root)
    # A questions file given alone finds its annotations beside it; a folder is searched whole.
    candidates = sorted(root.parent.glob("*.json")) if root.is_file() else data_files(root, (".json",))
    questions: list[Path] = []
    annotations: dict[str, Path] = {}
    for path in candidates:
        container = peek(path).container
        if container == "questions" and (root.is_dir() or path == root):
            questions.append(path)
        elif container == "annotations":
            annotations[subtype_of(path)] = path
    for path in questions:
        subtype = subtype_of(path)
        if root.is_dir() and not options.wants_split(subtype):
            continue
        name = relative_name(path, base)
        paired = annotations.get(subtype)
        if paired is None and len(questions) == 1 and len(annotations) == 1:
            paired = next(iter(annotations.values()))  # renamed files: the only pair there is
        if paired is None:
            yield error(
                "bad_record",
                f"{name} has no annotations file (v2_mscoco_{subtype}_annotations.json) beside it, so its "
                "questions have no answers and were skipped; add that file (test splits have none and "
                "cannot be trained on)",
                SourceRef(name),
            )
            continue
        index: dict[int, Answers] = {}
        yield from _index_annotations(paired, relative_name(paired, base), index)
        resolver = ImageResolver(
            [
                base / "Images" / "mscoco" / subtype,  # the layout VQA's own tools expect
                base / subtype,
                base / "images" / subtype,
                base / "images",
                base,
                path.parent / subtype,
                path.parent,
            ]
        )
        yield from convert(
            iter_json_array(path, name, "questions"),
            partial(
                to_example,
                subtype=subtype,
                index=index,
                resolver=resolver,
                system=options.system,
                split=canonical_split(subtype),
            ),
        )


def _index_annotations(path: Path, name: str, index: dict[int, Answers]) -> Iterator[Finding]:
    """Fill ``index`` from an annotations file, yielding a finding for each annotation it cannot use."""
    for raw in iter_json_array(path, name, "annotations"):
        if isinstance(raw, Finding):
            yield raw
            continue
        try:
            question_id, answers = parse_annotation(raw)
        except RecordError as exc:
            yield error("bad_record", str(exc), raw.ref)
        else:
            index[question_id] = answers


def parse_annotation(raw: RawRecord) -> tuple[int, Answers]:
    record = require_mapping(raw.value, "annotation")
    question_id = require_key(record, "question_id")
    if not isinstance(question_id, int):
        raise RecordError('"question_id" must be a number; fix the annotation')
    chosen = answer_text(require_key(record, "multiple_choice_answer"), '"multiple_choice_answer"')
    answers = tuple(
        answer_text(require_key(require_mapping(item, "answer"), "answer"), '"answer"')
        for item in require_list(record, "answers")
    )
    # Ten answers per question, mostly "yes", "no" and small numbers: interning keeps the index small.
    return question_id, Answers(sys.intern(chosen), tuple(sys.intern(answer) for answer in answers))


def to_example(
    raw: RawRecord,
    subtype: str,
    index: dict[int, Answers],
    resolver: ImageResolver,
    system: str | None,
    split: SourceSplit | None = None,
) -> Example:
    record = require_mapping(raw.value, "question")
    question_id = require_key(record, "question_id")
    image_id = require_key(record, "image_id")
    if not isinstance(image_id, int) or not isinstance(question_id, int):
        raise RecordError('"question_id" and "image_id" must be numbers; fix the question')
    answers = index.get(question_id)
    if answers is None:
        raise RecordError(
            f"question {question_id} has no annotation; add it to the annotations file or remove the question"
        )
    image = ImageRef(path=resolver.resolve(f"COCO_{subtype}_{image_id:012d}.jpg"))
    return Example(
        id=str(question_id),
        source=raw.ref,
        turns=(
            Turn(role="user", text=require_text(record, "question"), images=(image,)),
            Turn(role="assistant", text=answers.chosen),
        ),
        system=system,
        references=answers.all or (answers.chosen,),
        split=split,
    )
