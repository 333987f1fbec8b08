"""Block Kit primitives every renderer shares: Slack's limits, sections, buttons, costs, the sandbox label.

Every text is cut to Slack's limits here (section text 3,000 characters, button text 75, button value
2,000, 50 blocks a message), so no renderer has to think about them. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.api.schemas import (
    DatasetOut,
    DatasetStatus,
    EstimateOut,
    GroupOut,
    JobOut,
    JobStatus,
    SweepEstimateOut,
    SweepOut,
)

Block = dict[str, Any]
SECTION_LIMIT = 3_000
BUTTON_TEXT_LIMIT = 75
VALUE_LIMIT = 2_000
MAX_BLOCKS = 50
MAX_LISTED_ERRORS = 10
STATUS_ICONS: dict[str, str] = {
    JobStatus.PENDING: ":hourglass:",
    JobStatus.QUEUED: ":hourglass:",
    JobStatus.SUBMITTING: ":arrow_up:",
    JobStatus.TRAINING: ":gear:",
    JobStatus.EVALUATING: ":bar_chart:",
    JobStatus.DONE: ":white_check_mark:",
    JobStatus.FAILED: ":x:",
    JobStatus.CANCELLING: ":octagonal_sign:",
    JobStatus.CANCELLED: ":no_entry_sign:",
    DatasetStatus.CHECKING: ":mag:",
    DatasetStatus.READY: ":white_check_mark:",
    DatasetStatus.UNUSABLE: ":x:",
}

# action ids: registered in bot.app, rendered here
LAUNCH_CONFIRM = "launch_confirm"
LAUNCH_DISMISS = "launch_dismiss"
LAUNCH_FROM_REPORT = "launch_from_report"
CANCEL_CONFIRM = "cancel_confirm"
CANCEL_KEEP = "cancel_keep"
HISTORY_MORE = "history_more"
APPROVE = "approve_launch"
DECLINE = "decline_launch"
SWEEP_CONFIRM = "sweep_confirm"


HOME_LAUNCH = "home_launch"
HOME_DATASETS = "home_datasets"
HOME_HISTORY = "home_history"
REPORT_LAUNCH_ROW = "report_launch"  # block_id of a report's Launch buttons, the row a launch replaces


def report_launch_id(choice: str) -> str:
    """The action_id of a report's Launch button: ``launch_from_report:11b`` (bot.app routes the prefix)."""
    return f"{LAUNCH_FROM_REPORT}:{choice}"


def cut(text: str, limit: int = SECTION_LIMIT) -> str:
    """``text`` within ``limit`` characters, marked when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    if len(value) > VALUE_LIMIT:
        raise ValueError(f"button value of {len(value)} characters is over Slack's {VALUE_LIMIT}")
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": cut(text, BUTTON_TEXT_LIMIT)},
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        element["style"] = style
    return element


def actions(*elements: Block) -> Block:
    return {"type": "actions", "elements": list(elements)}


def money(usd: float | None) -> str:
    return "unknown" if usd is None else f"${usd:,.2f}"


def estimated(usd: float | None, note: str | None = None) -> str:
    """How every cost reads: an estimate, with the service's note when a price behind it is doubtful."""
    if usd is None:
        return "cost not estimated"
    return f"estimated ${usd:,.2f}" + (f" ({note})" if note else "")


def note_of(*notes: str | None) -> str | None:
    """The first price note given (a job's ``cost_note``, an estimate's ``note``), if any."""
    return next((note for note in notes if note), None)


# The one rule for simulated figures: any renderer that shows something from the sandbox ends with
# this label (tests/bot/blocks/test_sandbox_label.py walks every renderer with a sandbox job).
SANDBOX_LABEL = ":test_tube: sandbox: simulated results"


# What can carry simulated figures: the service's objects, and a comparison (a plain object on the wire).
Shown = JobOut | GroupOut | DatasetOut | EstimateOut | SweepEstimateOut | SweepOut | Mapping[str, Any]


def is_sandbox(*items: Shown) -> bool:
    def simulated(item: Shown) -> bool:
        if isinstance(item, GroupOut):
            return any(job.sandbox for job in item.jobs)
        if isinstance(item, Mapping):
            return bool(item.get("sandbox"))
        return item.sandbox

    return any(simulated(item) for item in items)


def sandbox_note(*items: Shown) -> list[Block]:
    return [context(SANDBOX_LABEL)] if is_sandbox(*items) else []


def cost_caveats(estimate: EstimateOut | SweepEstimateOut, starting: str) -> list[Block]:
    """What an estimate's card says under its costs: a doubtful price, and the cost cap it is above
    (``starting``: what pressing the button does, e.g. "launching")."""
    blocks: list[Block] = []
    if estimate.note:
        blocks.append(context(f":warning: Costs are estimates from {estimate.note}."))
    if estimate.approval_required:
        blocks.append(
            context(
                f":moneybag: Above the cost cap of {money(estimate.cost_cap_usd)}: "
                f"{starting} asks an admin to approve it first."
            )
        )
    return blocks


def sandbox_suffix(*items: Shown) -> str:
    """The label for a text-only reply."""
    return f" ({SANDBOX_LABEL})" if is_sandbox(*items) else ""
