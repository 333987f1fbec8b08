"""Jobs: status, history, compare and cancel."""

from __future__ import annotations

import json

from bot import blocks, commands, policy
from bot.flows.base import BaseFlows, Reply, replies_errors
from services.api.schemas import GroupOut, JobOut, JobStatus
from services.client import ServiceError


class JobFlows(BaseFlows):
    @replies_errors
    def status(self, command: commands.Status) -> Reply:
        job = self.find_job(command.job)
        return Reply(f"{job.name}: {job.status}", blocks.job_card(job))

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
        if page.next_before:
            more = json.dumps(
                {
                    "u": command.user,
                    "s": command.status,
                    "m": command.model,
                    "l": command.limit,
                    "b": page.next_before,
                },
                separators=(",", ":"),
            )
        title = "Jobs of " + (f"<@{command.user}>" if command.user else "everyone")
        if command.status or command.model:
            title += " (" + ", ".join(x for x in (command.status, command.model) if x) + ")"
        return Reply(title, blocks.history_blocks(page.jobs, more, title))

    def history_more(self, value: str) -> Reply | None:
        state = json.loads(value)
        status = JobStatus(state["s"]) if state["s"] else None
        command = commands.History(state["u"], status, state["m"], int(state["l"]))
        return self.history(command, before=state["b"])

    @replies_errors
    def compare(self, command: commands.Compare) -> Reply:
        if command.group is not None:
            group = self.service.get_group(command.group)
            return self._group_comparison(group)
        assert command.jobs is not None
        first, second = (self.find_job(ref) for ref in command.jobs)
        unfinished = [job for job in (first, second) if not job.final]
        if unfinished:
            names = ", ".join(f"{job.name} is {job.status}" for job in unfinished)
            return Reply(blocks.error_text(f"Compare needs finished jobs: {names}.", "Try again when done."))
        if first.group_id == second.group_id:
            return self._group_comparison(self.service.get_group(first.group_id))
        return Reply(f"{first.name} vs {second.name}", blocks.job_pair_blocks(first, second))

    def _group_comparison(self, group: GroupOut) -> Reply:
        if group.comparison:
            return Reply("11B vs 90B", blocks.comparison_blocks(group.comparison))
        waiting = [job for job in group.jobs if not job.final]
        if waiting:
            names = ", ".join(f"{job.name} is {job.status}" for job in waiting)
            return Reply(
                blocks.error_text(f"No comparison yet: {names}.", "It is posted in the thread when done.")
            )
        if len(group.jobs) == 2:
            return Reply("Comparison", blocks.job_pair_blocks(group.jobs[0], group.jobs[1]))
        return Reply(
            blocks.error_text(
                "That launch has one job: nothing to compare.", "Try `/finetune compare <job> <job>`."
            )
        )

    @replies_errors
    def cancel(self, command: commands.Cancel, user: str) -> Reply:
        job = self.find_job(command.job)
        if not policy.may_cancel(job.requested_by, user, self.settings.admins):
            return self._not_yours(job)
        if not job.cancellable:  # the service's state machine decides, as sent with the job
            return Reply(
                blocks.error_text(
                    f"{job.name} is {job.status}: only waiting or training jobs can be cancelled."
                )
            )
        return Reply(f"Cancel {job.name}?", blocks.cancel_confirm_blocks(job))

    @replies_errors
    def confirm_cancel(self, job_id: str, user: str) -> Reply:
        job = self.service.get_job(job_id)
        if not policy.may_cancel(job.requested_by, user, self.settings.admins):
            return self._not_yours(job)
        job = self.service.cancel_job(job_id, requested_by=user)
        return Reply(
            f"{job.name} is {job.status}. Updates follow in its launch thread.", replace_original=True
        )

    def _not_yours(self, job: JobOut) -> Reply:
        admins = ", ".join(f"<@{admin}>" for admin in self.settings.admins) or "an admin"
        return Reply(
            blocks.error_text(
                f"Only <@{job.requested_by}> (who launched {job.name}) or {admins} can cancel it.",
                f"Ask them, or see it with `/finetune status {job.name}`.",
            )
        )

    def find_job(self, ref: str) -> JobOut:
        """The job whose id or name is ``ref`` (names are unique; the service resolves either)."""
        try:
            return self.service.get_job(ref)
        except ServiceError as error:
            if error.code not in ("job_not_found", "invalid_request"):
                raise
        # Not found, or not even a shape a name can have: either way, nothing by that name.
        raise ServiceError(404, "job_not_found", f"No job has the id or name `{ref}`.")
