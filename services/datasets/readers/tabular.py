"""Generic tables: CSV files (``csv``) and JSONL files or JSON lists of flat objects (``jsonl``).

One row is one question about at most one image (or several, as a JSON list of paths):

- Columns are named with ``--image-column/--question-column/--answer-column`` or detected, first
  present wins: image ``image, image_path, file_name``; question ``question, query, prompt``; answer
  ``answer, label, answers, ground_truth``. Optional ``id``, ``system`` (wins over ``--system``) and
  ``page``. A CSV missing its question or answer column is a dataset error (``column_missing``).
- No image value (empty, null, or no image column) makes a text-only example.
- Image paths are relative to the table's folder (else the root, else an ``images/`` folder).
- A path to a PDF names a page: ``doc.pdf#page=3`` or a ``page`` column (pages count from 1; a
  one-page PDF needs neither). The page is rendered to PNG (see ``_pdfpages``).
- Answers: text as it is; numbers as text; a JSON object or list in a JSONL row becomes compact JSON;
  an ``answers`` list trains on its first item and keeps all as references (in CSV, a cell holding a
  JSON list of strings counts as a list).
- Donut-style ``metadata.jsonl`` (``file_name`` + ``ground_truth``, a JSON string): the answer is that
  JSON, compact; ``{"gt_parse": X}`` gives X, ``{"gt_parses": [...]}`` the first with all as references.
  With no question column the question is ``DONUT_QUESTION``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.datasets.model import Example, ImageRef, ReadResult, Turn
from services.datasets.readers._common import (
    ANSWER_COLUMNS,
    ID_COLUMN,
    IMAGE_COLUMNS,
    PAGE_COLUMN,
    QUESTION_COLUMNS,
    SYSTEM_COLUMN,
    ImageResolver,
    RawRecord,
    ReaderOptions,
    RecordError,
    answer_text,
    as_text,
    compact_json,
    convert,
    data_files,
    display_base,
    id_prefix,
    record_id,
    relative_name,
    type_name,
)
from services.datasets.readers._pdfpages import PdfPages, is_pdf, split_page_reference
from services.datasets.readers._records import csv_header, iter_csv, iter_json_records
from services.datasets.readers.sniff import files_of_format, first_present
from services.datasets.sources import SourceError

DONUT_QUESTION = "Extract the contents of this document as JSON."
DONUT_ANSWER_COLUMN = "ground_truth"


def read_csv(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    return _read(root, options, (".csv",), "csv")


def read_jsonl(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    return _read(root, options, (".jsonl", ".json"), "jsonl")


def _read(root: Path, options: ReaderOptions, suffixes: tuple[str, ...], fmt: str) -> Iterator[ReadResult]:
    base = display_base(root)
    pages = PdfPages()
    try:
        for path in files_of_format(data_files(root, suffixes), fmt):
            yield from read_table(path, base, options, pages)
    finally:
        pages.close()


def read_table(
    path: Path, base: Path, options: ReaderOptions, pages: PdfPages, document: Path | None = None
) -> Iterator[ReadResult]:
    """The rows of one table. With ``document``, every row asks about a page of that PDF."""
    name = relative_name(path, base)
    if path.suffix.lower() == ".csv":
        check_header(csv_header(path), options, name)
        records = iter_csv(path, name)
    else:
        records = iter_json_records(path, name)
    rows = TableRows(
        prefix=id_prefix(path, base),
        resolver=ImageResolver([path.parent, base, base / "images", path.parent / "images"]),
        options=options,
        pages=pages,
        document=document,
        from_csv=path.suffix.lower() == ".csv",
    )
    yield from convert(records, rows.to_example)


def check_header(header: list[str], options: ReaderOptions, name: str) -> None:
    """A CSV must have its question and answer columns; a missing one would fail every row."""
    columns = dict.fromkeys(header)
    shown = ", ".join(header) or "no header"
    donut = DONUT_ANSWER_COLUMN in columns
    wanted = [
        ("question", options.question_column, QUESTION_COLUMNS, donut),
        ("answer", options.answer_column, ANSWER_COLUMNS, False),
    ]
    if options.image_column is not None:
        wanted.append(("image", options.image_column, (), False))
    for role, explicit, candidates, optional in wanted:
        if explicit is not None and explicit not in columns:
            raise SourceError(
                "column_missing",
                f'{name} has no column "{explicit}" (it has: {shown}); fix --{role}-column',
            )
        if explicit is None and not optional and first_present(columns, candidates) is None:
            raise SourceError(
                "column_missing",
                f"{name} has no {role} column (looked for {', '.join(candidates)}; it has: {shown}); "
                f"rename the column or pass --{role}-column NAME",
            )


@dataclass(frozen=True, slots=True)
class TableRows:
    """Turns table rows into examples; holds what the rows of one file share."""

    prefix: str
    resolver: ImageResolver
    options: ReaderOptions
    pages: PdfPages
    document: Path | None = None  # every row asks about a page of this PDF
    from_csv: bool = False

    def to_example(self, raw: RawRecord) -> Example:
        if not isinstance(raw.value, Mapping):
            raise RecordError(f"the record must be a JSON object of columns, not {type_name(raw.value)}")
        row: Mapping[str, Any] = raw.value
        if self.from_csv:
            _check_row_width(row)
        answer, references = self._answer(row)
        system = row.get(SYSTEM_COLUMN)
        return Example(
            id=record_id(row.get(ID_COLUMN), self.prefix, raw.ordinal),
            source=raw.ref,
            turns=(
                Turn(role="user", text=self._question(row), images=self._images(row)),
                Turn(role="assistant", text=answer),
            ),
            system=system if isinstance(system, str) and system else self.options.system,
            references=references,
        )

    def _question(self, row: Mapping[str, Any]) -> str:
        column = _column(row, self.options.question_column, QUESTION_COLUMNS)
        if column is None:
            if DONUT_ANSWER_COLUMN in row:
                return DONUT_QUESTION
            raise _no_column("question", self.options.question_column, QUESTION_COLUMNS)
        return _cell_text(row[column], column)

    def _answer(self, row: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
        column = _column(row, self.options.answer_column, ANSWER_COLUMNS)
        if column is None:
            raise _no_column("answer", self.options.answer_column, ANSWER_COLUMNS)
        value = row[column]
        if value is None:
            raise RecordError(f'"{column}" is missing or null; add the answer')
        if column == DONUT_ANSWER_COLUMN:
            return donut_answer(value)
        if isinstance(value, str) and column == "answers" and value.lstrip().startswith("["):
            value = _json_list_or_text(value)
        if isinstance(value, list):
            if not value:
                raise RecordError(f'"{column}" is an empty list; add at least one answer')
            references = tuple(answer_text(item, f'"{column}" item') for item in value)
            return references[0], references
        return answer_text(value, f'"{column}"'), ()

    def _images(self, row: Mapping[str, Any]) -> tuple[ImageRef, ...]:
        if self.document is not None:
            return (self._pdf_page(str(self.document), None, row),)
        column = _column(row, self.options.image_column, IMAGE_COLUMNS)
        value = row.get(column) if column is not None else None
        if value is None or value == "":
            return ()
        names = value if isinstance(value, list) else [value]
        if not all(isinstance(name, str) and name for name in names):
            raise RecordError(f'"{column}" must be an image path or a list of paths, not {type_name(value)}')
        return tuple(self._image(name, row) for name in names)

    def _image(self, name: str, row: Mapping[str, Any]) -> ImageRef:
        path, page = split_page_reference(name)
        if is_pdf(path):
            return self._pdf_page(self.resolver.resolve(path), page, row)
        return ImageRef(path=self.resolver.resolve(path))

    def _pdf_page(self, path: str, page: int | None, row: Mapping[str, Any]) -> ImageRef:
        if not Path(path).is_file():
            return ImageRef(path=path)  # the image stage reports it missing, like any other image
        page = page if page is not None else _page_column(row)
        if page is None:
            count = self.pages.page_count(path)
            if count != 1:
                raise RecordError(
                    f'{Path(path).name} has {count} pages; say which one with a "{PAGE_COLUMN}" column '
                    f'or as "{Path(path).name}#page=N"'
                )
            page = 1
        return ImageRef(data=self.pages.render_png(path, page), declared_format="png")


def donut_answer(value: object) -> tuple[str, tuple[str, ...]]:
    """The training answer of a Donut ``ground_truth`` (a JSON string) and its references."""
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise RecordError(
            f'"ground_truth" is not valid JSON ({exc}); Donut-style ground truth is a JSON string'
        ) from exc
    if isinstance(parsed, Mapping) and "gt_parses" in parsed and isinstance(parsed["gt_parses"], list):
        references = tuple(compact_json(item) for item in parsed["gt_parses"])
        if not references:
            raise RecordError('"ground_truth" has an empty "gt_parses" list; add the parse')
        return references[0], references
    if isinstance(parsed, Mapping) and "gt_parse" in parsed:
        parsed = parsed["gt_parse"]
    return compact_json(parsed), ()


def _check_row_width(row: Mapping[Any, Any]) -> None:
    """csv.DictReader files extra fields under None and fills missing ones with None."""
    if None in row:
        raise RecordError("this row has more fields than the header; quote fields that contain commas")
    missing = [str(column) for column, value in row.items() if value is None]
    if missing:
        raise RecordError(
            f"this row has fewer fields than the header (no {', '.join(missing)}); "
            "add the missing fields (empty ones still need their commas)"
        )


def _column(row: Mapping[str, Any], explicit: str | None, candidates: tuple[str, ...]) -> str | None:
    if explicit is not None:
        return explicit if explicit in row else None
    return first_present(row, candidates)


def _no_column(role: str, explicit: str | None, candidates: tuple[str, ...]) -> RecordError:
    looked_for = f'"{explicit}"' if explicit is not None else ", ".join(candidates)
    return RecordError(
        f"this record has no {role} (looked for {looked_for}); add one or pass --{role}-column NAME"
    )


def _cell_text(value: object, column: str) -> str:
    if value is None:
        raise RecordError(f'"{column}" is null; add the text')
    return as_text(value, f'"{column}"')


def _page_column(row: Mapping[str, Any]) -> int | None:
    value = row.get(PAGE_COLUMN)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise RecordError(f'"{PAGE_COLUMN}" must be a page number counting from 1, not {value!r}')


def _json_list_or_text(value: str) -> Any:
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, list) else value
