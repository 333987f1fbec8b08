"""The launch: recommendation, the confirmation card, report buttons, approval, and the launch form."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import blocks, commands, policy, reply_to
from bot.flows.base import Reply, replies_errors
from bot.flows.cards import CardFlows, ReportMessage, Where
from services.api.schemas import DatasetOut, DatasetStatus, EstimateOut, Recommendation
from services.client import ServiceError

log = logging.getLogger(__name__)


class LaunchFlows(CardFlows):
    @replies_errors
    def recommend(self, command: commands.Recommend) -> Reply:
        advice = self.service.recommendation(command.examples, command.model)
        return Reply(
            f"Recommendation for {command.examples:,} examples", blocks.recommendation_blocks(advice)
        )

    def launch_allowed_in(self, channel: str) -> bool:
        settings = self.settings
        return policy.launch_allowed_in(channel, settings.allowed_channels, settings.allow_dms)

    def _refuse_channel(self) -> Reply:
        where = ", ".join(f"<#{channel}>" for channel in self.settings.allowed_channels)
        if not where:  # no allow-list, and TUNEBOT_ALLOW_DMS=false: any channel with the bot in it
            refusal = blocks.error_text("Launches do not happen in direct messages.", "Run it in a channel.")
            return Reply(refusal)
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
            accepted = self.service.dataset_from_uri(
                command.dataset, created_by=user, reply_to=reply_to.encode(channel)
            )
            return Reply(
                f":mag: Checking `{command.dataset}` as dataset `{accepted.id}`: its report comes to this "
                "channel with launch buttons."
            )
        dataset = self._dataset(command.dataset, user)
        if dataset.status != DatasetStatus.READY:
            return Reply(
                blocks.error_text(
                    f"Dataset `{dataset.id}` is {dataset.status}, not ready.",
                    "Check it with `/finetune datasets`, or share a fixed file.",
                )
            )
        plan: dict[str, Any] = {
            "dataset_id": dataset.id,
            "models": list(command.models),
            "epochs": command.epochs,
            "learning_rate": command.learning_rate,
            "evaluate": command.evaluate,
            "name": command.name,
            # The card's own key: a second click (or a Slack retry) on this card is the same launch.
            "key": f"card:{trigger_id or channel + ':' + user}",
        }
        # The service's estimate for exactly these values: the figures the launch stores and the cap checks.
        estimate = self.estimate(plan)
        train = int(((dataset.report or {}).get("counts") or {}).get("train", 0))
        advice = {model: self.service.recommendation(train, model) for model in command.models}
        card = blocks.launch_card(
            dataset, estimate, advice, blocks.launch_value(plan), evaluate=command.evaluate
        )
        return Reply("Confirm the launch", card)

    def _dataset(self, ref: str, user: str) -> DatasetOut:
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

    def estimate(self, plan: Mapping[str, Any]) -> EstimateOut:
        return self.service.estimate_launch(
            dataset_id=plan["dataset_id"],
            models=list(plan["models"]),
            epochs=plan.get("epochs"),
            learning_rate=plan.get("learning_rate"),
            evaluate=plan.get("evaluate", True),
        )

    @replies_errors
    def confirm_launch(self, value: str, user: str, channel: str) -> Reply:
        if not self.launch_allowed_in(channel):
            return self._refuse_channel()
        plan = json.loads(value)
        # The card was the clicker's own ephemeral message: replacing it rewrites nobody else's view.
        return self.start_launch(plan, plan.pop("key"), user, Where(channel), replace_card=True)

    @replies_errors
    def launch_from_report(self, value: str, user: str, report: ReportMessage) -> Reply:
        """A Launch button of a shared report: the report stays; its buttons' row says who launched
        what, the launch's card starts in the report's thread, and the clicker is told privately."""
        if not self.launch_allowed_in(report.channel):
            return self._refuse_channel()
        dataset_id, _, choice = value.partition(":")
        models = ["11b", "90b"] if choice == "both" else [choice]
        plan = {"dataset_id": dataset_id, "models": models, "evaluate": True}
        key = f"report:{report.channel}:{report.ts}:{choice}"
        launched = self.start_launch(plan, key, user, Where(report.channel, report.thread_ts))
        if launched.card_link is not None and report.shown:
            self.mark_report_launched(report, dataset_id, user, models, launched.card_link)
        return launched

    def start_launch(
        self,
        plan: dict[str, Any],
        key: str,
        user: str,
        where: Where,
        approved_by: str | None = None,
        replace_card: bool = False,
    ) -> Reply:
        """Launch once per ``key``. The card is posted first (in ``where``'s thread when it has one) and
        handed to the launch, so delivery updates that very message and the reply can link to it."""
        card_ts = where.card_ts or self.post_card_placeholder(plan, user, where)
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
                reply_to=reply_to.encode(where.channel, where.thread_ts, card_ts),
                approved_by=approved_by,
            )
        except ServiceError as error:
            if error.code != "approval_required" or not policy.approval_can_be_asked(self.settings.admins):
                self.withdraw_card(where.channel, card_ts)
                raise
            # The card stays and says what it waits for; the admin's approval launches into it.
            self.revise_card(where.channel, card_ts, blocks.waiting_text(plan, user))
            waiting = Where(where.channel, where.thread_ts, card_ts)
            return self.ask_approval(plan, key, user, waiting, error.message, replace_card)
        if not result.created:
            # A second click (or a retry) of the same launch: the first click's card stands.
            self.withdraw_card(where.channel, card_ts)
            group = self.service.get_group(result.group_id)
            first = reply_to.decode(group.reply_to, subject=f"launch group {group.id}")
            card_ts = first.message_ts if first else None
        link = self.permalink(where.channel, card_ts)
        text = blocks.launched_text(result, link)
        return Reply(text, replace_original=replace_card, card_link=link if result.created else None)

    def ask_approval(
        self, plan: Mapping[str, Any], key: str, user: str, where: Where, why: str, replace_card: bool = False
    ) -> Reply:
        request: dict[str, Any] = {"plan": plan, "key": key, "user": user, "channel": where.channel}
        request |= {"thread": where.thread_ts, "card": where.card_ts}
        value = json.dumps(request, separators=(",", ":"))
        summary = f"{' + '.join(m.upper() for m in plan['models'])} on dataset `{plan['dataset_id']}`"
        # The same estimate the requester saw (and the cap compared), computed again by the service.
        return self.ask_admins(user, summary, self.estimate(plan), value, why, replace_card)

    def decide_approval(self, value: str, admin: str, approve: bool) -> Reply:
        if not policy.may_approve(admin, self.settings.admins):
            return Reply(
                blocks.error_text("Only admins (TUNEBOT_ADMINS) can approve launches."),
                replace_original=False,
            )
        request = json.loads(value)
        if not approve:
            declined = blocks.declined_text(request["plan"], request["user"], admin)
            self.revise_card(request["channel"], request.get("card"), declined)
            self._tell(request["channel"], request["user"], f"<@{admin}> declined your launch.")
            return Reply(f"Declined; <@{request['user']}> is told.", replace_original=True)
        outcome = self._approved(request, admin)
        said = outcome.text if outcome is not None else "Launched."
        self._tell(request["channel"], request["user"], said)
        return Reply(f"Approved by <@{admin}>. {said}", replace_original=True)

    @replies_errors
    def _approved(self, request: Mapping[str, Any], admin: str) -> Reply:
        where = Where(request["channel"], request.get("thread"), request.get("card"))
        return self.start_launch(
            dict(request["plan"]), request["key"], request["user"], where, approved_by=admin
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
        dataset_id: str | None = None
        advice: Recommendation | None = None
        try:
            last = self.service.list_datasets(created_by=user, limit=1)
            if last:
                dataset_id = last[0].id
                train = int(((last[0].report or {}).get("counts") or {}).get("train", 0))
                advice = self.service.recommendation(train, "11b")
        except ServiceError as error:
            log.info("launch form without prefill", extra={"code": error.code})
        metadata = json.dumps({"channel": channel})
        view = blocks.launch_modal(dataset_id, advice, metadata)
        self.slack.views_update(view_id=opened["view"]["id"], view=view)
