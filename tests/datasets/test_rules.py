"""Per-record and dataset-level checks, on examples built by hand (pure functions, no files)."""

from __future__ import annotations

import pytest

from services.datasets.model import Example, ImageRef, SourceRef, Turn
from services.datasets.rules import (
    AnswerKind,
    JsonAnswerTally,
    answer_kind,
    check_record,
    content_key,
    duplicate_warning,
    find_duplicates,
    image_tokens,
    leakage_key,
    leaked_test_indices,
    record_count_findings,
)

IMAGE = ImageRef(path="chart.png")
PARSED: AnswerKind = "json"
BROKEN: AnswerKind = "bad_json"
PLAIN: AnswerKind = "plain"


def example(*turns: Turn, line: int = 1) -> Example:
    return Example(id=f"r{line}", source=SourceRef("data.jsonl", line), turns=turns)


def user(text: str = "What is the highest bar?", images: int = 1) -> Turn:
    return Turn("user", text, (IMAGE,) * images)


def assistant(text: str = "42") -> Turn:
    return Turn("assistant", text)


def codes(record: Example, sizes: list[tuple[int, int]] | None = None, model: str = "11b") -> list[str]:
    sizes = [(800, 600)] * len(record.images) if sizes is None else sizes
    check = check_record(record, sizes, model=model, system=None)  # type: ignore[arg-type]
    return [finding.code for finding in check.findings]


def test_a_well_formed_record_has_no_findings() -> None:
    assert codes(example(user(), assistant())) == []


@pytest.mark.parametrize(
    "turns",
    [
        (assistant(), user()),  # assistant first
        (user(), user("again"), assistant()),  # not alternating
        (user(), assistant(), user("and?")),  # ends on the user
        (user(),),  # no answer at all
    ],
)
def test_role_order(turns: tuple[Turn, ...]) -> None:
    record = example(*turns, line=9)
    check = check_record(record, [(800, 600)] * len(record.images), model="11b", system=None)
    [finding] = [f for f in check.findings if f.code == "role_order"]
    assert finding.severity == "error"
    assert str(finding.record) == "data.jsonl:9"
    assert "fix the conversation" in finding.message


def test_empty_answer_is_an_empty_turn() -> None:
    assert codes(example(user(), assistant("   "))) == ["empty_turn"]


def test_question_made_only_of_an_image_is_not_empty() -> None:
    assert codes(example(user(""), assistant())) == []


def test_image_in_an_assistant_turn_is_refused() -> None:
    record = example(user(), Turn("assistant", "here", (IMAGE,)))
    assert "assistant_image" in codes(record)


def test_more_than_one_image_is_a_warning() -> None:
    check = check_record(example(user(images=2), assistant()), [(800, 600)] * 2, model="11b", system=None)
    [finding] = check.findings
    assert (finding.code, finding.severity) == ("multiple_images", "warning")


def test_leftover_image_placeholder_is_a_warning() -> None:
    assert codes(example(user("<image>\nWhat is shown?"), assistant())) == ["image_placeholder"]


@pytest.mark.parametrize(
    ("width", "height", "tokens"),
    [
        (300, 200, 1601),
        (800, 600, 1601),
        (1120, 840, 3202),
        (1120, 1120, 6404),
        (2240, 560, 3202),
        (9000, 9000, 6404),
    ],
)
def test_image_tokens_follow_the_tile_formula(width: int, height: int, tokens: int) -> None:
    assert image_tokens(width, height) == tokens


def test_token_limit_depends_on_the_model() -> None:
    # One 2x2 image (6,404 tokens) plus about 5,000 text tokens: fine for 11B, too many for 90B.
    record = example(user("x" * 30_000), assistant())
    sizes = [(1120, 1120)]
    assert codes(record, sizes, model="11b") == ["over_90b_limit"]  # a warning: the data fits 11B only
    assert codes(record, sizes, model=None) == ["over_90b_limit"]
    assert codes(record, sizes, model="90b") == ["too_many_tokens"]
    check = check_record(record, sizes, model="90b", system=None)
    assert check.tokens == 6404 + 5000 + 1
    assert "10,000" in check.findings[0].message


def test_system_prompt_counts_towards_tokens() -> None:
    record = example(user(images=0), assistant())
    without = check_record(record, [], model="11b", system=None).tokens
    with_system = check_record(record, [], model="11b", system="s" * 600).tokens
    assert with_system - without == 100


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ('{"total": "4.20"}', "json"),
        ('```json\n{"total": 1}\n```', "json"),
        ("[1, 2, 3]", "json"),
        ('{"total": 4.20', "bad_json"),
        ("{'single': 'quotes'}", "bad_json"),
        ("42 dollars", "plain"),
    ],
)
def test_answer_kind(text: str, kind: str) -> None:
    assert answer_kind(text) == kind


def test_broken_json_answer_is_a_warning_on_its_record() -> None:
    check = check_record(example(user(), assistant('{"total": ')), [(800, 600)], model="11b", system=None)
    [finding] = check.findings
    assert (finding.code, finding.severity) == ("json_answer", "warning")
    assert check.answer_kinds == ("bad_json",)


def test_mostly_json_dataset_reports_how_many_parse() -> None:
    tally = JsonAnswerTally()
    kinds: list[AnswerKind] = [PARSED] * 8 + [BROKEN, PLAIN]
    tally.add(kinds)
    finding = tally.finding()
    assert finding is not None and finding.code == "json_answer" and finding.record is None
    assert "only 8 of 10 parse" in finding.message
    assert (tally.json_like, tally.parsed, tally.plain) == (9, 8, 1)


def test_plain_text_dataset_is_not_nagged_about_json() -> None:
    tally = JsonAnswerTally()
    kinds: list[AnswerKind] = [PLAIN] * 9 + [PARSED]
    tally.add(kinds)
    assert tally.finding() is None


def test_exact_duplicate_is_flagged_against_the_first_copy() -> None:
    first = example(user(), assistant(), line=1)
    again = example(user("what is the  HIGHEST bar?"), assistant(), line=5)
    other_answer = example(user(), assistant("41"), line=6)
    other_image = example(user(), assistant(), line=7)
    keys = [
        content_key(first, ["aa"]),
        content_key(again, ["aa"]),
        content_key(other_answer, ["aa"]),
        content_key(other_image, ["bb"]),
        content_key(first, ["aa"]),
    ]

    assert find_duplicates(keys) == {1: 0, 4: 0}
    finding = duplicate_warning(again.source, first.source)
    assert (finding.code, finding.severity) == ("duplicate", "warning")
    assert str(finding.record) == "data.jsonl:5" and "data.jsonl:1" in finding.message


def test_leakage_finds_test_records_seen_in_training() -> None:
    shared = leakage_key(["aa"], "What is the highest bar?")
    same_but_spaced = leakage_key(["aa"], "what is the highest  bar? ")
    unique = leakage_key(["bb"], "What is the highest bar?")
    sides = ["train", "test", "test", "validation"]

    assert shared == same_but_spaced
    assert leaked_test_indices(sides, [shared, same_but_spaced, unique, unique]) == [1, 2]
    assert leaked_test_indices(["train", "test"], [shared, unique]) == []


def test_record_counts_against_bedrock_limits() -> None:
    assert [f.code for f in record_count_findings(80, 19)] == ["too_few_records"]
    assert record_count_findings(85, 15) == []
    assert [f.code for f in record_count_findings(9_000, 1_001)] == [
        "too_many_records",
        "too_many_validation_records",
    ]
