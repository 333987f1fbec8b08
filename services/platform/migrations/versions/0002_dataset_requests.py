"""Datasets remember who asked where: an idempotency key for retried uploads, and the Slack thread.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("slack_channel", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("slack_thread_ts", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_datasets_idempotency_key"), ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_datasets_idempotency_key"), type_="unique")
        batch_op.drop_column("slack_thread_ts")
        batch_op.drop_column("slack_channel")
        batch_op.drop_column("idempotency_key")
