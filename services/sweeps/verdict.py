"""The sweep's answer to "more data, the bigger model, or stop?", from the team's own curve.

Pure: it reads a fitted sweep (``curve.fit_curves``) and the estimated cost of each candidate next
job, and returns the verdict as data and as short sentences. Three things are said, each with its
95 % interval:

1. the gain per doubling of data for each model size;
2. whether the smaller model with more data beats the bigger one with less (or the reverse), as in the
   study's "90B on 100 examples (72.9) beats 11B on 1,000 (68.6)";
3. the next step by expected F1 per dollar, measured from the smaller model swept on all its data:
   double the data, switch to the bigger model, both — or stop, when no step is expected to add at
   least ``MIN_WORTHWHILE_POINTS`` with an interval clear of zero (the curve is flat).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from itertools import pairwise

import numpy as np
from pydantic import BaseModel, ConfigDict

from services.platform.labels import SANDBOX_LABEL
from services.sweeps.curve import Bootstrap, Estimate, Interval, ModelCurve, SweepFit, estimate

MIN_WORTHWHILE_POINTS = 1.0  # a next step must be expected to add at least one F1 point


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepKind(StrEnum):
    MORE_DATA = "more_data"
    BIGGER_MODEL = "bigger_model"
    BOTH = "more_data_and_bigger_model"
    STOP = "stop"


class NextStep(_Frozen):
    kind: StepKind
    model: str
    train_size: int
    expected_f1: Estimate
    gain: Estimate  # over the starting point, in F1 points
    measured: bool  # False: extrapolated from the fitted line
    cost_usd: float | None
    gain_per_dollar: Estimate | None

    def worthwhile(self) -> bool:
        return self.gain.value >= MIN_WORTHWHILE_POINTS and self.gain.interval.low > 0


class Matchup(_Frozen):
    """The smaller model on its most data against the bigger model on its least."""

    small_model: str
    small_size: int
    small_f1: float
    large_model: str
    large_size: int
    large_f1: float
    difference: Estimate  # large minus small
    winner: str | None  # the model whose lead's interval excludes zero; None when they tie


class Verdict(_Frozen):
    sandbox: bool
    start_model: str
    start_size: int
    start_f1: float
    matchup: Matchup | None
    crossing: str | None
    options: tuple[NextStep, ...]
    recommendation: StepKind
    lines: tuple[str, ...]

    headline: str  # the next step in one sentence, without the alternatives

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# ------------------------------------------------------------------------------------- computation

Costs = Mapping[tuple[str, int], float]  # (model, training size) -> estimated USD of that job


def _step(
    kind: StepKind,
    model: str,
    size: int,
    start: np.ndarray,
    bootstrap: Bootstrap,
    costs: Costs,
) -> NextStep | None:
    predicted = bootstrap.predicted(model, size)
    if predicted is None:
        return None
    gain = predicted - start
    cost = costs.get((model, size))
    per_dollar = estimate(gain / cost) if cost else None
    return NextStep(
        kind=kind,
        model=model,
        train_size=size,
        expected_f1=estimate(predicted),
        gain=estimate(gain),
        measured=(model, size) in bootstrap.means,
        cost_usd=cost,
        gain_per_dollar=per_dollar,
    )


def _matchup(fit: SweepFit, bootstrap: Bootstrap) -> Matchup | None:
    if len(fit.curves) < 2:
        return None
    small, large = fit.curves[0], fit.curves[-1]
    small_point, large_point = small.largest(), large.smallest()
    if small_point.train_size <= large_point.train_size:
        return None  # the smaller model never had more data than the bigger one
    difference = estimate(
        bootstrap.means[(large.model, large_point.train_size)]
        - bootstrap.means[(small.model, small_point.train_size)]
    )
    winner = None
    if difference.interval.excludes_zero():
        winner = large.model if difference.value > 0 else small.model
    return Matchup(
        small_model=small.model,
        small_size=small_point.train_size,
        small_f1=small_point.f1.value,
        large_model=large.model,
        large_size=large_point.train_size,
        large_f1=large_point.f1.value,
        difference=difference,
        winner=winner,
    )


def _crossing(fit: SweepFit, bootstrap: Bootstrap) -> str | None:
    """Where the bigger model's lead changes sign (each lead's interval clear of zero)."""
    if len(fit.curves) < 2:
        return None
    small, large = fit.curves[0], fit.curves[-1]
    shared = sorted(
        {point.train_size for point in small.points} & {point.train_size for point in large.points}
    )
    leads: list[tuple[int, str]] = []
    for size in shared:
        gap = estimate(bootstrap.means[(large.model, size)] - bootstrap.means[(small.model, size)])
        if gap.interval.excludes_zero():
            leads.append((size, large.model if gap.value > 0 else small.model))
    for (size_before, leader_before), (size_after, leader_after) in pairwise(leads):
        if leader_before != leader_after:
            return (
                f"The sizes cross: {_name(leader_before)} leads at {size_before:,} examples, "
                f"{_name(leader_after)} at {size_after:,}."
            )
    return None


def decide(fit: SweepFit, bootstrap: Bootstrap, costs: Costs, *, sandbox: bool = False) -> Verdict:
    """The verdict for a fitted sweep; ``costs`` prices the candidate jobs (missing: ranked by gain)."""
    start_curve = fit.curves[0]  # the smaller model swept, on all its data
    start_point = start_curve.largest()
    start = bootstrap.means[(start_curve.model, start_point.train_size)]
    doubled = start_point.train_size * 2
    candidates = [_step(StepKind.MORE_DATA, start_curve.model, doubled, start, bootstrap, costs)]
    bigger = fit.curves[-1] if len(fit.curves) > 1 else None
    if bigger is not None:
        candidates.append(
            _step(StepKind.BIGGER_MODEL, bigger.model, start_point.train_size, start, bootstrap, costs)
        )
        candidates.append(_step(StepKind.BOTH, bigger.model, doubled, start, bootstrap, costs))
    options = tuple(step for step in candidates if step is not None)
    worthwhile = [step for step in options if step.worthwhile()]

    def value(step: NextStep) -> float:
        return step.gain_per_dollar.value if step.gain_per_dollar is not None else step.gain.value

    chosen = max(worthwhile, key=value) if worthwhile else None
    matchup = _matchup(fit, bootstrap)
    crossing = _crossing(fit, bootstrap)
    lines = [SANDBOX_LABEL] if sandbox else []
    lines.extend(_gain_line(curve) for curve in fit.curves)
    if matchup is not None:
        lines.append(_matchup_line(matchup))
    if crossing is not None:
        lines.append(crossing)
    headline, alternatives = _next_step_text(chosen, options, fit, start_point.train_size)
    lines.append(f"{headline} {alternatives}" if alternatives else headline)
    return Verdict(
        sandbox=sandbox,
        start_model=start_curve.model,
        start_size=start_point.train_size,
        start_f1=start_point.f1.value,
        matchup=matchup,
        crossing=crossing,
        options=options,
        recommendation=chosen.kind if chosen is not None else StepKind.STOP,
        lines=tuple(lines),
        headline=headline,
    )


# ------------------------------------------------------------------------------------------ wording


def _name(model: str) -> str:
    return model.upper()


def _signed(value: float) -> str:
    return f"{value:+.1f}"


def _ci(interval: Interval) -> str:
    return f"95 % CI {_signed(interval.low)} to {_signed(interval.high)}"


def _gain_line(curve: ModelCurve) -> str:
    first, last = curve.smallest(), curve.largest()
    gain = curve.gain_per_doubling
    if gain is None:
        return (
            f"{_name(curve.model)}: F1 {first.f1.value:.1f} on {first.train_size:,} examples; one training "
            "size only, so no gain per doubling: sweep two sizes or more to see the curve."
        )
    flat = "" if gain.interval.excludes_zero() else " — flat: the interval includes no gain"
    base = f"; base model {curve.base_f1.value:.1f}" if curve.base_f1 is not None else ""
    return (
        f"{_name(curve.model)}: {_signed(gain.value)} F1 per doubling of data ({_ci(gain.interval)}){flat}; "
        f"F1 {first.f1.value:.1f} on {first.train_size:,} examples → {last.f1.value:.1f} on "
        f"{last.train_size:,}{base}."
    )


def _matchup_line(matchup: Matchup) -> str:
    small = f"{_name(matchup.small_model)} with {matchup.small_size:,} examples ({matchup.small_f1:.1f})"
    large = f"{_name(matchup.large_model)} with {matchup.large_size:,} ({matchup.large_f1:.1f})"
    large_first = (
        f"{_name(matchup.large_model)} with {matchup.large_size:,} examples ({matchup.large_f1:.1f})"
    )
    small_second = f"{_name(matchup.small_model)} with {matchup.small_size:,} ({matchup.small_f1:.1f})"
    difference = matchup.difference
    if matchup.winner == matchup.large_model:
        return (
            f"{large_first} beats {small_second} by {difference.value:.1f} F1 ({_ci(difference.interval)})."
        )
    if matchup.winner == matchup.small_model:
        flipped = Interval(low=-difference.interval.high, high=-difference.interval.low)
        return f"{small} beats {large} by {-difference.value:.1f} F1 ({_ci(flipped)}): more data beat size."
    return (
        f"{large_first} and {small_second} cannot be told apart: "
        f"{_name(matchup.large_model)} minus {_name(matchup.small_model)} is {_signed(difference.value)} F1 "
        f"({_ci(difference.interval)})."
    )


def _price(step: NextStep) -> str:
    if step.cost_usd is None or step.gain_per_dollar is None:
        return "cost unknown"
    per_dollar = step.gain_per_dollar
    return (
        f"about ${step.cost_usd:,.2f} for the job, {per_dollar.value:.2f} F1 per $ "
        f"(95 % CI {per_dollar.interval.low:.2f} to {per_dollar.interval.high:.2f})"
    )


def _step_text(step: NextStep, start_size: int) -> str:
    how = "measured" if step.measured else "if the curve keeps its slope"
    extra = start_size if step.train_size > start_size else 0
    collect = f"; plus collecting {extra:,} more examples" if extra else ""
    what = {
        StepKind.MORE_DATA: f"{_name(step.model)} on {step.train_size:,} examples",
        StepKind.BIGGER_MODEL: f"{_name(step.model)} on the same {step.train_size:,} examples",
        StepKind.BOTH: f"{_name(step.model)} on {step.train_size:,} examples",
        StepKind.STOP: "",
    }[step.kind]
    return (
        f"{what}: {_signed(step.gain.value)} F1 ({_ci(step.gain.interval)}, {how}), {_price(step)}{collect}"
    )


_HEADLINE = {
    StepKind.MORE_DATA: "Next: more data",
    StepKind.BIGGER_MODEL: "Next: the bigger model",
    StepKind.BOTH: "Next: more data and the bigger model",
}


def _next_step_text(
    chosen: NextStep | None, options: tuple[NextStep, ...], fit: SweepFit, start_size: int
) -> tuple[str, str]:
    """The recommendation in one sentence, and the alternatives with their own figures."""
    if not options:
        return (
            "Next: cannot tell from one training size — sweep at least two sizes "
            "(e.g. sizes=100,1000,all) to see whether more data helps.",
            "",
        )
    others = "; ".join(_step_text(step, start_size) for step in options if step is not chosen)
    if chosen is not None:
        headline = f"{_HEADLINE[chosen.kind]} — {_step_text(chosen, start_size)}."
        return headline, f"Against: {others}." if others else ""
    untried = (
        "" if len(fit.curves) > 1 else " (the bigger model was not swept: add models=11b,90b to price it)"
    )
    headline = (
        f"Next: stop — the curve is flat: no step is expected to add {MIN_WORTHWHILE_POINTS:.0f} F1 point "
        f"with an interval clear of zero{untried}."
    )
    return headline, f"{others[0].upper()}{others[1:]}."
