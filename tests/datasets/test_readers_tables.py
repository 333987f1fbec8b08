"""Tables (CSV, JSONL, Donut metadata) and PDF documents: columns detected or named, pages rendered, and
every unusable row reported where it stands."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from services.datasets.model import Example, Finding
from services.datasets.readers import ReaderOptions, read_examples
from services.datasets.readers.tabular import DONUT_QUESTION
from services.datasets.sources import SourceError
from tests.datasets import fixtures as fx
from tests.datasets.fixtures import answer, question


def read(root: Path, fmt: str, **options: str) -> tuple[list[Example], list[Finding]]:
    results = list(read_examples(root, fmt, ReaderOptions(**options)))
    return (
        [result for result in results if isinstance(result, Example)],
        [result for result in results if isinstance(result, Finding)],
    )


def qa(example: Example) -> tuple[str, str]:
    user, assistant = example.turns
    return user.text, assistant.text


def png_size(example: Example) -> tuple[int, int]:
    (image,) = example.images
    assert image.data is not None and image.declared_format == "png"
    picture = Image.open(io.BytesIO(image.data))
    assert picture.format == "PNG"
    return picture.size


# CSV and JSONL


def test_csv_rows_become_examples_with_text_only_rows_kept(tmp_path: Path) -> None:
    data = fx.make_csv(tmp_path, 3, text_only=1)
    examples, findings = read(tmp_path, "csv", system="Read the chart.")
    assert findings == []
    assert [qa(example) for example in examples] == [(question(i), answer(i)) for i in range(3)]
    assert examples[0].images[0].path == str(tmp_path / "images" / "0.jpg")
    assert examples[2].images == ()
    assert [str(example.source) for example in examples] == ["data.csv:2", "data.csv:3", "data.csv:4"]
    assert [example.id for example in examples] == ["data-0", "data-1", "data-2"]
    assert examples[0].system == "Read the chart."
    assert read(data, "csv")[0][1].images == examples[1].images  # the file alone reads the same


def test_csv_columns_are_detected_among_usual_names(tmp_path: Path) -> None:
    fx.make_csv(tmp_path, 2, columns=("image_path", "prompt", "label"))
    examples, _ = read(tmp_path, "csv")
    assert qa(examples[1]) == (question(1), answer(1))
    assert examples[1].images[0].path == str(tmp_path / "images" / "1.jpg")


def test_csv_columns_can_be_named(tmp_path: Path) -> None:
    fx.make_csv(tmp_path, 2, columns=("picture", "ask", "reply"))
    examples, findings = read(
        tmp_path, "csv", image_column="picture", question_column="ask", answer_column="reply"
    )
    assert findings == []
    assert qa(examples[0]) == (question(0), answer(0))
    assert examples[0].images[0].path == str(tmp_path / "images" / "0.jpg")


def test_csv_without_a_question_column_is_a_dataset_error(tmp_path: Path) -> None:
    fx.make_csv(tmp_path, 2, columns=("image", "ask", "answer"))
    with pytest.raises(SourceError) as caught:
        list(read_examples(tmp_path, "csv", ReaderOptions()))
    assert caught.value.code == "column_missing"
    assert "it has: image, ask, answer" in caught.value.message
    assert "--question-column" in caught.value.message


def test_csv_named_column_that_does_not_exist_is_a_dataset_error(tmp_path: Path) -> None:
    fx.make_csv(tmp_path, 2)
    with pytest.raises(SourceError) as caught:
        list(read_examples(tmp_path, "csv", ReaderOptions(answer_column="reply")))
    assert caught.value.code == "column_missing"
    assert 'no column "reply"' in caught.value.message


def test_csv_rows_of_the_wrong_width_are_bad_records(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text(
        "image,question,answer\n"
        "a.png,What?,42\n"
        "b.png,Short row\n"
        "c.png,Too,many,fields\n"
        '"d.png","Quoted, with comma",7\n',
        encoding="utf-8",
    )
    examples, findings = read(tmp_path, "csv")
    assert [qa(example) for example in examples] == [("What?", "42"), ("Quoted, with comma", "7")]
    assert [str(finding.record) for finding in findings] == ["data.csv:3", "data.csv:4"]
    assert {finding.code for finding in findings} == {"bad_record"}
    assert "fewer fields than the header (no answer)" in findings[0].message
    assert "more fields than the header" in findings[1].message


def test_csv_answers_cell_holding_a_json_list_keeps_every_answer(tmp_path: Path) -> None:
    fx.write_csv(tmp_path / "data.csv", ("question", "answers"), [("Total?", '["10", "ten"]')])
    examples, _ = read(tmp_path, "csv")
    assert qa(examples[0]) == ("Total?", "10")
    assert examples[0].references == ("10", "ten")


def test_jsonl_rows_with_structured_answers_and_ids(tmp_path: Path) -> None:
    fx.write_jsonl(
        tmp_path / "data.jsonl",
        [
            {
                "id": "inv-1",
                "image": "a.png",
                "question": "Fields?",
                "answer": {"total": 12.5, "currency": "EUR"},
            },
            {"query": "Count?", "label": 3, "system": "Count things."},
            {"question": "Which?", "answers": ["left", "the left one"]},
        ],
    )
    examples, findings = read(tmp_path, "jsonl", system="default")
    assert findings == []
    assert examples[0].id == "inv-1"
    assert qa(examples[0]) == ("Fields?", '{"total":12.5,"currency":"EUR"}')
    assert (qa(examples[1]), examples[1].system, examples[1].images) == (("Count?", "3"), "Count things.", ())
    assert examples[2].references == ("left", "the left one")
    assert examples[0].system == "default"


def test_jsonl_bad_rows_are_reported_by_line(tmp_path: Path) -> None:
    good = {"image": "a.png", "question": "q", "answer": "a"}
    lines = [
        json.dumps(good),
        json.dumps({"image": "a.png", "question": "no answer here"}),
        json.dumps({"image": "a.png", "question": ["not", "text"], "answer": "a"}),
        json.dumps({"image": 12, "question": "q", "answer": "a"}),
        json.dumps({"question": "q", "answer": None}),
        "[1, 2]",
        json.dumps(good),
    ]
    (tmp_path / "data.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    examples, findings = read(tmp_path, "jsonl")
    assert [example.source.line for example in examples] == [1, 7]
    assert [str(finding.record) for finding in findings] == [f"data.jsonl:{line}" for line in (2, 3, 4, 5, 6)]
    assert "no answer (looked for answer, multiple_choice_answer, label, answers" in findings[0].message
    assert '"question" must be text, not a list' in findings[1].message


def test_donut_metadata_answers_with_the_compact_parse(tmp_path: Path) -> None:
    fx.make_donut(tmp_path, 2)
    examples, findings = read(tmp_path, "jsonl")
    assert findings == []
    assert qa(examples[1]) == (DONUT_QUESTION, json.dumps(fx.donut_parse(1), separators=(",", ":")))
    assert examples[1].images[0].path == str(tmp_path / "receipt_1.png")


def test_donut_ground_truth_that_is_not_json_is_a_bad_record(tmp_path: Path) -> None:
    fx.write_jsonl(
        tmp_path / "metadata.jsonl", [{"file_name": "a.png", "ground_truth": "{'single': 'quotes'}"}]
    )
    _, findings = read(tmp_path, "jsonl")
    assert [str(finding.record) for finding in findings] == ["metadata.jsonl:1"]
    assert '"ground_truth" is not valid JSON' in findings[0].message


def test_donut_splits_in_subfolders_get_distinct_ids(tmp_path: Path) -> None:
    fx.make_donut(tmp_path / "train", 1)
    fx.make_donut(tmp_path / "validation", 1)
    examples, _ = read(tmp_path, "jsonl")
    assert [example.id for example in examples] == ["train/metadata-0", "validation/metadata-0"]


# PDF pages


def test_a_table_row_can_name_a_pdf_page_by_suffix_or_page_column(tmp_path: Path) -> None:
    fx.make_pdf(tmp_path / "docs" / "invoice.pdf", pages=3)
    fx.make_pdf(tmp_path / "docs" / "memo.pdf", pages=1)
    fx.write_csv(
        tmp_path / "questions.csv",
        ("image", "page", "question", "answer"),
        [
            ("docs/invoice.pdf#page=2", "", "Total?", "12"),
            ("docs/invoice.pdf", "3", "Date?", "today"),
            ("docs/memo.pdf", "", "To?", "all staff"),
            ("docs/invoice.pdf", "", "Which page?", "?"),
            ("docs/invoice.pdf", "9", "Out of range?", "?"),
            ("docs/missing.pdf", "1", "Missing?", "?"),
        ],
    )
    examples, findings = read(tmp_path, "csv")
    assert [qa(example)[0] for example in examples] == ["Total?", "Date?", "To?", "Missing?"]
    assert png_size(examples[0]) == (866, 1120)  # Letter page, longer side rendered at 1120 px
    assert examples[0].images[0].data != examples[1].images[0].data  # different pages
    assert examples[3].images[0].path == str(tmp_path / "docs" / "missing.pdf")  # image stage: image_missing
    assert [str(finding.record) for finding in findings] == ["questions.csv:5", "questions.csv:6"]
    assert 'has 3 pages; say which one with a "page" column' in findings[0].message
    assert "page 9 does not exist: invoice.pdf has 3 page(s)" in findings[1].message


@pytest.mark.parametrize("questions_as", ["csv", "jsonl"])
def test_pdf_format_reads_the_question_file_beside_the_pdf(tmp_path: Path, questions_as: str) -> None:
    fx.make_pdf_dataset(tmp_path, pages=3, questions_per_page=2, questions_as=questions_as)
    for root in (tmp_path, tmp_path / "report.pdf"):
        examples, findings = read(root, "pdf")
        assert findings == []
        assert [qa(example) for example in examples] == [(question(k), answer(k)) for k in range(6)]
        assert examples[0].images[0].data == examples[1].images[0].data  # two questions, one page
        assert examples[0].images[0].data != examples[2].images[0].data
        assert png_size(examples[5]) == (866, 1120)


def test_a_landscape_page_is_rendered_1120_wide(tmp_path: Path) -> None:
    fx.make_pdf(tmp_path / "slide.pdf", pages=1, page_size=(720, 405))
    fx.write_jsonl(tmp_path / "slide.jsonl", [{"question": "Title?", "answer": "Q3"}])
    examples, _ = read(tmp_path / "slide.pdf", "pdf")
    assert png_size(examples[0]) == (1120, 630)


def test_a_bare_pdf_says_which_question_file_to_add(tmp_path: Path) -> None:
    document = fx.make_pdf(tmp_path / "contract.pdf")
    with pytest.raises(SourceError) as caught:
        read_examples(document, "pdf", ReaderOptions())
    assert caught.value.code == "pdf_no_questions"
    assert "contract.csv" in caught.value.message
    assert "page, question, answer" in caught.value.message


def test_pdfs_without_questions_beside_others_are_each_reported(tmp_path: Path) -> None:
    fx.make_pdf_dataset(tmp_path, pages=1, questions_per_page=1)
    fx.make_pdf(tmp_path / "appendix.pdf")
    examples, findings = read(tmp_path, "pdf")
    assert len(examples) == 1
    assert [(finding.code, str(finding.record)) for finding in findings] == [
        ("pdf_no_questions", "appendix.pdf")
    ]


def test_a_file_that_is_not_a_pdf_is_a_bad_record(tmp_path: Path) -> None:
    (tmp_path / "fake.pdf").write_bytes(b"%PDF-1.4 but not really")
    fx.write_csv(tmp_path / "fake.csv", ("page", "question", "answer"), [(1, "q", "a")])
    _, findings = read(tmp_path, "pdf")
    assert [str(finding.record) for finding in findings] == ["fake.csv:2"]
    assert "cannot be opened as a PDF" in findings[0].message


def test_image_paths_written_on_windows_resolve(tmp_path: Path) -> None:
    fx.make_png(tmp_path / "images" / "scan.png")
    fx.write_csv(tmp_path / "data.csv", ("image", "question", "answer"), [("images\\scan.png", "q", "a")])
    examples, _ = read(tmp_path, "csv")
    assert examples[0].images[0].path == str(tmp_path / "images" / "scan.png")
