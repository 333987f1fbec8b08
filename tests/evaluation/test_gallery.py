"""The example gallery: which examples each set shows, and what each row of the image says."""

from __future__ import annotations

import io

from PIL import Image

from services.evaluation.gallery.render import GalleryRow, gallery_figure, render_gallery
from services.evaluation.gallery.select import Answer, ScoredExample, disagree_most, helped_most, hurt_most

LABEL = "sandbox: simulated results"


def scored(example_id: str, base: float, tuned: float, model: str = "11b") -> ScoredExample:
    return ScoredExample(
        example_id=example_id,
        model=model,
        question=f"What is shown in {example_id}?",
        references=(f"answer {example_id}",),
        base=Answer("a guess", base),
        fine_tuned=Answer(f"answer {example_id}", tuned),
    )


def test_helped_and_hurt_rank_by_the_change_fine_tuning_made_on_each_example() -> None:
    examples = [
        scored("e1", 0.0, 1.0),  # +1
        scored("e2", 0.5, 0.5),  # no change: in neither set
        scored("e3", 1.0, 0.0),  # -1
        scored("e4", 0.2, 0.6),  # +0.4
        scored("e5", 0.8, 0.6),  # -0.2
        scored("e0", 0.0, 1.0),  # +1, ties with e1: the id decides
    ]

    assert [e.example_id for e in helped_most(examples)] == ["e0", "e1", "e4"]
    assert [e.example_id for e in hurt_most(examples)] == ["e3", "e5"]
    assert [e.example_id for e in helped_most(examples, rows=1)] == ["e0"]


def test_the_pair_disagrees_most_where_their_fine_tuned_scores_are_furthest_apart() -> None:
    small = {key: scored(key, 0.0, f1) for key, f1 in {"e1": 1.0, "e2": 0.5, "e3": 0.0, "e9": 1.0}.items()}
    large = {key: scored(key, 0.0, f1, "90b") for key, f1 in {"e1": 0.0, "e2": 0.5, "e3": 0.75}.items()}

    chosen = disagree_most(small, large)

    # e2 agrees, e9 was scored by one size only
    assert [(pair.small.example_id, pair.gap) for pair in chosen] == [("e1", 1.0), ("e3", 0.75)]


def picture(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_each_row_shows_the_picture_the_question_the_reference_and_both_answers_with_scores() -> None:
    rows = [
        GalleryRow(
            image=picture("red"),
            fields=(("question", "What is the highest bar?"), ("reference", "$42"),
                    ("base 11B (F1 0)", "I cannot tell"), ("fine-tuned 11B (F1 100)", "$42")),
        ),
        GalleryRow(image=None, fields=(("question", "Name the form's date field."),)),
    ]  # fmt: skip

    figure = gallery_figure("charts: Where fine-tuning helped most", rows, sandbox=True, note="2 of 2")

    texts = [[text.get_text() for text in axes.texts] for axes in figure.axes]
    first = texts[1][0]
    assert "question: What is the highest bar?" in first and "base 11B (F1 0): I cannot tell" in first
    assert "reference: \\$42" in first and "fine-tuned 11B (F1 100): \\$42" in first  # no mathtext
    assert texts[2] == ["(text only)"]  # the text-only example says so where its picture would be
    assert [len(axes.images) for axes in figure.axes] == [1, 0, 0, 0]  # the thumbnail, once
    assert LABEL in figure.get_suptitle()
    png = render_gallery("charts: Where fine-tuning helped most", rows, sandbox=True)
    with Image.open(io.BytesIO(png)) as image:
        taller = image.height
    with Image.open(io.BytesIO(render_gallery("t", rows[:1], sandbox=False))) as image:
        assert taller > image.height  # a row per example
