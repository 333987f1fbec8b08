"""Format detection: from the files present and their first records, or a clear request for --format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from services.datasets.detect import detect_format
from services.datasets.readers import FORMATS
from services.datasets.sources import SourceError
from tests.datasets import fixtures as fx
from tests.datasets import hub_fixtures as hub

FOLDER_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "bedrock": lambda root: fx.make_bedrock(root, 3).parent,
    "llava": lambda root: fx.make_llava(root, 3),
    "hf-llava": lambda root: fx.make_hf_llava(root, 3).parent,
    "chartqa": lambda root: fx.make_chartqa(root, 2),
    "vqav2": lambda root: fx.make_vqav2(root, 2),
    "docvqa": lambda root: fx.make_docvqa(root, 2),
    "hub": lambda root: hub.make_hub_chartqa(root, {"train": 2, "test": 2}),
    "csv": lambda root: fx.make_csv(root, 2).parent,
    "tsv": lambda root: hub.make_tsv(root, 2).parent,
    "xlsx": lambda root: hub.make_xlsx(root, 2).parent,
    "jsonl": lambda root: fx.make_jsonl(root, 2).parent,
    "pdf": lambda root: fx.make_pdf_dataset(root, pages=2),
}


def test_every_format_has_a_builder() -> None:
    assert set(FOLDER_BUILDERS) == set(FORMATS)


@pytest.mark.parametrize("expected", list(FOLDER_BUILDERS))
def test_a_folder_is_detected_from_its_files(tmp_path: Path, expected: str) -> None:
    assert detect_format(FOLDER_BUILDERS[expected](tmp_path / "dataset")) == expected


SINGLE_FILES: dict[str, Callable[[Path], Path]] = {
    "bedrock": lambda root: fx.make_bedrock(root, 2),
    "llava": lambda root: fx.make_llava(root, 2) / "llava.json",
    "llava jsonl": lambda root: fx.make_llava(root, 2, jsonl=True) / "llava.jsonl",
    "hf-llava": lambda root: fx.make_hf_llava(root, 2),
    "hf-llava jsonl": lambda root: fx.make_hf_llava(root, 2, parquet=False),
    "chartqa": lambda root: fx.make_chartqa(root, 2, splits=("val",)) / "val" / "val_human.json",
    "vqav2": lambda root: fx.make_vqav2(root, 2) / "v2_OpenEnded_mscoco_train2014_questions.json",
    "docvqa": lambda root: fx.make_docvqa(root, 2, split="val") / "val_v1.0.json",
    "hub": lambda root: next((hub.make_hub_vqav2(root, {"validation": 2}, shards=1) / "data").iterdir()),
    "hub arrow": lambda root: (
        hub.make_saved_to_disk(root, hub.docvqa_row, hub.DOCVQA_SCHEMA, {"train": 2})
        / "train"
        / "data-00000-of-00001.arrow"
    ),
    "csv": lambda root: fx.make_csv(root, 2),
    "tsv": lambda root: hub.make_tsv(root, 2),
    "xlsx": lambda root: hub.make_xlsx(root, 2),
    "jsonl": lambda root: fx.make_jsonl(root, 2),
    "pdf": lambda root: fx.make_pdf(root / "scan.pdf", pages=1),
}


@pytest.mark.parametrize("case", list(SINGLE_FILES))
def test_a_single_file_is_detected_from_its_first_record(tmp_path: Path, case: str) -> None:
    assert detect_format(SINGLE_FILES[case](tmp_path)) == case.split()[0]


def test_donut_metadata_is_a_jsonl_dataset(tmp_path: Path) -> None:
    assert detect_format(fx.make_donut(tmp_path / "receipts", 2)) == "jsonl"


def test_csv_columns_are_detected_by_their_usual_names(tmp_path: Path) -> None:
    fx.make_csv(tmp_path, 2, columns=("file_name", "query", "label"))
    assert detect_format(tmp_path) == "csv"


def test_pdfs_a_table_points_at_are_its_images(tmp_path: Path) -> None:
    fx.make_pdf(tmp_path / "docs" / "invoice.pdf", pages=2)
    fx.write_csv(
        tmp_path / "questions.csv", ("image", "question", "answer"), [("docs/invoice.pdf#page=1", "q", "a")]
    )
    assert detect_format(tmp_path) == "csv"


def test_a_bare_pdf_folder_goes_to_the_pdf_reader_which_asks_for_questions(tmp_path: Path) -> None:
    fx.make_pdf(tmp_path / "scan.pdf")
    assert detect_format(tmp_path) == "pdf"


def test_files_that_look_like_nothing_do_not_vote(tmp_path: Path) -> None:
    fx.make_llava(tmp_path, 2)
    fx.write_json(tmp_path / "dataset_info.json", {"description": "a LLaVA subset", "splits": ["train"]})
    assert detect_format(tmp_path) == "llava"


def test_a_big_file_is_judged_by_its_first_record_only(tmp_path: Path) -> None:
    data = tmp_path / "llava.json"
    first = '[{"id": "1", "image": "a.png", "conversations": [{"from": "human", "value": "q"}]}'
    data.write_text(first + ", {broken" * 1000)  # never read past the first record
    assert detect_format(tmp_path) == "llava"


def unknown_message(root: Path) -> str:
    with pytest.raises(SourceError) as caught:
        detect_format(root)
    assert caught.value.code == "format_unknown"
    assert "--format" in caught.value.message
    assert all(name in caught.value.message for name in FORMATS)
    return caught.value.message


def test_an_unrecognised_file_asks_for_format(tmp_path: Path) -> None:
    notes = fx.write_jsonl(tmp_path / "notes.jsonl", [{"title": "x", "body": "y"}])
    assert "notes.jsonl" in unknown_message(notes)


def test_a_folder_without_data_files_asks_for_format(tmp_path: Path) -> None:
    fx.make_png(tmp_path / "only.png")
    assert "holds no .json" in unknown_message(tmp_path)


def test_a_folder_of_mixed_formats_names_them(tmp_path: Path) -> None:
    fx.make_llava(tmp_path, 2)
    fx.make_csv(tmp_path, 2)
    message = unknown_message(tmp_path)
    assert "llava (llava.json)" in message
    assert "csv (data.csv)" in message


def test_the_api_offers_exactly_the_formats_prepare_reads() -> None:
    from typing import get_args

    from services.api.schemas import FormatName
    from services.datasets.pipeline import FORMATS as PREPARE_FORMATS

    assert set(get_args(FormatName)) == set(PREPARE_FORMATS) == {"auto", *FORMATS}
