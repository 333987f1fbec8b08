"""Sweeps and the gallery: the sweep's card and start, its verdict again, and a job's examples."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from bot import blocks, commands, policy, reply_to
from bot.flows.base import Reply, replies_errors
from bot.flows.cards import Where
from bot.flows.jobs import JobFlows
from bot.flows.launch import LaunchFlows
from services.api.schemas import SweepOut
from services.client import ServiceError

log = logging.getLogger(__name__)


class SweepFlows(JobFlows, LaunchFlows):
    @replies_errors
    def sweep(self, command: commands.Sweep, user: str, channel: str, trigger_id: str) -> Reply:
        if not policy.launch_allowed_in(channel, self.settings.allowed_channels):
            where = ", ".join(f"<#{allowed}>" for allowed in self.settings.allowed_channels)
            return Reply(blocks.error_text(f"Sweeps happen only in {where}.", "Run the command there."))
        dataset = self._dataset(command.dataset, user)  # LaunchFlows: by id, or `last`
        estimate = self.service.estimate_sweep(
            dataset_id=dataset.id, sizes=list(command.sizes), models=list(command.models)
        )
        # The card's own key: a second click (or a Slack retry) on this card is the same sweep.
        value = blocks.sweep_value(estimate, f"sweep-card:{trigger_id or channel + ':' + user}")
        return Reply("Confirm the sweep", blocks.sweep_card(estimate, value))

    @replies_errors
    def confirm_sweep(self, value: str, user: str, channel: str) -> Reply:
        if not policy.launch_allowed_in(channel, self.settings.allowed_channels):
            return Reply(blocks.error_text("Sweeps start only in the launch channels."))
        request = json.loads(value)
        return self.start_sweep(request["sweep"], request["key"], user, channel)

    def start_sweep(
        self, plan: Mapping[str, Any], key: str, user: str, channel: str, approved_by: str | None = None
    ) -> Reply:
        try:
            sweep = self.service.start_sweep(
                key,
                dataset_id=plan["dataset_id"],
                sizes=list(plan["sizes"]),
                models=list(plan["models"]),
                requested_by=user,
                approved_by=approved_by,
                reply_to=reply_to.encode(channel),
            )
        except ServiceError as error:
            if error.code != "approval_required":
                raise
            return self.ask_approval({**plan, "sweep": True}, key, user, Where(channel), error.message, True)
        return Reply(blocks.sweep_started_text(sweep), replace_original=True)

    def ask_approval(
        self, plan: Mapping[str, Any], key: str, user: str, where: Where, why: str, replace_card: bool = False
    ) -> Reply:
        """A sweep above the cap goes to the admins like a launch, with the whole sweep's estimate."""
        if not plan.get("sweep"):
            return super().ask_approval(plan, key, user, where, why, replace_card)
        channel = where.channel
        if not policy.approval_can_be_asked(self.settings.admins):
            return Reply(blocks.error_text(why), replace_original=False)
        value = json.dumps(
            {"plan": plan, "key": key, "user": user, "channel": channel}, separators=(",", ":")
        )
        estimate = self.service.estimate_sweep(
            dataset_id=plan["dataset_id"], sizes=list(plan["sizes"]), models=list(plan["models"])
        )
        summary = blocks.sweep_summary(estimate)
        return self.ask_admins(user, summary, estimate, value, why, replace_card=True)

    @replies_errors
    def _approved(self, request: Mapping[str, Any], admin: str) -> Reply | None:
        plan = dict(request["plan"])
        if plan.pop("sweep", None):
            return self.start_sweep(
                plan, request["key"], request["user"], request["channel"], approved_by=admin
            )
        return super()._approved(request, admin)

    def sweep_or_none(self, ref: str) -> SweepOut | None:
        try:
            return self.service.get_sweep(ref)
        except ServiceError as error:
            if error.code in ("sweep_not_found", "invalid_request", "validation_error"):
                return None
            raise

    def sweep_verdict(self, sweep: SweepOut, channel: str) -> Reply:
        """``/finetune compare <sweep>``: the verdict again, and its chart into the channel."""
        chart = self.service.sweep_chart(sweep.id) if sweep.verdict else None
        if chart is not None and channel:
            self.slack.files_upload_v2(
                channel=channel,
                content=chart,
                filename=f"{sweep.dataset_name}-learning-curve.png",
                title=f"{sweep.dataset_name}: learning curve",
            )
        return Reply(f"Sweep of {sweep.dataset_name}: {sweep.status}", blocks.verdict_blocks(sweep))

    @replies_errors
    def examples(self, command: commands.Examples, channel: str) -> Reply:
        """``/finetune examples <job|group>``: the gallery image, into the channel."""
        png, name = self._gallery(command.target)
        if png is None:
            return Reply(
                blocks.error_text(
                    f"`{command.target}` has no examples to show yet.",
                    "A job shows its examples once its base and fine-tuned models are scored.",
                )
            )
        self.slack.files_upload_v2(
            channel=channel, content=png, filename=f"{name}-examples.png", title=f"{name}: examples"
        )
        return Reply(f":frame_with_picture: The examples of {name} are in the channel.")

    def _gallery(self, ref: str) -> tuple[bytes | None, str]:
        try:
            job = self.find_job(ref)
        except ServiceError as error:
            if error.code != "job_not_found":
                raise
            group = self.service.get_group(ref)
            return self.service.group_gallery(group.id, "all"), ref
        group = self.service.get_group(job.group_id)
        if len(group.jobs) == 2:
            return self.service.group_gallery(group.id, "all"), job.name.removesuffix(f"-{job.model}")
        return self.service.job_gallery(job.id, "all"), job.name
