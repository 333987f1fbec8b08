"""Learning-curve sweeps: one row per sweep, and the launch groups it made point back at it.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("sizes", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("cost_estimate_usd", sa.Float(), nullable=True),
        sa.Column("cost_note", sa.Text(), nullable=True),
        sa.Column("slack_channel", sa.String(length=32), nullable=True),
        sa.Column("slack_thread_ts", sa.String(length=32), nullable=True),
        sa.Column("slack_message_ts", sa.String(length=32), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_sweeps_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sweeps")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_sweeps_idempotency_key")),
    )
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sweeps_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sweeps_status"), ["status"], unique=False)
    # Existing groups are plain launches: both new columns stay NULL for them. Plain ADD COLUMNs, no
    # foreign key: SQLite could add one only by rebuilding job_groups, which the jobs rows refer to.
    with op.batch_alter_table("job_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sweep_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("sweep_train_size", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_job_groups_sweep_id"), ["sweep_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_groups_sweep_id"))
        batch_op.drop_column("sweep_train_size")
        batch_op.drop_column("sweep_id")
    with op.batch_alter_table("sweeps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sweeps_status"))
        batch_op.drop_index(batch_op.f("ix_sweeps_dataset_id"))
    op.drop_table("sweeps")
