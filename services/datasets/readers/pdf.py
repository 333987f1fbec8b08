"""PDF documents with their questions (``--format pdf``); every asked-about page becomes one PNG image.

A PDF holds pages, not questions, so each ``<stem>.pdf`` needs a question file beside it:
``<stem>.jsonl`` or ``<stem>.csv`` (the first found, in that order) with one row per question and the
columns ``page`` (counting from 1; may be left out for a one-page PDF), ``question`` and ``answer``
(same column rules as the ``csv``/``jsonl`` formats, see ``tabular``). The root is one PDF or a folder
searched for PDFs.

- No PDF with a question file at all: a ``SourceError("pdf_no_questions")`` saying which file to add.
- Some PDFs without one: an error finding for each of those, the others are read.

Questions in a general table can point at PDF pages too (``doc.pdf#page=3`` or a ``page`` column in a
``csv``/``jsonl`` dataset); that is handled by the tabular reader and needs no ``--format pdf``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from services.datasets.model import ReadResult, SourceRef, error
from services.datasets.readers._common import ReaderOptions, data_files, display_base, relative_name
from services.datasets.readers._pdfpages import PdfPages
from services.datasets.readers.tabular import read_table
from services.datasets.sources import SourceError

QUESTION_SUFFIXES = (".jsonl", ".csv")


def question_file(document: Path) -> Path | None:
    """The question file beside a PDF, if there is one."""
    return next(
        (candidate for suffix in QUESTION_SUFFIXES if (candidate := document.with_suffix(suffix)).is_file()),
        None,
    )


def _expected_name(document: Path) -> str:
    return f"{document.stem}.csv (or {document.stem}.jsonl)"


def read(root: Path, options: ReaderOptions) -> Iterator[ReadResult]:
    """Checks at once that some PDF has questions (raising SourceError), then reads lazily."""
    base = display_base(root)
    documents = data_files(root, (".pdf",))
    paired = [(document, question_file(document)) for document in documents]
    if not any(questions for _, questions in paired):
        names = ", ".join(document.name for document in documents) or "no PDF file"
        wanted = _expected_name(documents[0]) if documents else "a PDF and its questions"
        raise SourceError(
            "pdf_no_questions",
            f"{names}: a PDF needs questions to train on. Add {wanted} beside it, with the columns "
            "page, question, answer and one row per question, and send both together (a folder or a zip)",
        )
    return _read_documents(paired, base, options)


def _read_documents(
    paired: list[tuple[Path, Path | None]], base: Path, options: ReaderOptions
) -> Iterator[ReadResult]:
    pages = PdfPages()
    try:
        for document, questions in paired:
            if questions is None:
                yield error(
                    "pdf_no_questions",
                    f"{document.name} has no questions and was skipped; add {_expected_name(document)} "
                    "beside it with the columns page, question, answer",
                    SourceRef(relative_name(document, base)),
                )
                continue
            yield from read_table(questions, base, options, pages, document=document)
    finally:
        pages.close()
