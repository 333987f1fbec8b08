"""A dataset being checked keeps its progress: records checked so far and, when known, how many in all.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("records_checked", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("records_total", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("records_total")
        batch_op.drop_column("records_checked")
