"""Where a result is posted is one opaque ``reply_to`` the bot writes and reads, not three Slack columns.

Datasets, launch groups and sweeps get ``reply_to`` (at most 512 characters), filled from
``slack_channel``, ``slack_thread_ts`` and ``slack_message_ts`` in the bot's format (compact JSON:
``{"channel":…,"thread_ts":…,"message_ts":…}``, absent parts left out; see bot/reply_to.py), and the
three columns are dropped. ``dataset.checked`` events carry ``reply_to`` in their payload the same way.
The downgrade restores the columns from ``reply_to`` (a value the bot did not write restores as NULLs).

Revision ID: 0008
"""

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

# The tables and the Slack columns each had (datasets never had a message ts).
TABLES = {
    "datasets": ("channel", "thread_ts"),
    "job_groups": ("channel", "thread_ts", "message_ts"),
    "sweeps": ("channel", "thread_ts", "message_ts"),
}
REPLY_TO_LENGTH = 512


def _json_string(column: str) -> str:
    """SQL for ``column`` as a JSON string literal; Slack ids hold no control characters, and the
    API allowed none, so escaping the backslash and the quote is enough."""
    escaped = f"REPLACE(REPLACE({column}, '\\', '\\\\'), '\"', '\\\"')"
    return f"'\"' || {escaped} || '\"'"


def _reply_to_sql(parts: tuple[str, ...]) -> str:
    """SQL (SQLite and PostgreSQL alike: ``||``, CASE, REPLACE, SUBSTR) building the bot's compact JSON
    from the Slack columns, leaving out the NULL ones; NULL when all are NULL."""
    members = [
        f"CASE WHEN slack_{part} IS NULL THEN '' ELSE ',\"{part}\":' || {_json_string(f'slack_{part}')} END"
        for part in parts
    ]
    joined = " || ".join(members)
    any_set = " OR ".join(f"slack_{part} IS NOT NULL" for part in parts)
    # Every member starts with a comma: drop the first one.
    return f"CASE WHEN {any_set} THEN '{{' || SUBSTR({joined}, 2) || '}}' ELSE NULL END"


def upgrade() -> None:
    # Native ADD/DROP COLUMN (SQLite 3.35+), not batch mode: on SQLite batch mode rebuilds the table,
    # and dropping `datasets` or `job_groups` fails while rows point at them with foreign keys on.
    for table, parts in TABLES.items():
        op.add_column(table, sa.Column("reply_to", sa.String(length=REPLY_TO_LENGTH), nullable=True))
        op.execute(f"UPDATE {table} SET reply_to = {_reply_to_sql(parts)}")  # built of constants only
        for part in parts:
            op.drop_column(table, f"slack_{part}")
    _rewrite_dataset_events(_payload_to_reply_to)


def downgrade() -> None:
    connection = op.get_bind()
    for table, parts in TABLES.items():
        for part in parts:
            op.add_column(table, sa.Column(f"slack_{part}", sa.String(length=32), nullable=True))
        rows = sa.table(table, sa.column("id", sa.String), sa.column("reply_to", sa.String),
                        *(sa.column(f"slack_{part}", sa.String) for part in parts))  # fmt: skip
        for row_id, reply_to in connection.execute(
            sa.select(rows.c.id, rows.c.reply_to).where(rows.c.reply_to.is_not(None))
        ).all():
            where = _parse(reply_to)
            values = {f"slack_{part}": where.get(part) for part in parts}
            connection.execute(sa.update(rows).where(rows.c.id == row_id).values(**values))
        op.drop_column(table, "reply_to")
    _rewrite_dataset_events(_payload_to_slack)


def _parse(reply_to: str) -> dict[str, str]:
    """The Slack parts of a reply_to the bot wrote; an empty mapping for anything else."""
    try:
        where = json.loads(reply_to)
    except ValueError:
        return {}
    if not isinstance(where, dict):
        return {}
    return {key: value[:32] for key, value in where.items() if isinstance(value, str)}


Payload = dict[str, Any]
EVENT_PARTS = ("channel", "thread_ts")  # what a dataset.checked event named


def _payload_to_reply_to(payload: Payload) -> Payload:
    """The event's Slack keys replaced by its reply_to, as the bot writes it (json.dumps compact, in the
    bot's key order: the same text the SQL above builds)."""
    where = {part: payload.pop(f"slack_{part}", None) for part in EVENT_PARTS}
    parts = {part: value for part, value in where.items() if value}
    payload["reply_to"] = json.dumps(parts, separators=(",", ":")) if parts else None
    return payload


def _payload_to_slack(payload: Payload) -> Payload:
    where = _parse(payload.pop("reply_to", None) or "")
    payload.update({f"slack_{part}": where.get(part) for part in EVENT_PARTS})
    return payload


def _rewrite_dataset_events(rewrite: Callable[[Payload], Payload]) -> None:
    """The outbox's ``dataset.checked`` events name where to post in their payload: carry them over, so
    an event still waiting for the bot is posted where its dataset came from."""
    connection = op.get_bind()
    events = sa.table("events", sa.column("id", sa.Integer), sa.column("type", sa.String),
                      sa.column("payload", sa.JSON))  # fmt: skip
    for event_id, payload in connection.execute(
        sa.select(events.c.id, events.c.payload).where(events.c.type == "dataset.checked")
    ).all():
        connection.execute(
            sa.update(events).where(events.c.id == event_id).values(payload=rewrite(dict(payload or {})))
        )
