"""Edges: the chat front-ends that plug into `tunebot serve` (the Slack bot is one).

The service never imports an edge. An edge registers itself under the entry-point group
``tunebot.edges`` in pyproject.toml; `tunebot serve` discovers it there, mounts its routes and starts
and stops it with the server. This keeps the dependency pointing one way: bot -> services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Protocol

from fastapi import APIRouter

from services.platform.config import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tunebot.edges"


class Edge(Protocol):
    """What `tunebot serve` needs from a front-end."""

    name: str

    def router(self) -> APIRouter | None:
        """HTTP routes to mount (e.g. /slack/events), or None."""

    def start(self) -> None:
        """Begin background work (a Socket Mode connection, event delivery)."""

    def stop(self) -> None:
        """Finish in-flight work and stop; called once on shutdown."""


EdgeFactory = Callable[[Settings], Edge | None]


def load_edges(settings: Settings) -> list[Edge]:
    """Build every installed edge; a factory returns None when its edge is not configured."""
    edges: list[Edge] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        factory: EdgeFactory = entry.load()
        edge = factory(settings)
        if edge is not None:
            edges.append(edge)
    return edges
