"""What every reader shares: options, the record-error convention, field accessors, image paths.

A reader turns a raw record into an ``Example`` with a pure function that raises ``RecordError`` when
the record cannot be used; ``convert`` turns that into a ``bad_record`` finding so reading goes on.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.datasets.model import Example, Finding, ReadResult, SourceRef, SourceSplit, error

# Folders a zip made on macOS carries beside the data; never part of a dataset.
_JUNK_PARTS = ("__MACOSX",)
# How many image lookups an ImageResolver spends finding the folder images live in.
_RESOLVER_PROBES = 50


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """How to read a source. ``None`` means "detect" (columns) or "everything present" (split).

    ``system`` is the system prompt for records that carry none. ``split`` names the split(s) to read,
    comma-separated (``train`` or ``train,val``), for ChartQA, VQAv2 and DocVQA.
    """

    system: str | None = None
    instruction: str | None = None  # the question of records that have none (captioning)
    image_column: str | None = None
    question_column: str | None = None
    answer_column: str | None = None
    split: str | None = None

    def wants_split(self, split: str) -> bool:
        """Whether a split named ``split`` (``train``, ``val2014``, ``train_v1.0``) is to be read."""
        if self.split is None:
            return True
        wanted = [part.strip().lower() for part in self.split.split(",") if part.strip()]
        return any(split.lower().startswith(name) for name in wanted)


_TRAIN_NAMES = ("train",)
_VALIDATION_NAMES = ("validation", "valid", "val", "dev", "minival")
_TEST_NAMES = ("test", "testdev", "test-dev", "test_dev")
_SPLIT_WORD = re.compile(r"[a-z]+(?:[-_]dev)?")


def canonical_split(name: str | None) -> SourceSplit | None:
    """The split a file or folder name stands for: ``train2014`` -> train, ``val`` -> validation,
    ``testdev-00001-of-00002`` -> test; None for a name that is no split (``data``, ``images``)."""
    if not name:
        return None
    word = _SPLIT_WORD.match(name.lower())
    if word is None:
        return None
    stem = word.group(0)
    if stem in _TRAIN_NAMES:
        return "train"
    if stem in _VALIDATION_NAMES:
        return "validation"
    if stem in _TEST_NAMES:
        return "test"
    return None


def split_of_path(path: Path, base: Path) -> SourceSplit | None:
    """The split a data file belongs to: its own name first (``train.jsonl``,
    ``train-00000-of-00002.parquet``, ``test_human.json``), else the nearest folder under the root
    that names one (``train/metadata.csv``, ``default/validation/0000.parquet``)."""
    found = canonical_split(path.stem)
    if found is not None:
        return found
    try:
        folders = path.parent.relative_to(base).parts
    except ValueError:
        folders = ()
    for folder in reversed(folders):
        found = canonical_split(folder)
        if found is not None:
            return found
    return None


class RecordError(ValueError):
    """A record that cannot be used; the message says what is wrong and what to do."""


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A decoded record and where it came from. ``ordinal`` is its 0-based position in its file."""

    ref: SourceRef
    ordinal: int
    value: Any


def display_base(root: Path) -> Path:
    """The folder SourceRef.file names are relative to: the root, or a root file's folder."""
    return root if root.is_dir() else root.parent


def relative_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def id_prefix(path: Path, base: Path) -> str:
    """The fallback id stem of a file's records: its path under the root without the suffix.

    The path rather than the bare stem keeps ``train/metadata.jsonl`` and ``test/metadata.jsonl`` apart.
    """
    return relative_name(path.with_suffix(""), base)


def record_id(value: object, prefix: str, ordinal: int) -> str:
    """The source's own id when it has a usable one, else ``<prefix>-<ordinal>``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{prefix}-{ordinal}"


def is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") or part in _JUNK_PARTS for part in relative.parts)


def data_files(root: Path, suffixes: Sequence[str]) -> list[Path]:
    """The files under ``root`` (or ``root`` itself) with one of ``suffixes``, sorted, hidden ones skipped."""
    if root.is_file():
        return [root]
    found = (
        path
        for path in root.rglob("*")
        if path.suffix.lower() in suffixes and not is_hidden(path.relative_to(root)) and path.is_file()
    )
    return sorted(found)


def convert(
    records: Iterable[RawRecord | Finding], to_example: Callable[[RawRecord], Example]
) -> Iterator[ReadResult]:
    """Apply ``to_example`` to each record, turning a ``RecordError`` into a ``bad_record`` finding."""
    for record in records:
        if isinstance(record, Finding):
            yield record
            continue
        try:
            yield to_example(record)
        except RecordError as exc:
            yield error("bad_record", str(exc), record.ref)


# Field accessors: each raises RecordError naming the field, so a reader states only what it expects.


def require_mapping(value: object, what: str = "record") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RecordError(f"{what} must be a JSON object, not {type_name(value)}; fix the record")
    return value


def require_list(record: Mapping[str, Any], key: str) -> list[Any]:
    value = require_key(record, key)
    if not isinstance(value, list):
        raise RecordError(f'"{key}" must be a list, not {type_name(value)}; fix the record')
    return value


def require_key(record: Mapping[str, Any], key: str) -> Any:
    if key not in record:
        present = ", ".join(sorted(str(name) for name in record)) or "none"
        raise RecordError(f'the record has no "{key}" field (it has: {present}); add it')
    return record[key]


def require_text(record: Mapping[str, Any], key: str) -> str:
    """A text field; numbers are accepted as their decimal text (CSV-born answers often are numbers)."""
    return as_text(require_key(record, key), f'"{key}"')


def as_text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise RecordError(f"{what} must be text, not {type_name(value)}; fix the record")


def answer_text(value: object, what: str) -> str:
    """An answer as training text: text as it is, numbers as text, JSON structures as compact JSON."""
    if isinstance(value, dict | list | bool):
        return compact_json(value)
    return as_text(value, what)


def compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def type_name(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a number" if isinstance(value, int | float) else type(value).__name__


class ImageResolver:
    """Resolves the relative image paths of one file against the folder where they turn out to exist.

    Datasets differ in what their paths are relative to (the annotation file's folder, the dataset
    root, an ``images/`` folder). The first candidate folder holding an image that a lookup names
    wins and is then used for every path, so one file's images always resolve the same way. When no
    candidate holds any of the first lookups, paths resolve against the first candidate and the image
    stage reports them missing.
    """

    def __init__(self, candidates: Iterable[Path]) -> None:
        unique = dict.fromkeys(Path(os.path.normpath(folder)) for folder in candidates)
        self._candidates = list(unique) or [Path.cwd()]
        self._chosen: Path | None = None
        self._probes_left = _RESOLVER_PROBES

    def resolve(self, name: str) -> str:
        relative = Path(name.replace("\\", "/"))  # paths written on Windows
        if relative.is_absolute():
            return os.path.normpath(relative)
        if self._chosen is None and self._probes_left > 0:
            self._probes_left -= 1
            self._chosen = next(
                (folder for folder in self._candidates if (folder / relative).is_file()), None
            )
        folder = self._chosen or self._candidates[0]
        return os.path.normpath(folder / relative)
