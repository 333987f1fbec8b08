"""Bad input that would cost the service: a huge line, JSON nested absurdly deep. Each is that record's
coded error, with memory bounded by the cap, and the rest of the dataset is checked as usual."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.datasets.readers._records import MAX_NESTING, MAX_RECORD_BYTES, iter_jsonl
from tests.datasets.fixtures import answer, question

runner = CliRunner()


def good_lines(n: int) -> list[str]:
    return [json.dumps({"question": question(i), "answer": answer(i)}) for i in range(n)]


def test_a_line_over_the_record_cap_is_its_own_error_and_is_never_held_whole(tmp_path: Path) -> None:
    cap = 1 << 20  # the same code path as the 32 MB default, at a size a test can afford
    huge = json.dumps({"question": "q", "answer": "x" * (20 * cap)})
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join([*good_lines(2), huge, *good_lines(2)]) + "\n", encoding="utf-8")

    tracemalloc.start()
    items = list(iter_jsonl(path, "data.jsonl", max_record_bytes=cap))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    errors = [item for item in items if getattr(item, "severity", None) == "error"]
    assert [(e.code, str(e.record)) for e in errors] == [("record_too_large", "data.jsonl:3")]  # type: ignore[attr-defined]
    assert len(items) == 5  # the lines after it are read
    assert peak < 4 * cap < len(huge)  # bounded by the cap, not by the line
    assert MAX_RECORD_BYTES == 32 << 20


def test_json_nested_100000_deep_is_that_records_error_not_a_crash(tmp_path: Path) -> None:
    deep = '{"question": "q", "answer": ' + "[" * 100_000 + "]" * 100_000 + "}"
    nested_70 = json.dumps({"question": "q", "answer": json.loads("[" * 70 + "]" * 70)})
    root = tmp_path / "data"
    root.mkdir()
    (root / "data.jsonl").write_text("\n".join([*good_lines(60), deep, nested_70, *good_lines(60)]) + "\n")

    result = runner.invoke(
        app, ["prepare", str(root), "--out", str(tmp_path / "out"), "--s3-uri", "s3://b/p"]
    )

    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["error_counts"] == {"record_too_deep": 2}
    deep_errors = [f for f in report["errors"] if f["code"] == "record_too_deep"]
    assert [f["record"] for f in deep_errors] == ["data.jsonl:61", "data.jsonl:62"]
    assert f"more than {MAX_NESTING} levels" in deep_errors[0]["message"]
    assert report["counts"]["accepted"] == 120
