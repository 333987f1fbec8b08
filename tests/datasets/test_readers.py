"""Readers of conversation and benchmark formats: what a user's records become, and what a broken record
turns into (a ``bad_record`` naming the file and line or index, with reading going on)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from services.datasets.model import Example, Finding
from services.datasets.readers import ReaderOptions, read_examples
from services.datasets.readers import _records as records_module
from services.datasets.readers._records import iter_json_array
from services.datasets.sources import SourceError
from tests.datasets import fixtures as fx
from tests.datasets.fixtures import answer, question


def read(root: Path, fmt: str, **options: str) -> tuple[list[Example], list[Finding]]:
    results = list(read_examples(root, fmt, ReaderOptions(**options)))
    examples = [result for result in results if isinstance(result, Example)]
    findings = [result for result in results if isinstance(result, Finding)]
    return examples, findings


def qa(example: Example) -> tuple[str, str]:
    """(question, answer) of a one-question example."""
    user, assistant = example.turns
    assert (user.role, assistant.role) == ("user", "assistant")
    return user.text, assistant.text


def only_bad_records(findings: list[Finding]) -> list[str]:
    assert all(finding.code == "bad_record" and finding.severity == "error" for finding in findings)
    return [str(finding.record) for finding in findings]


# Bedrock


def test_bedrock_records_keep_their_s3_images_and_system(tmp_path: Path) -> None:
    data = fx.make_bedrock(tmp_path, 3, text_only=1, system="You read charts.")
    examples, findings = read(data, "bedrock", system="ignored: the records have their own")
    assert findings == []
    assert [qa(example) for example in examples] == [(question(i), answer(i)) for i in range(3)]
    first = examples[0].images[0]
    assert (first.uri, first.declared_format, first.path) == ("s3://example-bucket/images/0.png", "png", None)
    assert examples[2].images == ()
    assert {example.system for example in examples} == {"You read charts."}
    assert [example.id for example in examples] == ["train-0", "train-1", "train-2"]


def test_bedrock_broken_lines_are_reported_and_reading_goes_on(tmp_path: Path) -> None:
    data = fx.make_bedrock(tmp_path, 2)
    good = data.read_text().splitlines()
    wrong_role = {"messages": [{"role": "bot", "content": [{"text": "hi"}]}]}
    wrong_version = {"schemaVersion": "2023", "messages": []}
    lines = [
        good[0],
        "{not json",
        json.dumps(wrong_role),
        "",
        json.dumps(wrong_version),
        '["a list"]',
        good[1],
    ]
    data.write_text("\n".join(lines) + "\n")
    examples, findings = read(data, "bedrock")
    assert [example.source.line for example in examples] == [1, 7]
    assert only_bad_records(findings) == ["train.jsonl:2", "train.jsonl:3", "train.jsonl:5", "train.jsonl:6"]
    assert "not valid JSON" in findings[0].message
    assert "'bot'" in findings[1].message and '"user" or "assistant"' in findings[1].message
    assert "bedrock-conversation-2024" in findings[2].message


def test_bedrock_folder_reads_every_split_file(tmp_path: Path) -> None:
    fx.make_bedrock(tmp_path, 2)
    (tmp_path / "train.jsonl").rename(tmp_path / "validation.jsonl")
    fx.make_bedrock(tmp_path, 3)
    examples, _ = read(tmp_path, "bedrock")
    assert [str(example.source) for example in examples][:3] == [
        "train.jsonl:1",
        "train.jsonl:2",
        "train.jsonl:3",
    ]
    assert len(examples) == 5


# LLaVA


def test_llava_array_becomes_examples_without_placeholders(tmp_path: Path) -> None:
    fx.make_llava(tmp_path, 4, text_only=1)
    examples, findings = read(tmp_path, "llava", system="Answer briefly.")
    assert findings == []
    assert [qa(example) for example in examples] == [(question(i), answer(i)) for i in range(4)]
    assert [example.id for example in examples] == ["sample-0", "sample-1", "sample-2", "sample-3"]
    assert examples[0].images[0].path == str(tmp_path / "images" / "000000.png")
    assert examples[3].images == ()  # text-only records are kept
    assert examples[0].system == "Answer briefly."
    assert str(examples[1].source) == "llava.json[1]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<image>\nWhat is shown?", "What is shown?"),
        ("What is shown?\n<image>", "What is shown?"),
        ("<image>", ""),
    ],
)
def test_llava_placeholder_is_stripped_wherever_it_stands(tmp_path: Path, text: str, expected: str) -> None:
    record = {
        "image": "a.png",
        "conversations": [{"from": "human", "value": text}, {"from": "gpt", "value": "x"}],
    }
    fx.write_json(tmp_path / "data.json", [record])
    examples, _ = read(tmp_path / "data.json", "llava")
    assert examples[0].turns[0].text == expected


def test_llava_role_content_variant_with_system_and_image_list(tmp_path: Path) -> None:
    record = {
        "id": 7,
        "image": ["a.png", "b.png"],
        "conversations": [
            {"role": "system", "content": "Be exact."},
            {"role": "user", "content": "Compare <image> and <image>"},
            {"role": "assistant", "content": "They match."},
        ],
    }
    fx.write_jsonl(tmp_path / "multi.jsonl", [record])
    examples, _ = read(tmp_path, "llava")
    example = examples[0]
    assert example.id == "7"
    assert example.system == "Be exact."
    assert [image.path for image in example.turns[0].images] == [
        str(tmp_path / "a.png"),
        str(tmp_path / "b.png"),
    ]
    assert example.turns[0].text == "Compare and"


def test_llava_images_resolve_against_the_folder_that_holds_them(tmp_path: Path) -> None:
    """mix665k style: the JSON in annotations/, paths like coco/train2017/x.jpg relative to the root."""
    fx.make_jpeg(tmp_path / "coco" / "train2017" / "1.jpg")
    record = {
        "image": "coco/train2017/1.jpg",
        "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
    }
    fx.write_json(tmp_path / "annotations" / "mix.json", [record])
    examples, _ = read(tmp_path, "llava")
    assert examples[0].images[0].path == str(tmp_path / "coco" / "train2017" / "1.jpg")
    assert str(examples[0].source) == "annotations/mix.json[0]"


def test_llava_missing_images_still_resolve_to_absolute_paths(tmp_path: Path) -> None:
    record = {
        "image": "gone.png",
        "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}],
    }
    fx.write_json(tmp_path / "data.json", [record])
    examples, findings = read(tmp_path, "llava")
    assert findings == []  # a missing image is the image stage's finding, not the reader's
    assert examples[0].images[0].path == str(tmp_path / "gone.png")


def test_llava_bad_records_are_reported_with_their_index(tmp_path: Path) -> None:
    good = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    fx.write_json(
        tmp_path / "data.json",
        [
            good,
            {"image": "x.png"},
            {"conversations": [{"from": "robot", "value": "q"}]},
            {"conversations": "q and a"},
            {"image": 5, "conversations": good["conversations"]},
            good,
        ],
    )
    examples, findings = read(tmp_path, "llava")
    assert [example.source.index for example in examples] == [0, 5]
    assert only_bad_records(findings) == ["data.json[1]", "data.json[2]", "data.json[3]", "data.json[4]"]
    assert 'no "conversations" field' in findings[0].message
    assert "'robot'" in findings[1].message


def test_llava_broken_json_keeps_what_came_before_and_stops(tmp_path: Path) -> None:
    fx.make_llava(tmp_path, 3)
    data = tmp_path / "llava.json"
    text = data.read_text()
    data.write_text(text[: text.rindex("{")] + '{"id": "broken", "conversations": [')
    examples, findings = read(tmp_path, "llava")
    assert len(examples) == 2
    assert only_bad_records(findings) == ["llava.json[2]"]
    assert "records after it were not read" in findings[0].message


# Hugging Face llava-instruct-mix-vsft


def test_hf_llava_parquet_embeds_image_bytes(tmp_path: Path) -> None:
    data = fx.make_hf_llava(tmp_path, 3, text_only=1)
    examples, findings = read(data, "hf-llava")
    assert findings == []
    assert [qa(example) for example in examples] == [(question(i), answer(i)) for i in range(3)]
    image = examples[1].images[0]
    assert image.path is None and image.data == fx.image_bytes(seed=1)
    assert Image.open(io.BytesIO(image.data)).size == fx.IMAGE_SIZE
    assert examples[2].images == ()
    assert str(examples[2].source) == "train.parquet[2]"


def test_hf_llava_jsonl_with_image_paths(tmp_path: Path) -> None:
    fx.make_hf_llava(tmp_path, 2, parquet=False)
    examples, _ = read(tmp_path, "hf-llava")
    assert examples[1].images[0].path == str(tmp_path / "1.png")


def test_hf_llava_null_indexes_take_images_in_order_and_unplaced_images_join_the_first_question(
    tmp_path: Path,
) -> None:
    record = {
        "messages": [
            {"role": "system", "content": [{"index": None, "text": "Be brief.", "type": "text"}]},
            {
                "role": "user",
                "content": [
                    {"index": None, "text": "Which?", "type": "text"},
                    {"index": None, "text": None, "type": "image"},
                ],
            },
            {"role": "assistant", "content": [{"index": None, "text": "The left one.", "type": "text"}]},
        ],
        "images": ["a.png", {"path": "b.png", "bytes": None}],
    }
    fx.write_jsonl(tmp_path / "mix.jsonl", [record])
    examples, _ = read(tmp_path, "hf-llava")
    example = examples[0]
    assert example.system == "Be brief."
    assert [image.path for image in example.turns[0].images] == [
        str(tmp_path / "a.png"),
        str(tmp_path / "b.png"),
    ]
    assert qa(example) == ("Which?", "The left one.")


def test_hf_llava_bad_image_index_is_a_bad_record(tmp_path: Path) -> None:
    rows = fx.hf_llava_records(2, embed=False, image_dir=tmp_path)
    rows[0]["messages"][0]["content"][0]["index"] = 3
    fx.write_jsonl(tmp_path / "mix.jsonl", rows)
    examples, findings = read(tmp_path, "hf-llava")
    assert len(examples) == 1
    assert only_bad_records(findings) == ["mix.jsonl:1"]
    assert "refers to image 3 but the record has 1 image(s)" in findings[0].message


# ChartQA


def test_chartqa_reads_every_split_with_its_png_folder(tmp_path: Path) -> None:
    fx.make_chartqa(tmp_path, 4)
    examples, findings = read(tmp_path, "chartqa")
    assert findings == []
    assert len(examples) == 12
    first_train = next(example for example in examples if example.source.file == "train/train_human.json")
    assert qa(first_train) == (question(0), answer(0))
    assert first_train.images[0].path == str(tmp_path / "train" / "png" / "train_0.png")
    assert first_train.id == "train/train_human-0"


def test_chartqa_split_option_picks_the_folders(tmp_path: Path) -> None:
    fx.make_chartqa(tmp_path, 2)
    examples, _ = read(tmp_path, "chartqa", split="train,val")
    assert {example.source.file.split("/")[0] for example in examples} == {"train", "val"}


def test_chartqa_label_lists_train_on_the_first_and_keep_all(tmp_path: Path) -> None:
    fx.write_json(
        tmp_path / "train_human.json", [{"imgname": "a.png", "query": "Max?", "label": ["42", "42.0"]}]
    )
    examples, _ = read(tmp_path / "train_human.json", "chartqa")
    assert qa(examples[0]) == ("Max?", "42")
    assert examples[0].references == ("42", "42.0")


def test_chartqa_record_without_label_is_a_bad_record(tmp_path: Path) -> None:
    fx.write_json(tmp_path / "train_human.json", [{"imgname": "a.png", "query": "Max?"}])
    _, findings = read(tmp_path, "chartqa")
    assert only_bad_records(findings) == ["train_human.json[0]"]
    assert 'no "label" field' in findings[0].message


# VQAv2


def test_vqav2_joins_questions_and_annotations(tmp_path: Path) -> None:
    fx.make_vqav2(tmp_path, 4)
    examples, findings = read(tmp_path, "vqav2")
    assert findings == []
    assert [qa(example) for example in examples] == [(question(i), answer(i)) for i in range(4)]
    assert examples[1].references == tuple(fx.vqav2_answers(1))
    assert examples[1].id == "1000001"
    assert examples[1].images[0].path == str(tmp_path / "train2014" / "COCO_train2014_000000001000.jpg")


def test_vqav2_question_without_annotation_is_a_bad_record(tmp_path: Path) -> None:
    fx.make_vqav2(tmp_path, 2)
    questions = tmp_path / "v2_OpenEnded_mscoco_train2014_questions.json"
    content = json.loads(questions.read_text())
    content["questions"].append({"image_id": 5, "question": "Extra?", "question_id": 999})
    questions.write_text(json.dumps(content))
    examples, findings = read(tmp_path, "vqav2")
    assert len(examples) == 2
    assert only_bad_records(findings) == ["v2_OpenEnded_mscoco_train2014_questions.json[2]"]
    assert "question 999 has no annotation" in findings[0].message


def test_vqav2_split_without_annotations_is_one_finding(tmp_path: Path) -> None:
    fx.make_vqav2(tmp_path, 2)
    fx.make_vqav2(tmp_path, 3, subtype="test2015", with_annotations=False)
    examples, findings = read(tmp_path, "vqav2")
    assert len(examples) == 2
    assert len(findings) == 1
    assert "v2_mscoco_test2015_annotations.json" in findings[0].message
    assert read(tmp_path, "vqav2", split="train")[1] == []


# DocVQA


def test_docvqa_trains_on_the_first_answer_and_keeps_all(tmp_path: Path) -> None:
    fx.make_docvqa(tmp_path, 3)
    examples, findings = read(tmp_path, "docvqa")
    assert findings == []
    assert [qa(example) for example in examples] == [(question(i), answer(i)) for i in range(3)]
    assert examples[2].references == tuple(fx.docvqa_answers(2))
    assert examples[2].id == "50002"
    assert examples[2].images[0].path == str(tmp_path / "documents" / "doc0001_1.png")


def test_docvqa_test_split_records_say_they_have_no_answers(tmp_path: Path) -> None:
    fx.make_docvqa(tmp_path, 2)
    fx.make_docvqa(tmp_path, 2, split="test", answers=False)
    examples, findings = read(tmp_path, "docvqa")
    assert len(examples) == 2
    assert only_bad_records(findings) == ["test_v1.0.json[0]", "test_v1.0.json[1]"]
    assert "no answers" in findings[0].message and "leave the test file out" in findings[0].message
    assert read(tmp_path, "docvqa", split="train")[1] == []


# Shared behaviour


def test_an_unknown_format_name_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        read_examples(tmp_path, "coco", ReaderOptions())
    assert caught.value.code == "format_unknown"


def test_a_json_array_is_read_one_record_at_a_time(tmp_path: Path) -> None:
    fx.make_llava(tmp_path, 2)
    data = tmp_path / "llava.json"
    data.write_text(data.read_text().rstrip().removesuffix("]") + ", {broken" * 10_000)
    first = next(read_examples(tmp_path, "llava", ReaderOptions()))
    assert isinstance(first, Example) and first.id == "sample-0"


def test_json_arrays_stream_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny chunks force every value, string and number to straddle a buffer refill."""
    monkeypatch.setattr(records_module, "_CHUNK_CHARS", 3)
    values = [{"a": 12345, "b": "x" * 10, "c": [1.5, None, True]}, 987654321, "tail \u00e9", [], {}]
    data = fx.write_json(tmp_path / "data.json", {"info": {"n": 1}, "items": values, "after": 1})
    decoded = [
        item.value for item in iter_json_array(data, "data.json", "items") if not isinstance(item, Finding)
    ]
    assert decoded == values
