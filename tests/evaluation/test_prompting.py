"""The base model's answer-format instruction, derived from the training answers (pure)."""

from __future__ import annotations

import pytest

from services.evaluation.prompting import (
    MAX_OUTPUT_TOKENS,
    MIN_OUTPUT_TOKENS,
    AnswerKind,
    baseline_system_prompt,
    describe_answers,
    format_instruction,
    is_number,
    max_output_tokens,
)


@pytest.mark.parametrize("text", ["42", "-3.5", "1,200", "45%", "$3.20", " 7 ", ".5"])
def test_numbers_as_people_write_them(text: str) -> None:
    assert is_number(text)


@pytest.mark.parametrize("text", ["42 apples", "about 40", "3-4", "", "1.2.3"])
def test_not_numbers(text: str) -> None:
    assert not is_number(text)


def test_numeric_answers_ask_for_the_number_only() -> None:
    answer_format = describe_answers(["42", "3.5", "17%", "1,024", "8"])
    assert answer_format.kind is AnswerKind.NUMBER
    assert format_instruction(answer_format) == (
        "Answer with the number only: no words, no units unless asked, no explanation."
    )


def test_yes_no_answers() -> None:
    answer_format = describe_answers(["Yes", "no", "yes.", "No", "yes"])
    assert answer_format.kind is AnswerKind.YES_NO
    assert format_instruction(answer_format) == "Answer with yes or no only, no explanation."


def test_json_answers_name_the_keys_most_answers_share_in_first_seen_order() -> None:
    answers = [
        '{"vendor": "Acme", "total": 12.5, "date": "2024-01-02"}',
        '{"vendor": "Bolt", "total": 3, "note": "paid"}',
        '{"total": 9, "vendor": "Coil"}',
        '{"vendor": "Dune", "total": 1, "date": "2024-03-04"}',
    ]
    answer_format = describe_answers(answers)
    assert answer_format.kind is AnswerKind.JSON
    assert answer_format.json_keys == ("vendor", "total", "date")  # "note" is in 1 of 4
    assert format_instruction(answer_format) == (
        'Answer with a single JSON object with the keys "vendor", "total", "date" and nothing else: '
        "no prose, no Markdown code fence."
    )


def test_short_text_answers_ask_for_few_words_with_the_typical_length() -> None:
    answer_format = describe_answers(["blue", "dark red", "green", "light blue", "red"])
    assert answer_format.kind is AnswerKind.TEXT
    assert (answer_format.median_words, answer_format.long_words) == (1, 2)
    assert format_instruction(answer_format) == (
        "Answer in as few words as possible (typically 1 word, at most 2 words): "
        "no full sentence, no explanation."
    )


def test_long_text_answers_ask_for_about_their_length() -> None:
    sentences = [" ".join(["word"] * n) for n in (8, 10, 12, 12, 14, 30)]
    answer_format = describe_answers(sentences)
    assert format_instruction(answer_format) == (
        "Answer in about 12 words (at most about 30 words), without preamble or restating the question."
    )


def test_mixed_kinds_fall_back_to_text() -> None:
    # 3 numbers out of 5 is below the 80 % a kind needs to be asked for.
    assert describe_answers(["1", "2", "3", "blue", "red"]).kind is AnswerKind.TEXT


def test_no_training_answers_give_a_neutral_instruction() -> None:
    answer_format = describe_answers([])
    assert answer_format.sample_count == 0
    assert format_instruction(answer_format).startswith("Answer in about 5 words")


def test_the_baseline_prompt_keeps_the_dataset_system_prompt_first() -> None:
    assert (
        baseline_system_prompt("You read charts.", "Answer briefly.") == "You read charts.\n\nAnswer briefly."
    )
    assert baseline_system_prompt(None, "Answer briefly.") == "Answer briefly."
    assert baseline_system_prompt("  ", "Answer briefly.") == "Answer briefly."


def test_output_room_follows_the_long_answers_within_bounds() -> None:
    assert max_output_tokens(describe_answers(["42"])) == MIN_OUTPUT_TOKENS
    assert max_output_tokens(describe_answers(["x" * 1000])) == 532
    assert max_output_tokens(describe_answers(["x" * 100_000])) == MAX_OUTPUT_TOKENS
