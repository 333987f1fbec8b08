"""The /finetune grammar: every command, and the closest usage for whatever does not parse."""

from __future__ import annotations

import pytest

from bot.commands import (
    SUBCOMMANDS,
    Cancel,
    Compare,
    Datasets,
    Examples,
    Help,
    History,
    Launch,
    Recommend,
    Status,
    Sweep,
    UsageError,
    parse,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Help()),
        ("HELP", Help()),
        ("launch", Launch(dataset=None)),
        ("launch ds1", Launch("ds1")),
        (
            'launch last model=both epochs=3 lr=2e-5 eval=off name="chart run"',
            Launch("last", ("11b", "90b"), 3, 2e-5, False, "chart run"),
        ),
        ("launch s3://bucket/data/ model=90b", Launch("s3://bucket/data/", ("90b",))),
        ("recommend 1,200", Recommend(1200)),
        ("recommend 40 model=90B", Recommend(40, "90b")),
        ("status charts-11b", Status("charts-11b")),
        ("history", History("U1")),
        ("history all status=done model=11b limit=5", History(None, "done", "11b", 5)),
        ("history <@U2|ann>", History("U2")),
        ("cancel j1", Cancel("j1")),
        ("compare g1", Compare(group="g1")),
        ("compare j1 j2", Compare(jobs=("j1", "j2"))),
        ("datasets", Datasets(True)),
        ("datasets all", Datasets(False)),
        ("sweep last", Sweep("last", (100, 1_000, "all"), ("11b", "90b"))),
        ("sweep ds1 sizes=all,1k,100 models=90b", Sweep("ds1", (100, 1_000, "all"), ("90b",))),
        ("sweep ds1 sizes=250,5000 models=90b,11b", Sweep("ds1", (250, 5_000), ("11b", "90b"))),
        ("examples charts-11b", Examples("charts-11b")),
    ],
)
def test_valid_commands_parse(text: str, expected: object) -> None:
    assert parse(text, "U1") == expected


@pytest.mark.parametrize(
    ("text", "message", "usage"),
    [
        ("lanuch ds1", "`lanuch` is not a /finetune command.", "launch"),
        ("histroy", "`histroy` is not a /finetune command.", "history"),
        ("xyzzy", "`xyzzy` is not a /finetune command.", "help"),
        ("comapre a b", "`comapre` is not a /finetune command.", "compare"),
        ("recomend 300", "`recomend` is not a /finetune command.", "recommend"),
        ("Sweeps ds1", "`Sweeps` is not a /finetune command.", "sweep"),
        ("s", "`s` is not a /finetune command.", "help"),
        ("launch", None, None),
        ("launch a b", "Give exactly one dataset", "launch"),
        ("launch s3://UPPER/x", "is not a valid s3://bucket/prefix URI", "launch"),
        ("launch ds1 epochs=0", "epochs must be between 1 and 10; got 0.", "launch"),
        ("launch ds1 lr=fast", "lr `fast` is not a number", "launch"),
        ("launch ds1 model=70b", "model `70b` is not 11b, 90b or both.", "launch"),
        ("launch ds1 eval=maybe", "eval `maybe` is not on or off.", "launch"),
        ("launch ds1 colour=red", "`colour=` is not an option here", "launch"),
        ("launch ds1 epochs=2 epochs=3", "`epochs=` is given twice.", "launch"),
        ('launch ds1 name="open', "A quote is not closed.", "launch"),
        ("recommend many", "examples `many` is not a whole number.", "recommend"),
        ("status", "Give one job", "status"),
        ("history bob", "`bob` is not mine, all or an @mention", "history"),
        ("history status=lost", "status `lost` is not one of", "history"),
        ("history limit=500", "limit must be between 1 and 50", "history"),
        ("compare a a", "Compare two different jobs.", "compare"),
        ("compare a b c", "Give one sweep or launch group, or two jobs.", "compare"),
        ("sweep", "Give exactly one dataset", "sweep"),
        ("sweep ds1 sizes=50,all", "size 50 is below Bedrock's minimum of 100", "sweep"),
        ("sweep ds1 sizes=lots", "size `lots` is not a number of examples", "sweep"),
        ("sweep ds1 sizes=100,200,300,400,500,600,all", "Give at most 6 sizes", "sweep"),
        ("sweep ds1 models=70b", "models `70b` is not 11b, 90b or 11b,90b.", "sweep"),
        ("examples", "Give one job or launch group", "examples"),
        ("datasets yours", "Give mine or all.", "datasets"),
    ],
)
def test_anything_else_answers_with_the_closest_usage(
    text: str, message: str | None, usage: str | None
) -> None:
    parsed = parse(text, "U1")
    if message is None:
        assert not isinstance(parsed, UsageError)
        return
    assert isinstance(parsed, UsageError)
    assert parsed.message.startswith(message) or message in parsed.message
    assert parsed.usage == SUBCOMMANDS[str(usage)]
