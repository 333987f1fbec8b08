"""Which format a source is in, from the names of its files and their first records.

One file: its own format (``readers.sniff.classify``). A folder: every data file votes with its format
and the folder is detected when they agree; files that look like nothing (a README.json, a report)
do not vote. A PDF votes only with its question file beside it (``readers.pdf``); PDFs that a table
points at are images of that table. Nothing is ever read beyond a file's first record.
"""

from __future__ import annotations

from pathlib import Path

from services.datasets.readers import FORMATS
from services.datasets.readers._common import data_files, relative_name
from services.datasets.readers.pdf import question_file
from services.datasets.readers.sniff import DATA_SUFFIXES, classify_file
from services.datasets.sources import SourceError

# A folder with more data files than this is judged by the first ones (sorted by path).
MAX_FILES_TO_SNIFF = 200
_NAMES_SHOWN = 3


def detect_format(root: Path) -> str:
    """One of ``readers.FORMATS``, or SourceError ``format_unknown`` saying to pass --format."""
    if root.is_file():
        found = classify_file(root)
        if found is None:
            raise _unknown(root.name, "its first record matches none of the known formats")
        return found
    files = data_files(root, DATA_SUFFIXES)
    documents = [path for path in files if path.suffix.lower() == ".pdf"]
    tables = [path for path in files if path.suffix.lower() != ".pdf"]
    questions_of_documents = {question_file(document) for document in documents}
    votes: dict[str, list[str]] = {}
    for path in tables[:MAX_FILES_TO_SNIFF]:
        found = "pdf" if path in questions_of_documents else classify_file(path)
        if found is not None:
            votes.setdefault(found, []).append(relative_name(path, root))
    if len(votes) == 1:
        return next(iter(votes))
    if votes:
        described = "; ".join(f"{fmt} ({_some(names)})" for fmt, names in sorted(votes.items()))
        raise _unknown(root.name, f"its files look like different formats: {described}")
    if documents:
        return "pdf"  # the PDF reader says which question file to add
    if tables:
        names = [relative_name(path, root) for path in tables]
        raise _unknown(root.name, f"no data file's first record matches a known format ({_some(names)})")
    raise _unknown(root.name, "it holds no .json, .jsonl, .csv, .parquet or .pdf file")


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    return shown if len(names) <= _NAMES_SHOWN else f"{shown} and {len(names) - _NAMES_SHOWN} more"


def _unknown(name: str, reason: str) -> SourceError:
    return SourceError(
        "format_unknown",
        f"cannot tell the dataset format of {name}: {reason}. "
        f"Pass --format with one of: {', '.join(FORMATS)}",
    )
