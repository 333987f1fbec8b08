"""The ``/finetune`` command: ``Flows`` combines every feature's flows and routes a parsed command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import blocks, commands
from bot.flows.base import Reply
from bot.flows.datasets import DatasetFlows
from bot.flows.greeting import GreetingFlows
from bot.flows.home import HomeFlows
from bot.flows.jobs import JobFlows
from bot.flows.modal import ModalFlows
from bot.flows.sweeps import SweepFlows


class Flows(SweepFlows, JobFlows, DatasetFlows, ModalFlows, HomeFlows, GreetingFlows):
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
            sweep = self.sweep_or_none(parsed.group) if parsed.group is not None else None
            return self.sweep_verdict(sweep, channel) if sweep is not None else self.compare(parsed)
        if isinstance(parsed, commands.Sweep):
            return self.sweep(parsed, user, channel, command.get("trigger_id", ""))
        if isinstance(parsed, commands.Examples):
            return self.examples(parsed, channel)
        return self.datasets(parsed, user)
