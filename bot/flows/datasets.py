"""Datasets: the list of recent (or your) datasets."""

from __future__ import annotations

from bot import blocks, commands
from bot.flows.base import BaseFlows, Reply, replies_errors


class DatasetFlows(BaseFlows):
    @replies_errors
    def datasets(self, command: commands.Datasets, user: str) -> Reply:
        found = self.service.list_datasets(created_by=user if command.mine else None, limit=10)
        title = "Your datasets" if command.mine else "Recent datasets"
        return Reply(title, blocks.datasets_blocks(found, title))
