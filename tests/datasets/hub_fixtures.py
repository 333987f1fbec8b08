"""Datasets as people download them from the Hugging Face Hub and as spreadsheets, made by the tests.

The Hub serves every dataset as parquet shards ``data/<split>-0000N-of-0000M-<hash>.parquet`` with an
``Image`` feature stored as a struct ``{bytes: binary, path: string}`` (see
shared/reference/formats.md). Column names are the dataset cards':
- HuggingFaceM4/ChartQA: ``image``, ``query``, ``label`` (list of strings), ``human_or_machine``
  (class label), splits train / val / test
  (https://huggingface.co/datasets/HuggingFaceM4/ChartQA/blob/b605b6e08b57faf4359aeb2fe6a3ca595f99b6c5/README.md);
- lmms-lab/VQAv2: ``question_type``, ``multiple_choice_answer``, ``answers`` (list of ``{answer,
  answer_confidence, answer_id}``), ``image_id``, ``answer_type``, ``question_id``, ``question``,
  ``image``, splits validation / testdev / test (https://huggingface.co/datasets/lmms-lab/VQAv2);
- DocVQA exports: ``questionId``, ``question``, ``image``, ``docId``, ``answers`` (list of strings).
``datasets.save_to_disk`` writes Arrow IPC streams ``<split>/data-00000-of-00001.arrow`` beside
``dataset_info.json`` and ``state.json``, with ``dataset_dict.json`` at the top.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

from tests.datasets.fixtures import answer, image_bytes, make_png, question, vqav2_answers, write_csv

IMAGE_STRUCT = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
SHARD_HASH = "194c9400785577a2"  # the Hub appends one to every shard name


def _seed(split: str, i: int) -> int:
    return {"train": 0, "val": 1000, "validation": 1000, "test": 2000, "testdev": 2500}.get(split, 2800) + i


def chartqa_row(split: str, i: int) -> dict[str, Any]:
    return {
        "image": {"bytes": image_bytes(seed=_seed(split, i)), "path": None},
        "query": question(i),
        "label": [answer(i)],
        "human_or_machine": i % 2,
    }


CHARTQA_SCHEMA = pa.schema(
    [
        ("image", IMAGE_STRUCT),
        ("query", pa.string()),
        ("label", pa.list_(pa.string())),
        ("human_or_machine", pa.int64()),
    ]
)


def vqav2_row(split: str, i: int) -> dict[str, Any]:
    image_id = 9000 + _seed(split, i)
    return {
        "question_type": "what is the",
        "multiple_choice_answer": answer(i),
        "answers": [
            {"answer": text, "answer_confidence": "yes", "answer_id": k + 1}
            for k, text in enumerate(vqav2_answers(i))
        ],
        "image_id": image_id,
        "answer_type": "number",
        "question_id": image_id * 1000,
        "question": question(i),
        "image": {"bytes": image_bytes(seed=_seed(split, i)), "path": f"COCO_val2014_{image_id:012d}.jpg"},
    }


VQAV2_SCHEMA = pa.schema(
    [
        ("question_type", pa.string()),
        ("multiple_choice_answer", pa.string()),
        (
            "answers",
            pa.list_(
                pa.struct(
                    [("answer", pa.string()), ("answer_confidence", pa.string()), ("answer_id", pa.int64())]
                )
            ),
        ),
        ("image_id", pa.int64()),
        ("answer_type", pa.string()),
        ("question_id", pa.int64()),
        ("question", pa.string()),
        ("image", IMAGE_STRUCT),
    ]
)


def docvqa_row(split: str, i: int) -> dict[str, Any]:
    return {
        "questionId": 70_000 + _seed(split, i),
        "question": question(i),
        "image": {"bytes": image_bytes(size=(60, 80), seed=_seed(split, i), mode="L"), "path": None},
        "docId": i,
        "answers": [answer(i), f"${answer(i)}"],
    }


DOCVQA_SCHEMA = pa.schema(
    [
        ("questionId", pa.int64()),
        ("question", pa.string()),
        ("image", IMAGE_STRUCT),
        ("docId", pa.int64()),
        ("answers", pa.list_(pa.string())),
    ]
)

Row = Callable[[str, int], dict[str, Any]]


def make_hub_parquet(
    root: Path, row: Row, schema: pa.Schema, splits: dict[str, int], shards: int = 2
) -> Path:
    """``root/data/<split>-0000N-of-0000M-<hash>.parquet``: ``splits`` maps split name -> rows."""
    for split, count in splits.items():
        rows = [row(split, i) for i in range(count)]
        per_shard = -(-count // shards)
        for shard in range(shards):
            part = rows[shard * per_shard : (shard + 1) * per_shard]
            path = root / "data" / f"{split}-{shard:05d}-of-{shards:05d}-{SHARD_HASH}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(part, schema=schema), path)
    return root


def make_hub_chartqa(root: Path, splits: dict[str, int], shards: int = 2) -> Path:
    return make_hub_parquet(root, chartqa_row, CHARTQA_SCHEMA, splits, shards)


def make_hub_vqav2(root: Path, splits: dict[str, int], shards: int = 2) -> Path:
    return make_hub_parquet(root, vqav2_row, VQAV2_SCHEMA, splits, shards)


def make_hub_docvqa(root: Path, splits: dict[str, int], shards: int = 1) -> Path:
    return make_hub_parquet(root, docvqa_row, DOCVQA_SCHEMA, splits, shards)


def make_saved_to_disk(root: Path, row: Row, schema: pa.Schema, splits: dict[str, int]) -> Path:
    """What ``DatasetDict.save_to_disk(root)`` writes: Arrow streams plus its JSON side files."""
    for split, count in splits.items():
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist([row(split, i) for i in range(count)], schema=schema)
        path = str(folder / "data-00000-of-00001.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=7)
        (folder / "dataset_info.json").write_text(json.dumps({"features": {}, "splits": {}}))
        (folder / "state.json").write_text(
            json.dumps({"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": split})
        )
    (root / "dataset_dict.json").write_text(json.dumps({"splits": list(splits)}))
    return root


def make_imagefolder(root: Path, n: int, metadata: str = "csv", caption_column: str = "text") -> Path:
    """An ImageFolder captioning set: ``root/train/<i>.png`` and ``root/train/metadata.<csv|jsonl>``
    with ``file_name`` and a caption."""
    rows = []
    for i in range(n):
        make_png(root / "train" / f"{i}.png", seed=i)
        rows.append((f"{i}.png", f"a chart with bar {i}"))
    if metadata == "csv":
        write_csv(root / "train" / "metadata.csv", ("file_name", caption_column), rows)
    else:
        lines = [json.dumps({"file_name": name, caption_column: text}) for name, text in rows]
        (root / "train" / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return root


def table_rows(root: Path, n: int) -> list[tuple[str, str, str]]:
    rows = []
    for i in range(n):
        make_png(root / "images" / f"{i}.png", seed=i)
        rows.append((f"images/{i}.png", question(i), answer(i)))
    return rows


def make_tsv(root: Path, n: int, columns: Sequence[str] = ("image", "question", "answer")) -> Path:
    rows = table_rows(root, n)
    lines = ["\t".join(columns)] + ["\t".join(row) for row in rows]
    path = root / "data.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_xlsx(
    root: Path, n: int, columns: Sequence[str] = ("image", "question", "answer"), extra_sheets: int = 0
) -> Path:
    """``root/data.xlsx``; answers are numbers in their cells, as a spreadsheet user types them."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "questions"
    sheet.append(list(columns))
    for image, text, reply in table_rows(root, n):
        sheet.append([image, text, int(reply)])
    for number in range(extra_sheets):
        workbook.create_sheet(f"notes {number + 1}").append(["nothing", "here"])
    path = root / "data.xlsx"
    workbook.save(path)
    return path
