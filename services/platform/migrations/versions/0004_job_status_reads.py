"""Jobs remember since when Bedrock could not report their status, and when to ask again (backoff).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_unreadable_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("status_next_read_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("status_read_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("status_read_error")
        batch_op.drop_column("status_next_read_at")
        batch_op.drop_column("status_unreadable_since")
