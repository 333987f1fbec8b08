"""What the listeners delegate to: validate, call the job service, and say what to reply.

Every use case returns a ``Reply`` (or nothing); a ``ServiceError`` becomes an ephemeral line that says
what to do instead. Nothing here blocks for long: slow work (downloads, checks) runs on the upload
worker, and the service does the rest.
"""

from __future__ import annotations

import json
import logging
import shlex
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import blocks, commands
from services.client import ServiceClient, ServiceError
from services.platform.config import Settings

log = logging.getLogger(__name__)
P = ParamSpec("P")

FINISHED = ("done", "failed", "cancelled")
HINTS = {
    "job_not_found": "List jobs with `/finetune history all`.",
    "group_not_found": "The group id is in the launch thread's footer.",
    "dataset_not_found": "List datasets with `/finetune datasets all`.",
    "dataset_not_ready": "Launch a ready dataset: see `/finetune datasets`.",
    "not_cancellable": "See it with `/finetune status <job>`.",
    "service_unreachable": "The job service is down: try again in a minute.",
}


@dataclass
class Reply:
    text: str
    blocks: list[blocks.Block] | None = None
    replace_original: bool | None = None

    def kwargs(self) -> dict[str, Any]:
        values: dict[str, Any] = {"text": self.text, "response_type": "ephemeral"}
        if self.blocks is not None:
            values["blocks"] = self.blocks
        if self.replace_original is not None:
            values["replace_original"] = self.replace_original
        return values


def failure(error: ServiceError) -> Reply:
    return Reply(blocks.error_text(error.message, HINTS.get(error.code)))


def replies_errors(use_case: Callable[P, Reply | None]) -> Callable[P, Reply | None]:
    """One place that turns the service's refusals into what the user sees."""

    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Reply | None:
        try:
            return use_case(*args, **kwargs)
        except ServiceError as error:
            log.info("service refused", extra={"code": error.code, "status": error.status})
            return failure(error)

    wrapped.__name__ = use_case.__name__
    wrapped.__doc__ = use_case.__doc__
    return wrapped


@dataclass
class SeenIds:
    """A bounded memory of ids already handled: Slack retries events and users double-click."""

    limit: int = 10_000
    _ids: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._ids:
                return False
            self._ids[key] = None
            if len(self._ids) > self.limit:
                self._ids.popitem(last=False)
            return True


class Flows:
    def __init__(self, settings: Settings, service: ServiceClient, slack: WebClient) -> None:
        self.settings = settings
        self.service = service
        self.slack = slack

    # --- slash command ------------------------------------------------------------------------------

    def acknowledgement(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """What the HTTP answer itself carries: pure replies at once, an empty ack otherwise."""
        parsed = commands.parse(command.get("text", ""), command.get("user_id", ""))
        if isinstance(parsed, commands.Help):
            return {"response_type": "ephemeral", "blocks": blocks.help_blocks(), "text": "tunebot help"}
        if isinstance(parsed, commands.UsageError):
            return {
                "response_type": "ephemeral",
                "text": blocks.usage_error_text(parsed.message, parsed.usage),
            }
        return {}

    def run_command(self, command: Mapping[str, Any]) -> Reply | None:
        user, channel = command.get("user_id", ""), command.get("channel_id", "")
        parsed = commands.parse(command.get("text", ""), user)
        if isinstance(parsed, commands.Help | commands.UsageError):
            return None
        if isinstance(parsed, commands.Launch):
            return self.launch(parsed, user, channel, command.get("trigger_id", ""))
        if isinstance(parsed, commands.Recommend):
            return self.recommend(parsed)
        if isinstance(parsed, commands.Status):
            return self.status(parsed)
        if isinstance(parsed, commands.History):
            return self.history(parsed)
        if isinstance(parsed, commands.Cancel):
            return self.cancel(parsed, user)
        if isinstance(parsed, commands.Compare):
            return self.compare(parsed)
        return self.datasets(parsed, user)

    @replies_errors
    def recommend(self, command: commands.Recommend) -> Reply:
        advice = self.service.recommendation(command.examples, command.model)
        return Reply(
            f"Recommendation for {command.examples:,} examples", blocks.recommendation_blocks(advice)
        )

    @replies_errors
    def status(self, command: commands.Status) -> Reply:
        job = self.find_job(command.job)
        return Reply(f"{job['name']}: {job['status']}", blocks.job_card(job))

    @replies_errors
    def history(self, command: commands.History, before: str | None = None) -> Reply:
        page = self.service.list_jobs(
            requested_by=command.user,
            status=command.status,
            model=command.model,
            limit=command.limit,
            before=before,
        )
        more = None
        if page.get("next_before"):
            more = json.dumps(
                {
                    "u": command.user,
                    "s": command.status,
                    "m": command.model,
                    "l": command.limit,
                    "b": page["next_before"],
                },
                separators=(",", ":"),
            )
        title = "Jobs of " + (f"<@{command.user}>" if command.user else "everyone")
        if command.status or command.model:
            title += " (" + ", ".join(x for x in (command.status, command.model) if x) + ")"
        return Reply(title, blocks.history_blocks(page["jobs"], more, title))

    def history_more(self, value: str) -> Reply | None:
        state = json.loads(value)
        command = commands.History(state["u"], state["s"], state["m"], int(state["l"]))
        return self.history(command, before=state["b"])

    @replies_errors
    def datasets(self, command: commands.Datasets, user: str) -> Reply:
        found = self.service.list_datasets(created_by=user if command.mine else None, limit=10)
        title = "Your datasets" if command.mine else "Recent datasets"
        return Reply(title, blocks.datasets_blocks(found, title))

    @replies_errors
    def compare(self, command: commands.Compare) -> Reply:
        if command.group is not None:
            group = self.service.get_group(command.group)
            return self._group_comparison(group)
        assert command.jobs is not None
        first, second = (self.find_job(ref) for ref in command.jobs)
        unfinished = [job for job in (first, second) if job["status"] not in FINISHED]
        if unfinished:
            names = ", ".join(f"{job['name']} is {job['status']}" for job in unfinished)
            return Reply(blocks.error_text(f"Compare needs finished jobs: {names}.", "Try again when done."))
        if first["group_id"] == second["group_id"]:
            return self._group_comparison(self.service.get_group(first["group_id"]))
        return Reply(f"{first['name']} vs {second['name']}", blocks.job_pair_blocks(first, second))

    def _group_comparison(self, group: Mapping[str, Any]) -> Reply:
        if group.get("comparison"):
            return Reply("11B vs 90B", blocks.comparison_blocks(group["comparison"]))
        waiting = [job for job in group["jobs"] if job["status"] not in FINISHED]
        if waiting:
            names = ", ".join(f"{job['name']} is {job['status']}" for job in waiting)
            return Reply(
                blocks.error_text(f"No comparison yet: {names}.", "It is posted in the thread when done.")
            )
        if len(group["jobs"]) == 2:
            return Reply("Comparison", blocks.job_pair_blocks(group["jobs"][0], group["jobs"][1]))
        return Reply(
            blocks.error_text(
                "That launch has one job: nothing to compare.", "Try `/finetune compare <job> <job>`."
            )
        )

    # --- cancel -------------------------------------------------------------------------------------

    def may_cancel(self, job: Mapping[str, Any], user: str) -> bool:
        return job["requested_by"] == user or user in self.settings.admins

    @replies_errors
    def cancel(self, command: commands.Cancel, user: str) -> Reply:
        job = self.find_job(command.job)
        if not self.may_cancel(job, user):
            return self._not_yours(job)
        if job["status"] in FINISHED or job["status"] == "evaluating":
            return Reply(
                blocks.error_text(
                    f"{job['name']} is {job['status']}: only waiting or training jobs can be cancelled."
                )
            )
        return Reply(f"Cancel {job['name']}?", blocks.cancel_confirm_blocks(job))

    @replies_errors
    def confirm_cancel(self, job_id: str, user: str) -> Reply:
        job = self.service.get_job(job_id)
        if not self.may_cancel(job, user):
            return self._not_yours(job)
        job = self.service.cancel_job(job_id, requested_by=user)
        return Reply(
            f"{job['name']} is {job['status']}. Updates follow in its launch thread.", replace_original=True
        )

    def _not_yours(self, job: Mapping[str, Any]) -> Reply:
        admins = ", ".join(f"<@{admin}>" for admin in self.settings.admins) or "an admin"
        return Reply(
            blocks.error_text(
                f"Only <@{job['requested_by']}> (who launched {job['name']}) or {admins} can cancel it.",
                "Ask them, or see it with `/finetune status " + job["name"] + "`.",
            )
        )

    # --- launch -------------------------------------------------------------------------------------

    def launch_allowed_in(self, channel: str) -> bool:
        allowed = self.settings.allowed_channels
        return not allowed or channel in allowed or channel.startswith("D")

    def _refuse_channel(self) -> Reply:
        where = ", ".join(f"<#{channel}>" for channel in self.settings.allowed_channels)
        return Reply(blocks.error_text(f"Launches happen only in {where}.", "Run the command there."))

    @replies_errors
    def launch(self, command: commands.Launch, user: str, channel: str, trigger_id: str) -> Reply | None:
        if not self.launch_allowed_in(channel):
            return self._refuse_channel()
        if command.dataset is None and trigger_id:
            self.open_launch_modal(trigger_id, user, channel)
            return None
        if command.dataset is None:
            return Reply(
                blocks.usage_error_text("Name the dataset to launch.", commands.SUBCOMMANDS["launch"])
                + " — `last` is your last upload."
            )
        if command.dataset.startswith("s3://"):
            dataset = self.service.dataset_from_uri(command.dataset, created_by=user, slack_channel=channel)
            return Reply(
                f":mag: Checking `{command.dataset}` as dataset `{dataset['id']}`: its report comes to this "
                "channel with launch buttons."
            )
        dataset = self._dataset(command.dataset, user)
        if dataset["status"] != "ready":
            return Reply(
                blocks.error_text(
                    f"Dataset `{dataset['id']}` is {dataset['status']}, not ready.",
                    "Check it with `/finetune datasets`, or share a fixed file.",
                )
            )
        plan = self.plan(
            dataset, command.models, command.epochs, command.learning_rate, command.evaluate, command.name
        )
        advice = {model: self.service.recommendation(plan["examples"], model) for model in command.models}
        # The card's own key: a second click (or a Slack retry) on this card is the same launch.
        plan["key"] = f"card:{trigger_id or channel + ':' + user}"
        value = blocks.launch_value(plan)
        return Reply("Confirm the launch", blocks.launch_card(plan, advice, value))

    def _dataset(self, ref: str, user: str) -> dict[str, Any]:
        if ref == "last":
            found = self.service.list_datasets(created_by=user, limit=1)
            if not found:
                raise ServiceError(
                    404,
                    "dataset_not_found",
                    "You have not shared a dataset with me yet: share a file, then try again.",
                )
            return found[0]
        return self.service.get_dataset(ref)

    def plan(
        self,
        dataset: Mapping[str, Any],
        models: tuple[str, ...],
        epochs: int | None,
        learning_rate: float | None,
        evaluate: bool,
        name: str | None,
    ) -> dict[str, Any]:
        counts = (dataset.get("report") or {}).get("counts") or {}
        # The service's estimate for exactly these values: the figures the launch stores and the cap checks.
        estimate = self.service.estimate_launch(
            dataset_id=dataset["id"],
            models=list(models),
            epochs=epochs,
            learning_rate=learning_rate,
            evaluate=evaluate,
        )
        return {
            "dataset": dataset,
            "dataset_id": dataset["id"],
            "examples": int(counts.get("train", 0)),
            "models": list(models),
            "epochs": epochs,
            "learning_rate": learning_rate,
            "evaluate": evaluate,
            "name": name,
            "estimate": estimate,
        }

    @replies_errors
    def confirm_launch(self, value: str, user: str, channel: str) -> Reply:
        if not self.launch_allowed_in(channel):
            return self._refuse_channel()
        plan = json.loads(value)
        return self.start_launch(plan, plan.pop("key"), user, channel)

    @replies_errors
    def launch_from_report(self, value: str, user: str, channel: str, message_ts: str) -> Reply:
        if not self.launch_allowed_in(channel):
            return self._refuse_channel()
        dataset_id, _, choice = value.partition(":")
        models = ["11b", "90b"] if choice == "both" else [choice]
        plan = {"dataset_id": dataset_id, "models": models, "evaluate": True}
        return self.start_launch(plan, f"report:{channel}:{message_ts}:{choice}", user, channel)

    def start_launch(
        self, plan: dict[str, Any], key: str, user: str, channel: str, approved_by: str | None = None
    ) -> Reply:
        try:
            result = self.service.launch_jobs(
                key,
                dataset_id=plan["dataset_id"],
                models=plan["models"],
                requested_by=user,
                epochs=plan.get("epochs"),
                learning_rate=plan.get("learning_rate"),
                evaluate=plan.get("evaluate", True),
                name=plan.get("name"),
                slack_channel=channel or None,
                approved_by=approved_by,
            )
        except ServiceError as error:
            if error.code != "approval_required":
                raise
            return self.ask_approval(plan, key, user, channel, error.message)
        return Reply(blocks.launched_text(result, result["created"]), replace_original=True)

    def ask_approval(self, plan: Mapping[str, Any], key: str, user: str, channel: str, why: str) -> Reply:
        if not self.settings.admins:
            return Reply(blocks.error_text(why), replace_original=False)
        value = json.dumps(
            {"plan": plan, "key": key, "user": user, "channel": channel}, separators=(",", ":")
        )
        summary = f"{' + '.join(m.upper() for m in plan['models'])} on dataset `{plan['dataset_id']}`"
        # The same estimate the requester saw (and the cap compared), computed again by the service.
        estimate = self.service.estimate_launch(
            dataset_id=plan["dataset_id"],
            models=list(plan["models"]),
            epochs=plan.get("epochs"),
            learning_rate=plan.get("learning_rate"),
            evaluate=plan.get("evaluate", True),
        )
        figure = blocks.estimated(estimate["total_usd"], estimate["note"])
        for admin in self.settings.admins:
            self.slack.chat_postMessage(
                channel=admin,
                text=f"Approval needed: {summary}, {figure}",
                blocks=blocks.approval_request_blocks(user, summary, estimate, value),
            )
        return Reply(
            f":hourglass: {why.split(':')[0]}. I asked the admins to approve it; you will hear back here.",
            replace_original=True,
        )

    def decide_approval(self, value: str, admin: str, approve: bool) -> Reply:
        if admin not in self.settings.admins:
            return Reply(
                blocks.error_text("Only admins (TUNEBOT_ADMINS) can approve launches."),
                replace_original=False,
            )
        request = json.loads(value)
        if not approve:
            self._tell(request["channel"], request["user"], f"<@{admin}> declined your launch.")
            return Reply(f"Declined; <@{request['user']}> is told.", replace_original=True)
        outcome = self._approved(request, admin)
        said = outcome.text if outcome is not None else "Launched."
        self._tell(request["channel"], request["user"], said)
        return Reply(f"Approved by <@{admin}>. {said}", replace_original=True)

    @replies_errors
    def _approved(self, request: Mapping[str, Any], admin: str) -> Reply:
        return self.start_launch(
            dict(request["plan"]), request["key"], request["user"], request["channel"], approved_by=admin
        )

    def _tell(self, channel: str, user: str, text: str) -> None:
        try:
            self.slack.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as error:
            log.warning("could not tell the requester", extra={"error": error.response.get("error")})

    # --- the launch modal ---------------------------------------------------------------------------

    def open_launch_modal(self, trigger_id: str, user: str, channel: str) -> None:
        """Open at once (the trigger expires in about 3 s), then fill in what the service knows."""
        opened = self.slack.views_open(trigger_id=trigger_id, view=blocks.loading_view())
        prefill: dict[str, Any] = {}
        try:
            last = self.service.list_datasets(created_by=user, limit=1)
            if last:
                prefill["dataset_id"] = last[0]["id"]
                train = int(((last[0].get("report") or {}).get("counts") or {}).get("train", 0))
                prefill["advice"] = self.service.recommendation(train, "11b")
        except ServiceError as error:
            log.info("launch form without prefill", extra={"code": error.code})
        metadata = json.dumps({"channel": channel})
        view = blocks.launch_modal(prefill, metadata)
        self.slack.views_update(view_id=opened["view"]["id"], view=view)

    def modal_command(self, view: Mapping[str, Any], user: str) -> commands.Command:
        """The form's fields as the command a user would have typed, parsed by the same grammar."""
        state = view["state"]["values"]

        def field(name: str) -> str:
            entry = state.get(name, {}).get(name, {})
            return str(entry.get("value") or (entry.get("selected_option") or {}).get("value") or "").strip()

        words = ["launch", shlex.quote(field("dataset") or "?")]
        words += [
            f"{key}={shlex.quote(field(key))}"
            for key in ("model", "epochs", "lr", "eval", "name")
            if field(key)
        ]
        return commands.parse(" ".join(words), user)

    def modal_errors(self, view: Mapping[str, Any], user: str) -> dict[str, Any]:
        """``ack`` arguments: the field to fix and why, or nothing when the form is valid."""
        parsed = self.modal_command(view, user)
        if not isinstance(parsed, commands.UsageError):
            return {}
        message = parsed.message
        name = next((key for key in ("epochs", "lr", "model", "eval", "name") if key in message), "dataset")
        return {"response_action": "errors", "errors": {name: blocks.cut(message, 150)}}

    def modal_submitted(self, view: Mapping[str, Any], user: str) -> None:
        parsed = self.modal_command(view, user)
        if not isinstance(parsed, commands.Launch):
            return
        channel = json.loads(view.get("private_metadata") or "{}").get("channel", "")
        reply = self.launch(parsed, user, channel, f"view:{view.get('id', '')}")
        if reply is not None:
            self.slack.chat_postEphemeral(channel=channel, user=user, text=reply.text, blocks=reply.blocks)

    # --- App Home -----------------------------------------------------------------------------------

    def publish_home(self, user: str) -> None:
        try:
            mine = self.service.list_jobs(requested_by=user, limit=10)["jobs"]
            running = self.service.list_jobs(status="training", limit=20)["jobs"]
        except ServiceError as error:
            log.warning("home not refreshed", extra={"code": error.code})
            return
        self.slack.views_publish(user_id=user, view=blocks.home_view(mine, running))

    # --- lookups ------------------------------------------------------------------------------------

    def find_job(self, ref: str) -> dict[str, Any]:
        """A job by id, else the newest job of that name."""
        try:
            return self.service.get_job(ref)
        except ServiceError as error:
            if error.code != "job_not_found":
                raise
        jobs: list[dict[str, Any]] = self.service.list_jobs(name=ref, limit=1)["jobs"]
        if jobs:
            return jobs[0]
        raise ServiceError(404, "job_not_found", f"No job has the id or name `{ref}`.")
