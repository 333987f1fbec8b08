"""The sweep's verdict in Slack says its headline once: the service's last line repeats the headline
before the alternatives, and the message showed it in the bullets and again in bold (issue 15)."""

from __future__ import annotations

import json

from bot import blocks
from services.api.schemas import SweepOut
from services.platform.labels import SANDBOX_LABEL
from services.sweeps.curve import fit_curves
from services.sweeps.verdict import decide
from tests.bot import factories
from tests.sweeps.factories import cells, right

TABLE = {
    ("11b", 100): 60.0, ("11b", 1_000): 68.6, ("11b", 4_000): 71.0,
    ("90b", 100): 72.9, ("90b", 1_000): 75.0, ("90b", 4_000): 76.5,
}  # fmt: skip


def evaluated_sweep() -> SweepOut:
    """The sweep as the service answers once evaluated: its verdict and lines as outcome.py stores them."""
    fit, bootstrap = fit_curves(
        cells(TABLE, 500, scattered=True), {"11b": right(42.0, 500), "90b": right(67.4, 500)}
    )
    verdict = decide(fit, bootstrap, {}, sandbox=True)
    return factories.sweep(
        [], status="evaluated", verdict=verdict.model_dump(mode="json"),
        lines=[line for line in verdict.lines if line != SANDBOX_LABEL],
    )  # fmt: skip


def test_the_verdict_says_its_headline_once_and_keeps_every_finding_and_alternative() -> None:
    sweep = evaluated_sweep()
    assert sweep.verdict is not None
    headline = sweep.verdict["headline"]
    last = sweep.lines[-1]
    assert last.startswith(headline) and last != headline  # the case that doubled it: alternatives follow
    shown = json.dumps(blocks.verdict_blocks(sweep), ensure_ascii=False)

    assert shown.count(headline) == 1
    assert last[len(headline) :].strip() in shown  # "Against: ..." still said
    for finding in sweep.lines[:-1]:
        assert finding in shown
    assert SANDBOX_LABEL in shown
