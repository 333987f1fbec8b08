"""What the listeners delegate to, one module per feature: validate, call the job service, say what to reply.

base (Reply, the error-to-reply rule, SeenIds), jobs, datasets, launch (with approval and the form),
cards (a launch's card and the report's launched row),
home, greeting (DMs and mentions), and slash (``Flows``: every feature combined, the ``/finetune``
router). Decisions of who may do what are in ``bot.policy``; the service's answers arrive as the wire
schemas' models (``services.api.schemas``).
"""

from __future__ import annotations

from bot.flows.base import Reply, SeenIds, failure, replies_errors
from bot.flows.cards import ReportMessage, Where
from bot.flows.slash import Flows

__all__ = ["Flows", "Reply", "ReportMessage", "SeenIds", "Where", "failure", "replies_errors"]
