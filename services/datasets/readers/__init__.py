"""Readers: one module per source format, each a generator of canonical examples.

``read_examples(root, fmt, options)`` yields an ``Example`` per record it could read and an error
``Finding`` (``bad_record``, with the file and line or index) per record it could not, and keeps
going. Problems with the dataset as a whole (a CSV without a question column, PDFs without questions)
raise ``SourceError``, possibly only once iteration reaches them.

Readers never load a whole file: JSONL and CSV go line by line, JSON lists element by element,
parquet in row batches. They resolve image paths but do not check them (the image stage does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from services.datasets.model import ReadResult
from services.datasets.readers import bedrock, chartqa, docvqa, hf_llava, llava, pdf, tabular, vqav2
from services.datasets.readers._common import ReaderOptions
from services.datasets.sources import SourceError

__all__ = ["FORMATS", "ReaderOptions", "count_records", "read_examples"]

Reader = Callable[[Path, ReaderOptions], Iterator[ReadResult]]

_READERS: dict[str, Reader] = {
    "bedrock": bedrock.read,
    "llava": llava.read,
    "hf-llava": hf_llava.read,
    "chartqa": chartqa.read,
    "vqav2": vqav2.read,
    "docvqa": docvqa.read,
    "hub": tabular.read_hub,
    "csv": tabular.read_csv,
    "tsv": tabular.read_tsv,
    "xlsx": tabular.read_xlsx,
    "jsonl": tabular.read_jsonl,
    "pdf": pdf.read,
}
FORMATS: tuple[str, ...] = tuple(_READERS)
# Formats whose records can be counted before they are read, cheaply (a line each, a parquet footer): a
# check's progress then shows a share. The others tell their total only once read.
_COUNTERS: dict[str, Callable[[Path], int | None]] = {"bedrock": bedrock.count, "hub": tabular.count_hub}


def read_examples(root: Path, fmt: str, options: ReaderOptions | None = None) -> Iterator[ReadResult]:
    """The records under ``root`` (a folder or one file, as ``sources.open_source`` returns) in ``fmt``."""
    reader = _READERS.get(fmt)
    if reader is None:
        raise SourceError(
            "format_unknown", f'there is no format "{fmt}"; pass --format with one of: {", ".join(FORMATS)}'
        )
    return reader(root, options or ReaderOptions())


def count_records(root: Path, fmt: str) -> int | None:
    """How many records ``read_examples(root, fmt)`` will yield, or None when ``fmt`` cannot tell cheaply."""
    counter = _COUNTERS.get(fmt)
    return counter(root) if counter is not None else None
