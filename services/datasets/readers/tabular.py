"""Generic tables: CSV/TSV (``csv``, ``tsv``), XLSX (``xlsx``), JSONL or JSON lists of flat objects
(``jsonl``), and Hugging Face Hub exports as parquet or Arrow files (``hub``).

One row is one question about zero or more images:

- Columns are named with ``--image-column/--question-column/--answer-column`` or detected, first
  present wins (``_columns``): image ``image, images, image_path, file_name``; question ``question,
  query, prompt, problem``; answer ``answer, multiple_choice_answer, label, answers, ground_truth,
  caption, text``. Optional ``id``/``question_id``/``questionId``, ``system`` (wins over ``--system``)
  and ``page``. Every other column is named in an ``unused_column`` warning.
- No question column (captioning, ImageFolder's ``metadata.csv``/``metadata.jsonl`` with ``file_name``
  and ``text``): every record asks ``--instruction`` (default ``DEFAULT_INSTRUCTION``, said in a
  warning).
- Images: a path relative to the table's folder (else the root, else an ``images/`` folder), a list of
  paths, raw bytes, or Hub image structs ``{bytes, path}`` (bytes win) and lists of them.
- A path to a PDF names a page: ``doc.pdf#page=3`` or a ``page`` column (pages count from 1; a
  one-page PDF needs neither). The page is rendered to PNG (see ``_pdfpages``).
- Answers: text as it is; numbers as text; a JSON object or list becomes compact JSON; a list of
  answers (or of ``{"answer": ...}`` objects, VQAv2's) trains on its first item and keeps all as
  references; beside another answer column, an ``answers`` column gives the references.
- Donut-style ``metadata.jsonl`` (``file_name`` + ``ground_truth``, a JSON string): the answer is that
  JSON, compact; ``{"gt_parse": X}`` gives X, ``{"gt_parses": [...]}`` the first with all as references.
  With no question column the question is ``DONUT_QUESTION``.
- The split is the file's (``data/train-00000-of-00002.parquet``, ``test/metadata.csv``, ``val.jsonl``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.datasets.model import Example, Finding, ImageRef, ReadResult, SourceSplit, Turn, warning
from services.datasets.readers._cells import (
    answer_list,
    cell_text,
    check_row_width,
    donut_answer,
    json_list_or_text,
    page_column,
    struct_bytes,
)
from services.datasets.readers._columnar import (
    columnar_names,
    iter_arrow,
    iter_parquet,
    iter_xlsx,
    parquet_rows,
    xlsx_header,
)
from services.datasets.readers._columns import (
    ANSWER_COLUMNS,
    DEFAULT_INSTRUCTION,
    ID_COLUMNS,
    IMAGE_COLUMNS,
    PAGE_COLUMN,
    QUESTION_COLUMNS,
    REFERENCES_COLUMN,
    SYSTEM_COLUMN,
    Columns,
    choose_columns,
    column_findings,
    first_present,
)
from services.datasets.readers._common import (
    ImageResolver,
    RawRecord,
    ReaderOptions,
    RecordError,
    answer_text,
    convert,
    data_files,
    display_base,
    id_prefix,
    record_id,
    relative_name,
    split_of_path,
    type_name,
)
from services.datasets.readers._pdfpages import PdfPages, is_pdf, split_page_reference
from services.datasets.readers._records import csv_header, iter_csv, iter_json_records
from services.datasets.readers.sniff import files_of_format

DONUT_QUESTION = "Extract the contents of this document as JSON."
DONUT_ANSWER_COLUMN = "ground_truth"


def read_csv(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    return _read(root, options, (".csv",), "csv")


def read_tsv(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    return _read(root, options, (".tsv",), "tsv")


def read_xlsx(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    return _read(root, options, (".xlsx",), "xlsx")


def read_jsonl(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    return _read(root, options, (".jsonl", ".json"), "jsonl")


def read_hub(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    return _read(root, options, (".parquet", ".arrow"), "hub")


def count_hub(root: Path) -> int | None:
    """How many rows ``read_hub`` yields, from the parquet footers alone; None when there are Arrow files
    (a stream tells its rows only once read) or a footer cannot be read."""
    files = _files(root, (".parquet", ".arrow"), "hub")
    if any(path.suffix.lower() != ".parquet" for path in files):
        return None
    return parquet_rows(files)


def _files(root: Path, suffixes: tuple[str, ...], fmt: str) -> list[Path]:
    files = [path for path in data_files(root, suffixes) if not path.name.startswith("cache-")]
    return files_of_format(files, fmt)


def _read(root: Path, options: ReaderOptions, suffixes: tuple[str, ...], fmt: str) -> Iterator[ReadResult]:
    base = display_base(root)
    pages = PdfPages()
    try:
        for path in _files(root, suffixes, fmt):
            yield from read_table(path, base, options, pages)
    finally:
        pages.close()


def read_table(
    path: Path, base: Path, options: ReaderOptions, pages: PdfPages, document: Path | None = None
) -> Iterator[ReadResult]:
    """The rows of one table. With ``document``, every row asks about a page of that PDF."""
    name = relative_name(path, base)
    suffix = path.suffix.lower()
    records = _records(path, name, suffix)
    # The columns are chosen once per file, from its header (or its first record's keys).
    leading: list[RawRecord | Finding] = []
    first: RawRecord | None = None
    for item in records:
        leading.append(item)
        if isinstance(item, RawRecord):
            first = item
            break
    header = _header(path, suffix, first)
    first_row = first.value if first is not None and isinstance(first.value, Mapping) else None
    if header is None and first is None:
        yield from (item for item in leading if isinstance(item, Finding))
        return
    columns = choose_columns(
        header or [], options.image_column, options.question_column, options.answer_column,
        options.instruction, name,
    )  # fmt: skip
    if document is not None:
        columns = Columns(None, columns.question, columns.answer, columns.references, columns.id, ())
    yield from column_findings(columns, first_row, name)
    instruction = options.instruction or DEFAULT_INSTRUCTION
    if columns.question is None and columns.answer != DONUT_ANSWER_COLUMN and options.instruction is None:
        yield warning(
            "default_instruction",
            f'{name} has no question column, so every record asks "{DEFAULT_INSTRUCTION}" (the default '
            'instruction): pass --instruction TEXT (in the API, "instruction") to ask something else',
        )
    rows = TableRows(
        prefix=id_prefix(path, base),
        resolver=ImageResolver([path.parent, base, base / "images", path.parent / "images"]),
        options=options,
        columns=columns,
        instruction=instruction,
        pages=pages,
        split=split_of_path(path, base),
        document=document,
        from_csv=suffix in (".csv", ".tsv"),
        per_row=suffix in (".json", ".jsonl"),
    )
    yield from convert(_chain(leading, records), rows.to_example)


def _records(path: Path, name: str, suffix: str) -> Iterator[RawRecord | Finding]:
    if suffix == ".csv":
        return iter_csv(path, name)
    if suffix == ".tsv":
        return iter_csv(path, name, delimiter="\t")
    if suffix == ".xlsx":
        return iter_xlsx(path, name)
    if suffix == ".parquet":
        return iter_parquet(path, name)
    if suffix == ".arrow":
        return iter_arrow(path, name)
    return iter_json_records(path, name)


def _header(path: Path, suffix: str, first: RawRecord | None) -> list[str] | None:
    if suffix == ".csv":
        return csv_header(path) or None
    if suffix == ".tsv":
        return csv_header(path, delimiter="\t") or None
    if suffix == ".xlsx":
        return xlsx_header(path) or None
    if suffix in (".parquet", ".arrow"):
        return columnar_names(path)
    if first is not None and isinstance(first.value, Mapping):
        return [str(key) for key in first.value]
    return None


def _chain(
    leading: list[RawRecord | Finding], rest: Iterator[RawRecord | Finding]
) -> Iterator[RawRecord | Finding]:
    yield from leading
    yield from rest


@dataclass(frozen=True, slots=True)
class TableRows:
    """Turns table rows into examples; holds what the rows of one file share."""

    prefix: str
    resolver: ImageResolver
    options: ReaderOptions
    columns: Columns
    instruction: str
    pages: PdfPages
    split: SourceSplit | None = None
    document: Path | None = None  # every row asks about a page of this PDF
    from_csv: bool = False
    per_row: bool = False  # JSON rows may each use other keys: resolve the columns row by row

    def to_example(self, raw: RawRecord) -> Example:
        if not isinstance(raw.value, Mapping):
            raise RecordError(f"the record must be a JSON object of columns, not {type_name(raw.value)}")
        row: Mapping[str, Any] = raw.value
        if self.from_csv:
            check_row_width(row)
        columns = self._row_columns(row) if self.per_row else self.columns
        answer, references = self._answer(row, columns)
        system = row.get(SYSTEM_COLUMN)
        return Example(
            id=record_id(row.get(columns.id) if columns.id else None, self.prefix, raw.ordinal),
            source=raw.ref,
            turns=(
                Turn(role="user", text=self._question(row, columns), images=self._images(row, columns)),
                Turn(role="assistant", text=answer),
            ),
            system=system if isinstance(system, str) and system else self.options.system,
            references=references,
            split=self.split,
        )

    def _row_columns(self, row: Mapping[str, Any]) -> Columns:
        """This row's columns: the first present of each role's names (the file's own when named)."""
        options = self.options
        answer = options.answer_column or first_present(row, ANSWER_COLUMNS)
        if answer is None or answer not in row:
            looked_for = f'"{options.answer_column}"' if options.answer_column else ", ".join(ANSWER_COLUMNS)
            raise RecordError(f"this record has no answer (looked for {looked_for}); add one")
        question = options.question_column or first_present(
            [key for key in row if key != answer], QUESTION_COLUMNS
        )
        if question is None and self.columns.question is not None and answer != DONUT_ANSWER_COLUMN:
            raise RecordError(
                f"this record has no question (looked for {', '.join(QUESTION_COLUMNS)}); add one or pass "
                "--question-column NAME"
            )
        references = REFERENCES_COLUMN if REFERENCES_COLUMN in row and answer != REFERENCES_COLUMN else None
        return Columns(
            options.image_column or first_present(row, IMAGE_COLUMNS),
            question,
            answer,
            references,
            first_present(row, ID_COLUMNS),
            (),
        )

    def _question(self, row: Mapping[str, Any], columns: Columns) -> str:
        column = columns.question
        if column is None:
            return DONUT_QUESTION if columns.answer == DONUT_ANSWER_COLUMN else self.instruction
        if column not in row:
            raise RecordError(f'this record has no "{column}" (the question); add it')
        return cell_text(row[column], column)

    def _answer(self, row: Mapping[str, Any], columns: Columns) -> tuple[str, tuple[str, ...]]:
        column = columns.answer
        value = row.get(column)
        if value is None:
            raise RecordError(f'"{column}" is missing or null; add the answer')
        if column == DONUT_ANSWER_COLUMN:
            return donut_answer(value)
        if isinstance(value, str) and column == "answers" and value.lstrip().startswith("["):
            value = json_list_or_text(value)
        if isinstance(value, list):
            references = answer_list(value, column)
            return references[0], references
        trained = answer_text(value, f'"{column}"')
        extra = row.get(columns.references) if columns.references else None
        if isinstance(extra, str) and extra.lstrip().startswith("["):
            extra = json_list_or_text(extra)
        if isinstance(extra, list) and extra:
            return trained, answer_list(extra, columns.references or REFERENCES_COLUMN)
        return trained, ()

    def _images(self, row: Mapping[str, Any], columns: Columns) -> tuple[ImageRef, ...]:
        if self.document is not None:
            return (self._pdf_page(str(self.document), None, row),)
        column = columns.image
        value = row.get(column) if column is not None else None
        if value is None or value == "":
            return ()
        items = value if isinstance(value, list) else [value]
        return tuple(self._image(item, column or "image", row) for item in items)

    def _image(self, item: object, column: str, row: Mapping[str, Any]) -> ImageRef:
        if isinstance(item, bytes | bytearray) and item:
            return ImageRef(data=bytes(item))
        if isinstance(item, Mapping):  # a Hub image struct: bytes win, else the path
            data = struct_bytes(item.get("bytes"), column)
            if data is not None:
                return ImageRef(data=data)
            item = item.get("path")
        if not isinstance(item, str) or not item:
            raise RecordError(
                f'"{column}" must be an image path, image bytes or a list of them, not {type_name(item)}'
            )
        path, page = split_page_reference(item)
        if is_pdf(path):
            return self._pdf_page(self.resolver.resolve(path), page, row)
        return ImageRef(path=self.resolver.resolve(path))

    def _pdf_page(self, path: str, page: int | None, row: Mapping[str, Any]) -> ImageRef:
        if not Path(path).is_file():
            return ImageRef(path=path)  # the image stage reports it missing, like any other image
        page = page if page is not None else page_column(row)
        if page is None:
            count = self.pages.page_count(path)
            if count != 1:
                raise RecordError(
                    f'{Path(path).name} has {count} pages; say which one with a "{PAGE_COLUMN}" column '
                    f'or as "{Path(path).name}#page=N"'
                )
            page = 1
        return ImageRef(data=self.pages.render_png(path, page), declared_format="png")
