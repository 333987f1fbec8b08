"""Block Kit renderers: the service's JSON in, blocks out. Pure.

Every text is cut to Slack's limits here (section text 3,000 characters, button text 75, button value
2,000, 50 blocks a message), so no caller has to think about them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.commands import EXAMPLES, SUBCOMMANDS

Block = dict[str, Any]
SECTION_LIMIT = 3_000
BUTTON_TEXT_LIMIT = 75
VALUE_LIMIT = 2_000
MAX_BLOCKS = 50
MAX_LISTED_ERRORS = 10
STATUS_ICONS = {
    "pending": ":hourglass:",
    "queued": ":hourglass:",
    "submitting": ":arrow_up:",
    "training": ":gear:",
    "evaluating": ":bar_chart:",
    "done": ":white_check_mark:",
    "failed": ":x:",
    "cancelling": ":octagonal_sign:",
    "cancelled": ":no_entry_sign:",
    "checking": ":mag:",
    "ready": ":white_check_mark:",
    "unusable": ":x:",
}

# events that end something the requester waits for: they mention the requester
MENTIONING = ("job.completed", "job.failed", "evaluation.completed", "evaluation.failed", "group.compared")

# action ids: registered in bot.app, rendered here
LAUNCH_CONFIRM = "launch_confirm"
LAUNCH_DISMISS = "launch_dismiss"
LAUNCH_FROM_REPORT = "launch_from_report"
CANCEL_CONFIRM = "cancel_confirm"
CANCEL_KEEP = "cancel_keep"
HISTORY_MORE = "history_more"
APPROVE = "approve_launch"
DECLINE = "decline_launch"


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


def note_of(*items: Mapping[str, Any] | None) -> str | None:
    """The first price note among service objects (a job's ``cost_note``, an estimate's ``note``)."""
    for item in items:
        for key in ("cost_note", "note"):
            if item and isinstance(item.get(key), str) and item[key]:
                return str(item[key])
    return None


# The one rule for simulated figures: any renderer that shows something from the sandbox ends with
# this label (tests/bot/test_sandbox_label.py walks every renderer with a sandbox job).
SANDBOX_LABEL = ":test_tube: sandbox: simulated results"


def is_sandbox(*items: Mapping[str, Any] | None) -> bool:
    return any(
        item and (item.get("sandbox") or any(job.get("sandbox") for job in item.get("jobs") or []))
        for item in items
    )


def sandbox_note(*items: Mapping[str, Any] | None) -> list[Block]:
    return [context(SANDBOX_LABEL)] if is_sandbox(*items) else []


def sandbox_suffix(*items: Mapping[str, Any] | None) -> str:
    """The label for a text-only reply."""
    return f" ({SANDBOX_LABEL})" if is_sandbox(*items) else ""


# --- help and errors --------------------------------------------------------------------------------


def help_blocks() -> list[Block]:
    lines = "\n".join(f"• `{usage}`\n      {EXAMPLES[name]}" for name, usage in SUBCOMMANDS.items())
    return [
        section("*tunebot* fine-tunes Llama 3.2 Vision (11B, 90B) on Amazon Bedrock."),
        section(lines),
        context("Share a dataset file (zip, jsonl, json, csv, tsv, xlsx, parquet, pdf) with me to check it."),
    ]


def usage_error_text(message: str, usage: str) -> str:
    return f"{message} Try: `{usage}`"


def error_text(message: str, hint: str | None = None) -> str:
    return f":warning: {message}" + (f" {hint}" if hint else "")


# --- recommendation -----------------------------------------------------------------------------------


def recommendation_blocks(advice: Mapping[str, Any]) -> list[Block]:
    low, high = advice["epochs_range"]
    lr_low, lr_high = advice["learning_rate_range"]
    head = (
        f"*Recommendation for {advice['examples']:,} examples*: {str(advice['model']).upper()}, "
        f"{advice['epochs']} epochs (range {low}–{high}), learning rate {advice['learning_rate']:g} "
        f"(range {lr_low:g}–{lr_high:g})"
    )
    reasons = "\n".join(f"• {reason}" for reason in advice.get("reasons", []))
    return [section(head), section(reasons or "No reasons given.")]


# --- jobs -------------------------------------------------------------------------------------------


def job_line(job: Mapping[str, Any]) -> str:
    f1 = _f1_of(job)
    return (
        f"{STATUS_ICONS.get(job['status'], '')} *{job['name']}* · {str(job['model']).upper()} · "
        f"dataset `{job['dataset_id']}` · {job['status']}"
        + (f" · F1 {f1:.1f}" if f1 is not None else "")
        + f" · <@{job['requested_by']}> · {str(job['created_at'])[:16].replace('T', ' ')}"
    )


def _f1_of(job: Mapping[str, Any]) -> float | None:
    """The fine-tuned model's SQuAD F1 from the job's evaluations, once it has been scored."""
    for evaluation in job.get("evaluations") or []:
        if evaluation.get("variant") == "fine_tuned" and isinstance(evaluation.get("f1"), int | float):
            return float(evaluation["f1"])
    return None


def job_card(job: Mapping[str, Any]) -> list[Block]:
    fields = [
        f"*Status:* {STATUS_ICONS.get(job['status'], '')} {job['status']}",
        f"*Model:* Llama 3.2 {str(job['model']).upper()}",
        f"*Dataset:* `{job['dataset_id']}`",
        f"*Epochs:* {job['epochs']} (recommended {job['recommended_epochs']})",
        f"*Learning rate:* {job['learning_rate']:g} (recommended {job['recommended_learning_rate']:g})",
        f"*Cost:* {estimated(job.get('cost_estimate_usd'), note_of(job))}",
        f"*Requested by:* <@{job['requested_by']}>",
    ]
    blocks = [
        section(f"*{job['name']}*  `{job['id']}`"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": cut(text, 2_000)} for text in fields]},
    ]
    if job.get("failure_message"):
        blocks.append(section(f"*Bedrock said:* {job['failure_message']}"))
        if job.get("failure_hint"):
            blocks.append(section(f"*Likely fix:* {job['failure_hint']}"))
    metrics = job.get("metrics") or {}
    losses = [
        f"{label} {metrics[key]:.4f}"
        for key, label in (
            ("final_training_loss", "training loss"),
            ("final_validation_loss", "validation loss"),
        )
        if isinstance(metrics.get(key), int | float)
    ]
    if losses:
        blocks.append(context(" · ".join(losses)))
    return blocks + sandbox_note(job)


def history_blocks(jobs: Sequence[Mapping[str, Any]], more: str | None, title: str) -> list[Block]:
    """One line per job; ``more`` is the button value for the next page, None on the last page."""
    if not jobs:
        return [section(f"*{title}*: no jobs yet. Start one with `/finetune launch <dataset>`.")]
    blocks = [section(f"*{title}*")]
    text = ""
    for job in jobs:
        line = job_line(job) + "\n"
        if len(text) + len(line) > SECTION_LIMIT:
            blocks.append(section(text))
            text = ""
        text += line
    blocks.append(section(text))
    blocks += sandbox_note(*jobs)
    if more is not None:
        blocks.append(actions(button("More", HISTORY_MORE, more)))
    return blocks


def cancel_confirm_blocks(job: Mapping[str, Any]) -> list[Block]:
    if job["status"] in ("pending", "queued"):
        cost = "It has not started, so nothing is billed."
    else:
        cost = (
            "It is on Bedrock: stopping cannot be undone and the tokens trained so far are billed "
            f"(the whole job was {estimated(job.get('cost_estimate_usd'), note_of(job))})."
        )
    return [
        section(f"Cancel *{job['name']}* ({str(job['model']).upper()}, {job['status']})? {cost}"),
        *sandbox_note(job),
        actions(
            button("Cancel the job", CANCEL_CONFIRM, job["id"], style="danger"),
            button("Keep it", CANCEL_KEEP, job["id"]),
        ),
    ]


# --- launch -----------------------------------------------------------------------------------------


def launch_card(plan: Mapping[str, Any], advice: Mapping[str, Mapping[str, Any]], value: str) -> list[Block]:
    """The confirmation card. ``plan`` is what will be launched with the service's ``estimate`` of it
    (the figures the launch will store and the cost cap compares), ``advice`` the recommendation per
    model, ``value`` the Launch button's payload."""
    estimate = plan["estimate"]
    dataset = plan["dataset"]
    planned = {job["model"]: job for job in estimate["jobs"]}
    lines = [
        f"*Launch fine-tuning of Llama 3.2 {' and '.join(m.upper() for m in planned)}* on dataset "
        f"*{dataset.get('name', dataset['id'])}* (`{dataset['id']}`, "
        f"{estimate['examples']:,} training examples)"
    ]
    for model, job in planned.items():
        lines.append(
            f"• *{model.upper()}*: epochs {job['epochs']} (recommended {job['recommended_epochs']}), "
            f"learning rate {job['learning_rate']:g} (recommended {job['recommended_learning_rate']:g}); "
            f"{estimated(job['cost']['total_usd'])}"
        )
    if len(planned) > 1:
        lines.append(f"*Total*: {estimated(estimate['total_usd'])}")
    reasons = next(iter(advice.values())).get("reasons", []) if advice else []
    blocks = [
        section("\n".join(lines)),
        context(" ".join(reasons) or "Recommendation from the dataset's size."),
        context(
            f"Evaluation: {'on (SQuAD F1 against the base model)' if plan.get('evaluate', True) else 'off'}"
        ),
    ]
    if estimate.get("note"):
        blocks.append(context(f":warning: Costs are estimates from {estimate['note']}."))
    if estimate.get("approval_required"):
        blocks.append(
            context(
                f":moneybag: Above the cost cap of {money(estimate.get('cost_cap_usd'))}: "
                "launching asks an admin to approve it first."
            )
        )
    for warning in estimate.get("warnings", []):
        blocks.append(context(f":warning: {warning}"))
    blocks += sandbox_note(estimate)
    blocks.append(
        actions(
            button("Launch", LAUNCH_CONFIRM, value, style="primary"), button("Cancel", LAUNCH_DISMISS, "x")
        )
    )
    return blocks


def launch_value(plan: Mapping[str, Any]) -> str:
    """The launch parameters carried by a button, compact enough for Slack's 2,000 characters."""
    keys = ("dataset_id", "models", "epochs", "learning_rate", "evaluate", "name", "key")
    return json.dumps({key: plan[key] for key in keys if plan.get(key) is not None}, separators=(",", ":"))


def launched_text(result: Mapping[str, Any], created: bool) -> str:
    names = ", ".join(f"*{job['name']}* ({str(job['model']).upper()})" for job in result["jobs"])
    if not created:
        return f"Already launched: {names}. Follow it in the launch thread."
    cost = round(sum(job.get("cost_estimate_usd") or 0.0 for job in result["jobs"]), 2)
    return (
        f":rocket: Launched {names}, {estimated(cost, note_of(*result['jobs']))}. "
        f"Progress follows in the launch thread.{sandbox_suffix(*result['jobs'])}"
    )


def approval_request_blocks(
    requester: str, summary: str, estimate: Mapping[str, Any], value: str
) -> list[Block]:
    """The admins' DM: the same estimate the requester saw, and the cap it is above."""
    return [
        section(
            f":moneybag: <@{requester}> asks to launch {summary}, {estimated(estimate.get('total_usd'))}: "
            f"above the cost cap of {money(estimate.get('cost_cap_usd'))}, so an admin must approve it."
        ),
        *(
            [context(f":warning: Costs are estimates from {estimate['note']}.")]
            if estimate.get("note")
            else []
        ),
        *sandbox_note(estimate),
        actions(
            button("Approve", APPROVE, value, style="primary"),
            button("Decline", DECLINE, value, style="danger"),
        ),
    ]


# --- groups, events and comparisons -----------------------------------------------------------------


def group_card(group: Mapping[str, Any]) -> list[Block]:
    """The parent message of a launch, updated in place as its jobs move."""
    jobs = group.get("jobs", [])
    title = " + ".join(str(job["model"]).upper() for job in jobs) or "launch"
    lines = [
        f"{STATUS_ICONS.get(job['status'], '')} *{job['name']}* ({str(job['model']).upper()}): "
        f"{job['status']}" + (f" · F1 {_f1_of(job):.1f}" if _f1_of(job) is not None else "")
        for job in jobs
    ]
    blocks = [
        section(
            f"*Fine-tuning {title}* for <@{group['requested_by']}> on dataset `{group['dataset_id']}`, "
            f"{estimated(group.get('cost_estimate_usd'), note_of(group, *jobs))}"
        ),
        section("\n".join(lines) or "No jobs."),
        context(f"group `{group['id']}` · details in the thread"),
    ]
    return blocks + sandbox_note(group)


def group_text(group: Mapping[str, Any]) -> str:
    jobs = ", ".join(f"{job['name']} {job['status']}" for job in group.get("jobs", []))
    return cut(f"Fine-tuning for <@{group['requested_by']}>: {jobs}", 3_000)


def event_text(event: Mapping[str, Any]) -> str:
    payload = event.get("payload", {})
    message = str(payload.get("message") or f"{event['type']} for {event['subject_id']}")
    icon = STATUS_ICONS.get(str(payload.get("status", "")), "")
    text = f"{icon} {message}".strip()
    if event["type"] == "job.failed" and payload.get("failure_hint"):
        text += f"\nLikely fix: {payload['failure_hint']}"
    if event["type"] in MENTIONING and payload.get("requested_by"):
        text = f"<@{payload['requested_by']}> {text}"
    return cut(text, 3_000)


def comparison_blocks(comparison: Mapping[str, Any]) -> list[Block]:
    blocks = [section("*11B vs 90B*")]
    for key in ("model_11b", "model_90b"):
        size = comparison.get(key) or {}
        if size:
            blocks.append(
                section(
                    f"*{size.get('size', key[-3:].upper())}*: F1 {size.get('base_f1', 0):.1f} → "
                    f"{size.get('fine_tuned_f1', 0):.1f} ({size.get('f1_uplift_points', 0):+.1f} points), "
                    f"{estimated(size.get('total_cost_usd'))}"
                )
            )
    if comparison.get("verdict"):
        blocks.append(section(str(comparison["verdict"])))
    costs = "Costs are the launch estimates"
    blocks.append(
        context(f"{costs} ({comparison['cost_note']})." if comparison.get("cost_note") else f"{costs}.")
    )
    return blocks + sandbox_note(comparison)


def job_pair_blocks(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[Block]:
    """Side by side when the service holds no comparison for them (not a pair of one launch)."""
    rows = []
    for job in (first, second):
        f1 = _f1_of(job)
        rows.append(
            f"*{job['name']}* ({str(job['model']).upper()}): {job['status']}, "
            f"F1 {'unknown' if f1 is None else f'{f1:.1f}'}, {estimated(job.get('cost_estimate_usd'))}"
        )
    note = note_of(first, second)
    return [
        section("*Comparison*\n" + "\n".join(rows)),
        *([context(f":warning: Costs are estimates from {note}.")] if note else []),
        *sandbox_note(first, second),
    ]


# --- datasets ---------------------------------------------------------------------------------------


def dataset_line(dataset: Mapping[str, Any]) -> str:
    counts = (dataset.get("report") or {}).get("counts") or {}
    records = f"{counts.get('records', 0):,} records" if counts else "not counted yet"
    return (
        f"{STATUS_ICONS.get(dataset['status'], '')} *{dataset.get('name', dataset['id'])}* "
        f"`{dataset['id']}` · "
        f"{dataset['status']} · {records}"
        + (f" ({counts.get('train', 0):,} train)" if counts else "")
        + (f" · <@{dataset['created_by']}>" if dataset.get("created_by") else "")
    )


def datasets_blocks(datasets: Sequence[Mapping[str, Any]], title: str) -> list[Block]:
    if not datasets:
        return [section(f"*{title}*: none yet. Share a dataset file with me to check one.")]
    return [
        section(f"*{title}*"),
        section("\n".join(dataset_line(d) for d in datasets)),
        *sandbox_note(*datasets),
    ]


def report_estimates(dataset: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The report's estimate per model size (at the recommended epochs), as the service computed it."""
    report = dataset.get("report") or {}
    estimate = report.get("cost_estimate") or {}
    estimates = report.get("cost_by_model") or {estimate.get("model"): estimate}
    return {model: found for model in ("11b", "90b") if (found := estimates.get(model))}


def dataset_costs(dataset: Mapping[str, Any]) -> dict[str, float | None]:
    """Cost per model as the dataset's report estimated it (at the recommended epochs); None if unknown."""
    found = report_estimates(dataset)
    return {model: float(found[model]["total_usd"]) if model in found else None for model in ("11b", "90b")}


def dataset_report_blocks(dataset: Mapping[str, Any], costs: Mapping[str, float | None]) -> list[Block]:
    """The check's outcome: counts, first errors by code with the fix, recommendation, launch buttons."""
    report = dataset.get("report") or {}
    counts = report.get("counts") or {}
    usable = dataset["status"] == "ready" and report.get("usable", True)
    head = (
        f"{STATUS_ICONS.get(dataset['status'], '')} *Dataset {dataset.get('name', '')}* `{dataset['id']}`: "
        + ("ready to train" if usable else "cannot be used as it is")
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
    if dataset.get("error"):
        blocks.append(section(f"*Problem:* {dataset['error']}"))
    for kind in ("errors", "warnings"):
        grouped = _findings_by_code(report.get(kind) or [], report.get(f"{kind[:-1]}_counts") or {})
        if grouped:
            blocks.append(section(f"*{kind.title()}*\n" + grouped))
    advice = report.get("recommendation")
    if usable and advice:
        blocks += recommendation_blocks(advice)
    if usable:
        value = dataset["id"]
        both = [costs.get("11b"), costs.get("90b")]
        both_cost = None if None in both else sum(c for c in both if c is not None)
        # Slack refuses two buttons of one block with the same action_id (invalid_blocks): one id each.
        blocks.append(
            actions(
                *(
                    button(
                        f"Launch {size.upper()} (est. {money(costs.get(size))})",
                        report_launch_id(size),
                        f"{value}:{size}",
                    )
                    for size in ("11b", "90b")
                ),
                button(
                    f"Launch both and compare (est. {money(both_cost)})",
                    report_launch_id("both"),
                    f"{value}:both",
                    style="primary",
                ),
            )
        )
        note = note_of(*report_estimates(dataset).values())
        blocks.append(
            context(
                "Button prices are estimates at the recommended epochs" + (f", from {note}." if note else ".")
            )
        )
    return blocks[: MAX_BLOCKS - 1] + sandbox_note(dataset)


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


# --- the launch modal -------------------------------------------------------------------------------

LAUNCH_MODAL = "launch_modal"
MODAL_FIELDS = ("dataset", "model", "epochs", "lr", "eval", "name")


def loading_view() -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Launch fine-tuning"},
        "blocks": [section(":hourglass_flowing_sand: Reading your last dataset and its recommendation…")],
    }


def _input(block_id: str, label: str, element: Block, optional: bool = False, hint: str = "") -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = {"type": "plain_text", "text": cut(hint, 2_000)}
    return block


def _text_input(initial: str | None) -> Block:
    element: Block = {"type": "plain_text_input"}
    if initial:
        element["initial_value"] = initial
    return element


def _select(options: Sequence[tuple[str, str]], initial: str) -> Block:
    choices = [{"text": {"type": "plain_text", "text": label}, "value": value} for value, label in options]
    chosen = next(choice for choice in choices if choice["value"] == initial)
    return {"type": "static_select", "options": choices, "initial_option": chosen}


def launch_modal(prefill: Mapping[str, Any], metadata: str) -> dict[str, Any]:
    """The launch form, prefilled from the caller's last dataset and its recommendation."""
    advice = prefill.get("advice") or {}
    reasons = " ".join(advice.get("reasons", []))
    return {
        "type": "modal",
        "callback_id": LAUNCH_MODAL,
        "private_metadata": metadata,
        "title": {"type": "plain_text", "text": "Launch fine-tuning"},
        "submit": {"type": "plain_text", "text": "Review cost"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _input("dataset", "Dataset (id or s3:// URI)", _text_input(prefill.get("dataset_id"))),
            _input(
                "model",
                "Model",
                _select([("11b", "11B"), ("90b", "90B"), ("both", "Both, and compare")], "11b"),
            ),
            _input(
                "epochs", "Epochs (1-10)", _text_input(str(advice.get("epochs", "")) or None), True, reasons
            ),
            _input(
                "lr", "Learning rate", _text_input(f"{advice['learning_rate']:g}" if advice else None), True
            ),
            _input("eval", "Evaluate with SQuAD F1", _select([("on", "On"), ("off", "Off")], "on")),
            _input("name", "Name", _text_input(None), True),
        ],
    }


# --- App Home ---------------------------------------------------------------------------------------


def home_view(mine: Sequence[Mapping[str, Any]], running: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "tunebot"}}]
    blocks.append(section("*Your recent jobs*"))
    blocks.append(
        section("\n".join(job_line(job) for job in mine) or "None yet: `/finetune help` shows how.")
    )
    blocks.append({"type": "divider"})
    blocks.append(section("*Running for the team*"))
    blocks.append(section("\n".join(job_line(job) for job in running) or "Nothing is running."))
    blocks += sandbox_note(*mine, *running)
    return {"type": "home", "blocks": blocks[:100]}
