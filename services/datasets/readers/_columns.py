"""Which columns of a table hold the image, the question and the answer, and what is left unused.

Pure: works on column names and the first row's values. A column that is not read is named in a
warning (nothing is dropped silently); an unread column whose values look like images, while no image
column was chosen, is a dataset error naming it and the flag to use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.datasets.model import Finding, warning
from services.datasets.sources import SourceError

# Column names the tabular readers look for, in order of preference (formats.md, "Generic" and
# "Hugging Face Hub exports": ChartQA's image/query/label, DocVQA's image/question/answers, VQAv2's
# image/question/multiple_choice_answer/answers, ImageFolder's file_name + text or caption).
IMAGE_COLUMNS = ("image", "images", "image_path", "file_name")
QUESTION_COLUMNS = ("question", "query", "prompt", "problem")
ANSWER_COLUMNS = ("answer", "multiple_choice_answer", "label", "answers", "ground_truth", "caption", "text")
REFERENCES_COLUMN = "answers"  # every accepted answer, kept for evaluation beside the trained one
SYSTEM_COLUMN = "system"
ID_COLUMNS = ("id", "question_id", "questionId")
PAGE_COLUMN = "page"
DEFAULT_INSTRUCTION = "Describe this image."

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True, slots=True)
class Columns:
    image: str | None
    question: str | None  # None: captioning, every record asks the instruction
    answer: str
    references: str | None
    id: str | None
    unused: tuple[str, ...]


def first_present(names: Mapping[str, Any] | Sequence[str], candidates: tuple[str, ...]) -> str | None:
    return next((name for name in candidates if name in names), None)


def choose_columns(
    names: Sequence[str], options_image: str | None, options_question: str | None,
    options_answer: str | None, instruction: str | None, table: str,
) -> Columns:  # fmt: skip
    """The columns to read, or SourceError ``column_missing`` saying which flag to pass."""
    shown = ", ".join(names) or "no header"
    present = dict.fromkeys(names)
    for role, explicit in (
        ("image", options_image),
        ("question", options_question),
        ("answer", options_answer),
    ):
        if explicit is not None and explicit not in present:
            raise SourceError(
                "column_missing", f'{table} has no column "{explicit}" (it has: {shown}); fix --{role}-column'
            )
    image = options_image or first_present(present, IMAGE_COLUMNS)
    answer = options_answer or first_present(present, ANSWER_COLUMNS)
    question = options_question or first_present([name for name in names if name != answer], QUESTION_COLUMNS)
    if answer is None:
        raise SourceError(
            "column_missing",
            f"{table} has no answer column (looked for {', '.join(ANSWER_COLUMNS)}; it has: {shown}); "
            "rename the column or pass --answer-column NAME",
        )
    references = REFERENCES_COLUMN if REFERENCES_COLUMN in present and answer != REFERENCES_COLUMN else None
    identifier = first_present(present, ID_COLUMNS)
    used = {image, question, answer, references, identifier, SYSTEM_COLUMN, PAGE_COLUMN}
    unused = tuple(name for name in names if name not in used)
    donut = answer == "ground_truth"
    if question is None and not donut and instruction is None and (image is None or unused):
        raise SourceError(
            "column_missing",
            f"{table} has no question column (looked for {', '.join(QUESTION_COLUMNS)}; it has: {shown}); "
            "rename the column or pass --question-column NAME, or --instruction TEXT when every record "
            "asks the same (captioning)",
        )
    return Columns(image, question, answer, references, identifier, unused)


def looks_like_image(value: object) -> bool:
    """A value a person would recognise as an image: a file name with an image suffix, bytes, or a
    Hugging Face image struct ``{bytes, path}``."""
    if isinstance(value, bytes | bytearray):
        return len(value) > 0
    if isinstance(value, Mapping):
        return {"bytes", "path"} <= value.keys()
    if isinstance(value, str):
        return value.strip().lower().split("#")[0].endswith(IMAGE_SUFFIXES)
    if isinstance(value, list) and value:
        return looks_like_image(value[0])
    return False


def column_findings(columns: Columns, first_row: Mapping[str, Any] | None, table: str) -> list[Finding]:
    """Warnings for unused columns; SourceError when an unused column holds images and none is read."""
    if columns.image is None and first_row is not None:
        holding_images = [name for name in columns.unused if looks_like_image(first_row.get(name))]
        if holding_images:
            name = holding_images[0]
            raise SourceError(
                "image_column_unrecognised",
                f'{table}: column "{name}" holds images but no image column was found (looked for '
                f"{', '.join(IMAGE_COLUMNS)}), so every record would be text-only: "
                f"pass --image-column {name}",
            )
    if not columns.unused:
        return []
    listed = ", ".join(columns.unused)
    return [
        warning(
            "unused_column",
            f"{table}: column{'s' if len(columns.unused) > 1 else ''} {listed} "
            f"{'are' if len(columns.unused) > 1 else 'is'} not read (read: {_read_roles(columns)}): "
            "if one holds the image, question or answer, pass --image-column, --question-column or "
            "--answer-column",
        )
    ]


def _read_roles(columns: Columns) -> str:
    roles = [
        ("image", columns.image),
        ("question", columns.question),
        ("answer", columns.answer),
        ("references", columns.references),
        ("id", columns.id),
    ]
    return ", ".join(f"{role} {name}" for role, name in roles if name)
