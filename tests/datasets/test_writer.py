"""Bedrock's record format and the output folder, from single records up to a whole prepared dataset."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from services.datasets.model import Example, ImageRef, SourceRef, Turn
from services.datasets.pipeline import PrepareOptions, prepare
from services.datasets.writer import (
    EVALUATION_FIELD,
    SPLIT_FILES,
    SplitWriter,
    StoredImage,
    bedrock_record,
    store_image,
)
from tests.datasets.fixtures import make_chartqa

SHA = "ab" * 32
STORED = StoredImage(sha256=SHA, format="jpeg", width=800, height=600)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_record_has_bedrock_shape_with_image_uri_under_the_prefix() -> None:
    example = Example(
        id="1",
        source=SourceRef("data.jsonl", 1),
        turns=(
            Turn("user", "<image>\nWhat is the total?", (ImageRef(path="r.jpg"),)),
            Turn("assistant", "4.20"),
        ),
    )

    record = bedrock_record(example, [STORED], "s3://bucket/team/", "Answer briefly.")

    assert record == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Answer briefly."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "What is the total?"},
                    {
                        "image": {
                            "format": "jpeg",
                            "source": {"s3Location": {"uri": f"s3://bucket/team/images/{SHA}.jpg"}},
                        }
                    },
                ],
            },
            {"role": "assistant", "content": [{"text": "4.20"}]},
        ],
    }


def test_text_only_record_without_system_has_no_system_key() -> None:
    example = Example(id="2", source=SourceRef("d", 1), turns=(Turn("user", "2+2?"), Turn("assistant", "4")))
    record = bedrock_record(example, [], "s3://b", None)
    assert "system" not in record
    assert record["messages"][0]["content"] == [{"text": "2+2?"}]


def test_evaluation_fields_stay_out_of_the_files_bedrock_reads(tmp_path: Path) -> None:
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [],
        EVALUATION_FIELD: {"references": ["a"]},
    }
    with SplitWriter(tmp_path) as writer:
        for side in SPLIT_FILES:
            writer.write(side, dict(record))
    assert EVALUATION_FIELD not in read_jsonl(tmp_path / "train.jsonl")[0]
    assert EVALUATION_FIELD not in read_jsonl(tmp_path / "validation.jsonl")[0]
    assert read_jsonl(tmp_path / "test.jsonl")[0][EVALUATION_FIELD] == {"references": ["a"]}


def test_an_image_is_stored_once_under_its_hash(tmp_path: Path) -> None:
    first = store_image(tmp_path, STORED, b"one")
    second = store_image(tmp_path, STORED, b"two")
    assert first == second == tmp_path / "images" / f"{SHA}.jpg"
    assert first.read_bytes() == b"one"
    assert [p.name for p in (tmp_path / "images").iterdir()] == [f"{SHA}.jpg"]


@pytest.mark.parametrize("workers", [1, 2])
def test_prepared_folder_is_consistent(tmp_path: Path, workers: int) -> None:
    source = make_chartqa(tmp_path / "chartqa", 60, splits=("train",), questions_per_image=3)
    out = tmp_path / "out"

    report = prepare(str(source), PrepareOptions(out_dir=out, s3_uri="s3://bucket/ds", workers=workers))

    sides = {side: read_jsonl(out / f"{side}.jsonl") for side in ("train", "validation", "test")}
    assert sum(len(records) for records in sides.values()) == report.counts.accepted == 60
    assert (report.counts.train, report.counts.validation, report.counts.test) == tuple(
        len(sides[s]) for s in ("train", "validation", "test")
    )
    files = sorted((out / "images").iterdir())
    assert len(files) == report.counts.images == 20  # three questions per chart, each chart once
    referenced = set()
    for records in sides.values():
        for record in records:
            image = record["messages"][0]["content"][1]["image"]
            name = image["source"]["s3Location"]["uri"].removeprefix("s3://bucket/ds/images/")
            referenced.add(name)
            data = (out / "images" / name).read_bytes()
            assert name.split(".")[0] == hashlib.sha256(data).hexdigest()
            assert Image.open(io.BytesIO(data)).format.lower() == image["format"]  # type: ignore[union-attr]
    assert referenced == {f.name for f in files}
    assert all(EVALUATION_FIELD in record for record in sides["test"])
    assert all(record[EVALUATION_FIELD]["references"] for record in sides["test"])


def test_a_second_run_into_the_same_folder_leaves_only_its_own_images(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = make_chartqa(tmp_path / "first", 30, splits=("train",))
    second = make_chartqa(tmp_path / "second", 12, splits=("val",))
    prepare(str(first), PrepareOptions(out_dir=out, workers=1))

    report = prepare(str(second), PrepareOptions(out_dir=out, workers=1))

    assert len(list((out / "images").iterdir())) == report.counts.images == 12
