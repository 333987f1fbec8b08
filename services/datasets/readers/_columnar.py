"""Row iteration for column stores and spreadsheets: parquet, Arrow (``datasets.save_to_disk``), XLSX.

Each yields a ``RawRecord`` per row (a column -> value mapping; Hub image structs arrive as
``{"bytes", "path"}`` dicts) and ends with one ``bad_record`` finding when the file breaks part way.
Parquet and Arrow are read in small record batches, XLSX row by row in openpyxl's read-only mode, so
memory stays bounded by one batch whatever the file's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.datasets.model import Finding, SourceRef, error, warning
from services.datasets.readers._common import RawRecord

PARQUET_BATCH_ROWS = 64


def iter_parquet(path: Path, name: str) -> Iterator[RawRecord | Finding]:
    import pyarrow as pa  # here: heavy to import, and only parquet sources need it
    import pyarrow.parquet as pq

    index = 0
    try:
        with pq.ParquetFile(path) as parquet:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                for row in batch.to_pylist():
                    yield RawRecord(SourceRef(name, index=index), index, row)
                    index += 1
    except (OSError, pa.ArrowException) as exc:
        yield _broken(name, index, "parquet", exc)


def parquet_rows(paths: list[Path]) -> int | None:
    """The rows of these parquet files, from their footers (no row is read); None if one is unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    try:
        for path in paths:
            with pq.ParquetFile(path) as parquet:
                rows += parquet.metadata.num_rows
    except (OSError, pa.ArrowException):
        return None
    return rows


def iter_arrow(path: Path, name: str) -> Iterator[RawRecord | Finding]:
    """An Arrow IPC file as ``datasets.save_to_disk`` writes it (the stream format), or the file format."""
    import pyarrow as pa

    index = 0
    try:
        with pa.memory_map(str(path)) as source:
            try:
                reader: Any = pa.ipc.open_stream(source)
                batches = iter(reader)
            except pa.ArrowInvalid:
                source.seek(0)
                reader = pa.ipc.open_file(source)
                batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
            for batch in batches:
                for start in range(0, batch.num_rows, PARQUET_BATCH_ROWS):
                    for row in batch.slice(start, PARQUET_BATCH_ROWS).to_pylist():
                        yield RawRecord(SourceRef(name, index=index), index, row)
                        index += 1
    except (OSError, pa.ArrowException) as exc:
        yield _broken(name, index, "Arrow", exc)


def columnar_names(path: Path) -> list[str] | None:
    """The column names of a parquet or Arrow file, from its schema alone (None when unreadable)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() == ".parquet":
            return list(pq.read_schema(path).names)
        with pa.memory_map(str(path)) as source:
            try:
                return list(pa.ipc.open_stream(source).schema.names)
            except pa.ArrowInvalid:
                source.seek(0)
                return list(pa.ipc.open_file(source).schema.names)
    except (OSError, pa.ArrowException):
        return None


def iter_xlsx(path: Path, name: str) -> Iterator[RawRecord | Finding]:
    """The first sheet's rows under its header row; line numbers are the sheet's row numbers.

    Empty cells read as "" (as in CSV); a workbook with more sheets gets a warning naming them.
    """
    import zipfile

    from openpyxl import load_workbook  # here: only spreadsheet sources need it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        yield error(
            "bad_record",
            f"{name} cannot be opened as an Excel workbook ({type(exc).__name__}): save it again as .xlsx",
            SourceRef(name),
        )
        return
    try:
        sheets = workbook.sheetnames
        if len(sheets) > 1:
            yield warning(
                "unused_sheet",
                f"{name} has {len(sheets)} sheets; only the first ({sheets[0]}) was read, not "
                f"{', '.join(sheets[1:])}: move their rows into the first sheet or save each as its own file",
            )
        rows = workbook[sheets[0]].iter_rows(values_only=True)
        header = [str(cell).strip() if cell is not None else "" for cell in next(rows, ())]
        ordinal = 0
        for line, values in enumerate(rows, start=2):
            if all(cell is None or cell == "" for cell in values):
                continue
            row = {column: _cell(value) for column, value in zip(header, values, strict=False) if column}
            yield RawRecord(SourceRef(name, line=line), ordinal, row)
            ordinal += 1
    finally:
        workbook.close()


def xlsx_header(path: Path) -> list[str]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # an unreadable workbook has no columns; iter_xlsx reports it
        return []
    try:
        first = next(workbook[workbook.sheetnames[0]].iter_rows(values_only=True), ())
        return [str(cell).strip() for cell in first if cell is not None and str(cell).strip()]
    finally:
        workbook.close()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return int(value)  # Excel stores every number as a float: 3 was typed, not 3.0
    return value


def _broken(name: str, index: int, kind: str, exc: Exception) -> Finding:
    return error(
        "bad_record",
        f"{name} cannot be read as {kind} from row {index} on ({type(exc).__name__}); rows after it were "
        "not read: download or export the file again",
        SourceRef(name, index=index),
    )
