"""Datasets: one line, a list, and the check's report with its launch buttons. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.kit import (
    MAX_BLOCKS,
    MAX_LISTED_ERRORS,
    REPORT_LAUNCH_ROW,
    SECTION_LIMIT,
    STATUS_ICONS,
    Block,
    actions,
    button,
    context,
    cut,
    money,
    note_of,
    report_launch_id,
    sandbox_note,
    section,
)
from bot.blocks.launch import recommendation_blocks
from services.api.schemas import DatasetOut, DatasetStatus, Recommendation


def dataset_line(dataset: DatasetOut) -> str:
    counts = (dataset.report or {}).get("counts") or {}
    records = f"{counts.get('records', 0):,} records" if counts else "not counted yet"
    return (
        f"{STATUS_ICONS.get(dataset.status, '')} *{dataset.name or dataset.id}* `{dataset.id}` · "
        f"{dataset.status} · {records}"
        + (f" ({counts.get('train', 0):,} train)" if counts else "")
        + (f" · <@{dataset.created_by}>" if dataset.created_by else "")
    )


def datasets_blocks(datasets: Sequence[DatasetOut], title: str) -> list[Block]:
    if not datasets:
        return [section(f"*{title}*: none yet. Share a dataset file with me to check one.")]
    return [
        section(f"*{title}*"),
        section("\n".join(dataset_line(d) for d in datasets)),
        *sandbox_note(*datasets),
    ]


def report_estimates(dataset: DatasetOut) -> dict[str, Mapping[str, Any]]:
    """The report's estimate per model size (at the recommended epochs), as the service computed it."""
    report = dataset.report or {}
    estimate = report.get("cost_estimate") or {}
    estimates = report.get("cost_by_model") or {estimate.get("model"): estimate}
    return {model: found for model in ("11b", "90b") if (found := estimates.get(model))}


def dataset_costs(dataset: DatasetOut) -> dict[str, float | None]:
    """Cost per model as the dataset's report estimated it (at the recommended epochs); None if unknown."""
    found = report_estimates(dataset)
    return {model: float(found[model]["total_usd"]) if model in found else None for model in ("11b", "90b")}


def dataset_report_blocks(dataset: DatasetOut, costs: Mapping[str, float | None]) -> list[Block]:
    """The check's outcome: counts, first errors by code with the fix, recommendation, launch buttons."""
    report = dataset.report or {}
    counts = report.get("counts") or {}
    usable = dataset.status == DatasetStatus.READY and report.get("usable", True)
    head = f"{STATUS_ICONS.get(dataset.status, '')} *Dataset {dataset.name}* `{dataset.id}`: " + (
        "ready to train" if usable else "cannot be used as it is"
    )
    blocks = [section(head)]
    if counts:
        blocks.append(
            context(
                f"{counts.get('records', 0):,} records: {counts.get('accepted', 0):,} accepted, "
                f"{counts.get('rejected', 0):,} rejected · train {counts.get('train', 0):,}, "
                f"validation {counts.get('validation', 0):,}, test {counts.get('test', 0):,}"
            )
        )
    if dataset.error:
        blocks.append(section(f"*Problem:* {dataset.error}"))
    for kind in ("errors", "warnings"):
        grouped = _findings_by_code(report.get(kind) or [], report.get(f"{kind[:-1]}_counts") or {})
        if grouped:
            blocks.append(section(f"*{kind.title()}*\n" + grouped))
    advice = report.get("recommendation")
    if usable and advice:
        blocks += recommendation_blocks(Recommendation.model_validate(advice))
    if usable:
        blocks += _launch_row(dataset, costs)
    return blocks[: MAX_BLOCKS - 1] + sandbox_note(dataset)


def fitting_sizes(dataset: DatasetOut) -> tuple[str, ...]:
    """The model sizes every accepted record fits, as the service's check found them."""
    fit = (dataset.report or {}).get("model_fit")
    if not fit:
        return ("11b", "90b")  # a report from before the per-size check: the service still refuses a misfit
    return tuple(size for size in ("11b", "90b") if size in fit.get("fits", []))


def _launch_row(dataset: DatasetOut, costs: Mapping[str, float | None]) -> list[Block]:
    """One Launch button per size the data fits, "both" only when it fits both; a line saying why not."""
    sizes = fitting_sizes(dataset)
    if not sizes:
        return []
    value = dataset.id
    # Slack refuses two buttons of one block with the same action_id (invalid_blocks): one id each.
    buttons = [
        button(
            f"Launch {size.upper()} (est. {money(costs.get(size))})",
            report_launch_id(size),
            f"{value}:{size}",
        )
        for size in sizes
    ]
    if len(sizes) == 2:
        both = [costs.get("11b"), costs.get("90b")]
        both_cost = None if None in both else sum(c for c in both if c is not None)
        buttons.append(
            button(
                f"Launch both and compare (est. {money(both_cost)})",
                report_launch_id("both"),
                f"{value}:both",
                style="primary",
            )
        )
    row = [{**actions(*buttons), "block_id": REPORT_LAUNCH_ROW}]
    if len(sizes) < 2:
        summary = str(((dataset.report or {}).get("model_fit") or {}).get("summary", ""))
        missing = next(size for size in ("11b", "90b") if size not in sizes).upper()
        row.append(
            context(
                f":warning: No {missing} launch: the data {summary}. Shorten or split those records and "
                f"share the file again to train {missing}."
            )
        )
    note = note_of(*(estimate.get("note") for estimate in report_estimates(dataset).values()))
    row.append(
        context(
            "Button prices are estimates at the recommended epochs" + (f", from {note}." if note else ".")
        )
    )
    return row


def _findings_by_code(findings: Sequence[Mapping[str, Any]], totals: Mapping[str, int]) -> str:
    """The first finding of each code with its count, while they fit; the rest are counted, not lost."""
    first: dict[str, Mapping[str, Any]] = {}
    seen: dict[str, int] = {}
    for finding in findings:
        code = str(finding.get("code", "?"))
        first.setdefault(code, finding)
        seen[code] = seen.get(code, 0) + 1
    lines: list[str] = []
    budget = SECTION_LIMIT - 200  # room for the heading and the closing count
    for code in list(first)[:MAX_LISTED_ERRORS]:
        finding = first[code]
        where = f" (record {finding['record']})" if finding.get("record") else ""
        message = cut(str(finding.get("message", "")), 240)
        line = f"• `{code}` ×{totals.get(code, seen[code]):,}{where}: {message}"
        if sum(len(existing) + 1 for existing in lines) + len(line) > budget:
            break
        lines.append(line)
    rest = list(first)[len(lines) :]
    if rest:
        count = sum(totals.get(code, seen[code]) for code in rest)
        lines.append(f"…and {count:,} more in {len(rest)} other codes")
    return "\n".join(lines)


def checking_text(filename: str) -> str:
    return f":mag: Checking `{filename}`… I will post the report in this thread."


def check_progress_text(filename: str, dataset: DatasetOut) -> str:
    """The "Checking…" message as the check goes: records checked, their share when the total is known,
    and once the check is over, that it is (the report itself is its own post in the thread)."""
    checked, total = dataset.records_checked, dataset.records_total
    if dataset.status == DatasetStatus.FAILED:
        return f":mag: The check of `{filename}` stopped: the reason is in this thread."
    if dataset.status != DatasetStatus.CHECKING:
        counted = f": {checked:,} records" if checked is not None else ""
        return f":mag: Checked `{filename}`{counted}. The report is in this thread."
    if checked is None:
        return checking_text(filename)
    if total is None or total <= 0 or checked > total:  # a format that tells its total only at the end
        return f":mag: Checking `{filename}`… {checked:,} records so far"
    return f":mag: Checking `{filename}`… {checked:,} of {total:,} records ({100 * checked // total} %)"


def still_checking_text(filename: str) -> str:
    """What the "Checking…" message says once the bot stops following a long check."""
    return f":mag: Still checking `{filename}`… I will post the report in this thread when it is done."


def report_launched(report: Sequence[Block], line: str) -> list[Block]:
    """``report`` with its Launch buttons' row replaced by ``line``; every other block as it was."""
    return [context(line) if block.get("block_id") == REPORT_LAUNCH_ROW else dict(block) for block in report]
