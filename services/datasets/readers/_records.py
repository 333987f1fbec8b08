"""Record iteration shared by the readers: JSONL lines, JSON arrays and CSV rows, all streamed.

Each iterator yields a ``RawRecord`` per record it could decode and a ``bad_record`` finding per record
it could not, and goes on where the file's syntax allows (the next JSONL line, the next CSV row). A
broken JSON array cannot be resynchronised, so its reading stops at the first broken element.

JSON arrays are streamed element by element with the standard library's ``raw_decode`` over a sliding
buffer, so a 1 GB LLaVA file or VQAv2 annotation file never sits in memory whole; only one element
at a time does (capped at ``MAX_ELEMENT_CHARS``).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from services.datasets.model import Finding, SourceRef, error
from services.datasets.readers._common import RawRecord

_CHUNK_CHARS = 1 << 20
# One record may hold at most this much text (a record with a few base64 images fits easily): a
# bigger JSONL line is that record's ``record_too_large`` error, read past in chunks, so memory stays
# bounded by the cap; in a JSON array it is a broken file (an unterminated string swallowing the rest).
MAX_RECORD_BYTES = 32 << 20
MAX_ELEMENT_CHARS = MAX_RECORD_BYTES
# Records nest lists and objects at most this deep: deeper is the record's ``record_too_deep`` error,
# never a RecursionError that stops the whole check.
MAX_NESTING = 64
_WHITESPACE = re.compile(r"[ \t\n\r]*")


class JsonStreamError(ValueError):
    """Malformed JSON where a streamed array was expected."""


class JsonStream:
    """A character stream over a JSON file that decodes one value at a time."""

    def __init__(self, handle: TextIO) -> None:
        self._handle = handle
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        """Read more text; False at the end of the file. Drops what was consumed to keep memory flat."""
        if self._eof:
            return False
        if self._pos > _CHUNK_CHARS:
            self._buffer = self._buffer[self._pos :]
            self._pos = 0
        # Read at least as much as is buffered, so re-decoding a long element stays linear overall.
        chunk = self._handle.read(max(_CHUNK_CHARS, len(self._buffer) - self._pos))
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    def peek(self) -> str:
        """The next non-whitespace character, without consuming it; "" at the end of the file."""
        while True:
            match = _WHITESPACE.match(self._buffer, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buffer):
                return self._buffer[self._pos]
            if not self._fill():
                return ""

    def take(self, expected: str) -> None:
        found = self.peek()
        if found != expected:
            shown = repr(found) if found else "the end of the file"
            raise JsonStreamError(f"expected {expected!r} but found {shown}")
        self._pos += 1

    def value(self) -> Any:
        """Decode the next JSON value."""
        self.peek()
        while True:
            try:
                decoded, end = self._decoder.raw_decode(self._buffer, self._pos)
            except RecursionError:
                raise JsonStreamError(f"a record is nested deeper than {MAX_NESTING} levels") from None
            except json.JSONDecodeError as exc:
                if len(self._buffer) - self._pos < MAX_ELEMENT_CHARS and self._fill():
                    continue
                raise JsonStreamError(exc.msg) from exc
            # A value ending exactly at the buffer's end may be a number cut short by the chunk.
            if end == len(self._buffer) and self._fill():
                continue
            self._pos = end
            return decoded

    def skip_value(self) -> None:
        """Skip the next value; an array is skipped element by element so it never sits in memory."""
        if self.peek() == "[":
            for _ in self.array_items():
                pass
        else:
            self.value()

    def array_items(self) -> Iterator[Any]:
        """Yield the elements of the array starting at the current position."""
        self.take("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            separator = self.peek()
            self._pos += 1
            if separator == "]":
                return
            if separator != ",":
                shown = repr(separator) if separator else "the end of the file"
                raise JsonStreamError(f"expected ',' or ']' after an element but found {shown}")

    def object_keys(self) -> Iterator[str]:
        """Walk a top-level object: yield each key with the stream positioned at its value.

        The consumer either reads the value or leaves it; an unread value is skipped.
        """
        self.take("{")
        if self.peek() == "}":
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise JsonStreamError("an object key is not a string")
            self.take(":")
            self.peek()
            start = self._pos
            yield key
            if self._pos == start:
                self.skip_value()
            separator = self.peek()
            self._pos += 1
            if separator == "}":
                return
            if separator != ",":
                raise JsonStreamError(f"expected ',' or '}}' after the value of {key!r}")


def open_json(path: Path) -> TextIO:
    # utf-8-sig: files saved by Windows tools start with a BOM that json refuses.
    return path.open(encoding="utf-8-sig")


def iter_json_array(path: Path, name: str, key: str | None = None) -> Iterator[RawRecord | Finding]:
    """The elements of a file's top-level array, or of the array under top-level ``key``."""
    index = 0
    try:
        with open_json(path) as handle:
            stream = JsonStream(handle)
            found = _seek_key(stream, key) if key is not None else stream.peek() == "["
            if not found:
                expected = f'an object with a "{key}" list' if key else "a list of records"
                yield error(
                    "bad_record",
                    f"{name} is not {expected}; check that this is the right file for the format",
                    SourceRef(name),
                )
                return
            for value in stream.array_items():
                ref = SourceRef(name, index=index)
                yield too_deep(ref) if nesting_exceeds(value, MAX_NESTING) else RawRecord(ref, index, value)
                index += 1
    except (JsonStreamError, UnicodeDecodeError) as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        yield error(
            "bad_record",
            f"{name} is not valid JSON at record {index} ({reason}); records after it were not read: "
            "fix the file (a JSON validator shows the spot)",
            SourceRef(name, index=index),
        )


def _seek_key(stream: JsonStream, key: str) -> bool:
    """Position the stream at the value of top-level ``key``; False when the object lacks it."""
    if stream.peek() != "{":
        return False
    for found in stream.object_keys():
        if found == key:
            return stream.peek() == "["
    return False


def iter_jsonl(
    path: Path, name: str, max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[RawRecord | Finding]:
    """One record per non-blank line; a line that is not JSON is a ``bad_record`` and reading goes on.

    Ordinals count every non-blank line, broken ones too, so fixing one line never renumbers the rest.
    """
    ordinal = 0
    with path.open("rb") as handle:
        for line_number, raw in enumerate(_bounded_lines(handle, max_record_bytes), start=1):
            line = raw.removeprefix(codecs.BOM_UTF8) if line_number == 1 and raw is not None else raw
            ref = SourceRef(name, line=line_number)
            if line is None:
                yield error(
                    "record_too_large",
                    f"this line is over {max_record_bytes / (1 << 20):g} MB, more than one record may hold: "
                    "split it or store its images as files next to the dataset",
                    ref,
                )
                ordinal += 1
                continue
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except RecursionError:
                yield too_deep(ref)
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
                yield error("bad_record", f"this line is not valid JSON ({reason}); fix or remove it", ref)
            else:
                yield too_deep(ref) if nesting_exceeds(value, MAX_NESTING) else RawRecord(ref, ordinal, value)
            ordinal += 1


def count_jsonl_records(path: Path, max_record_bytes: int = MAX_RECORD_BYTES) -> int:
    """How many records ``iter_jsonl`` yields for ``path`` (one per non-blank line), without parsing any."""
    with path.open("rb") as handle:
        lines = _bounded_lines(handle, max_record_bytes)
        return sum(1 for line in lines if line is None or line.removeprefix(codecs.BOM_UTF8).strip())


def _bounded_lines(handle: BinaryIO, cap: int) -> Iterator[bytes | None]:
    """Each line of a binary file, or None for a line longer than ``cap``, read past in chunks so it
    never sits in memory whole."""
    while True:
        line = handle.readline(cap + 1)
        if not line:
            return
        if len(line) <= cap or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = handle.readline(_CHUNK_CHARS)
        yield None


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and objects in ``value`` nest deeper than ``limit`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def too_deep(ref: SourceRef) -> Finding:
    return error(
        "record_too_deep",
        f"this record nests lists or objects more than {MAX_NESTING} levels deep, more than any dataset "
        "needs: flatten it",
        ref,
    )


def iter_json_records(path: Path, name: str, key: str | None = None) -> Iterator[RawRecord | Finding]:
    """Records of a .jsonl file (one per line) or of a .json file's array (top level or under ``key``)."""
    if path.suffix.lower() == ".jsonl":
        return iter_jsonl(path, name)
    return iter_json_array(path, name, key)


def csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """The column names of a CSV (or TSV) file ([] when it is empty or unreadable)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def iter_csv(path: Path, name: str, delimiter: str = ",") -> Iterator[RawRecord | Finding]:
    """One record per data row, as a column -> text mapping; line numbers count the header as line 1.

    A row with more fields than the header has its extras under the key ``None``; a short row has
    ``None`` for the missing columns (csv.DictReader's conventions), left for the reader to report.
    """
    ordinal = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = csv.DictReader(handle, delimiter=delimiter)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                ref = SourceRef(name, line=rows.line_num)
                yield error("bad_record", f"this CSV row cannot be parsed ({exc}); fix the quoting", ref)
                ordinal += 1
                continue
            except UnicodeDecodeError:
                ref = SourceRef(name, line=rows.line_num + 1)
                yield error(
                    "bad_record",
                    f"{name} is not UTF-8 text from about here on; rows after it were not read: "
                    "save the file as UTF-8",
                    ref,
                )
                return
            yield RawRecord(SourceRef(name, line=rows.line_num), ordinal, row)
            ordinal += 1
