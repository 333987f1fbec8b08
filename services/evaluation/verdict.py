"""The comparison in words: the one-line verdict a team lead can act on, and the plain-text report
(Slack fallback text, CLI, logs). Pure. Says "sandbox" first whenever the figures are simulated.
"""

from __future__ import annotations

import math

from services.evaluation.comparison import Interval, SizeComparison, SizeDifference, SizeSummary
from services.platform.labels import SANDBOX_LABEL

# ------------------------------------------------------------------------------------------- wording


def _points(value: float) -> str:
    return f"{value:.1f}"


def _interval_text(interval: Interval) -> str:
    # An en-dash between two negative or mixed-sign numbers is easy to misread; spell it out then.
    if interval.low >= 0:
        return f"CI {_points(interval.low)}–{_points(interval.high)}"
    return f"CI {_points(interval.low)} to {_points(interval.high)}"


def _missing_cost_note(small: SizeSummary, large: SizeSummary) -> str:
    unknown = [summary.size.value for summary in (small, large) if summary.total_cost_usd is None]
    if unknown:
        return f"cost not compared (no cost recorded for {' and '.join(unknown)})"
    return "cost not compared (11B cost is zero)"


def write_verdict(
    difference: SizeDifference,
    small: SizeSummary,
    large: SizeSummary,
    cost_ratio: float | None,
    small_share_percent: float | None,
    *,
    sandbox: bool,
) -> str:
    """One line a team lead can act on: who leads, whether it is real, and what it costs."""
    gap = difference.f1_points
    if difference.excludes_zero and gap > 0:
        cost = f" at {cost_ratio:.1f}× the estimated cost" if cost_ratio is not None else ""
        text = f"90B leads by {_points(gap)} F1 ({_interval_text(difference.interval)}){cost}"
        if cost_ratio is None:
            text += f"; {_missing_cost_note(small, large)}"
        if small_share_percent is not None:
            text += f"; 11B reaches {small_share_percent:.0f} % of 90B's F1"
        text += "."
    elif difference.excludes_zero:
        # Report the lead as 11B − 90B so the reader does not have to flip signs.
        flipped = Interval(low=-difference.interval.high, high=-difference.interval.low)
        text = f"11B leads by {_points(-gap)} F1 ({_interval_text(flipped)})"
        if cost_ratio is not None:
            text += f" and 90B is estimated at {cost_ratio:.1f}× the cost: ship 11B."
        else:
            text += f": ship 11B; {_missing_cost_note(small, large)}."
    else:
        text = (
            f"No clear difference: 90B − 11B = {gap:+.1f} F1 ({_interval_text(difference.interval)}, "
            "includes 0)"
        )
        if cost_ratio is not None:
            text += f"; 90B is estimated at {cost_ratio:.1f}× the cost, so 11B is the better buy."
        else:
            text += f"; prefer 11B, the smaller model; {_missing_cost_note(small, large)}."
    return f"{SANDBOX_LABEL} — {text}" if sandbox else text


def _duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def _summary_line(summary: SizeSummary) -> str:
    parts = [
        f"{summary.size.value}: F1 {_points(summary.base_f1)} → {_points(summary.fine_tuned_f1)} "
        f"({summary.f1_uplift_points:+.1f} points, {_percent(summary.f1_uplift_percent)}), "
        f"EM {_points(summary.base_exact_match)} → {_points(summary.fine_tuned_exact_match)}"
    ]
    if summary.total_cost_usd is not None:
        per_dollar = f", {summary.f1_per_dollar:.2f} F1 per estimated $" if summary.f1_per_dollar else ""
        parts.append(f"estimated ${summary.total_cost_usd:,.2f}{per_dollar}")
    else:
        parts.append("cost not estimated")
    if summary.evaluation_billed_usd is not None:
        parts.append(f"evaluation as run ${summary.evaluation_billed_usd:,.2f}")
    if summary.training_seconds is not None:
        parts.append(f"trained in {_duration(summary.training_seconds)}")
    return "; ".join(parts)


def _quoted(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return f"“{flat if len(flat) <= limit else flat[: limit - 1] + '…'}”"


def render_comparison_text(comparison: SizeComparison) -> str:
    """Plain-text report (Slack fallback text, CLI, logs). Says "sandbox" first when it is one."""
    lines = [SANDBOX_LABEL] if comparison.sandbox else []
    lines.append(f"11B vs 90B on {comparison.example_count} test examples ({comparison.metric})")
    if comparison.unpaired_example_count:
        lines.append(f"({comparison.unpaired_example_count} examples left out: not scored in every run)")
    lines.append(_summary_line(comparison.model_11b))
    lines.append(_summary_line(comparison.model_90b))
    difference = comparison.difference
    lines.append(
        f"90B − 11B: {difference.f1_points:+.1f} F1 ({difference.confidence * 100:.0f} % "
        f"{_interval_text(difference.interval)}, {'excludes' if difference.excludes_zero else 'includes'} 0)"
    )
    lines.append(f"Verdict: {comparison.verdict}")
    lines.append(
        "Costs are the launch estimates"
        + (f" ({comparison.cost_note})." if comparison.cost_note else ", not a bill.")
    )
    if comparison.disagreements:
        lines.append("Where they disagree most:")
        for item in comparison.disagreements:
            reference = _quoted(item.references[0]) if item.references else "(none)"
            lines.append(
                f"• {item.example_id} {_quoted(item.question)} — 11B {_quoted(item.answer_11b)} "
                f"(F1 {item.f1_11b:.0f}), 90B {_quoted(item.answer_90b)} (F1 {item.f1_90b:.0f}), "
                f"reference {reference}"
            )
    return "\n".join(lines)
