"""Job names are unique, so a name people type finds one job: older duplicates get -2, -3 … first.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    connection = op.get_bind()
    jobs = sa.table(
        "jobs", sa.column("id", sa.String), sa.column("name", sa.String), sa.column("created_at", sa.DateTime)
    )
    rows = connection.execute(sa.select(jobs.c.id, jobs.c.name).order_by(jobs.c.created_at, jobs.c.id)).all()
    taken = {name for _id, name in rows}
    seen: set[str] = set()
    for job_id, name in rows:
        if name not in seen:
            seen.add(name)
            continue
        # The oldest job keeps its name; a later one with the same name gets the first free "-N".
        number = 2
        while f"{name}-{number}"[:200] in taken:
            number += 1
        renamed = f"{name}-{number}"[:200]
        taken.add(renamed)
        seen.add(renamed)
        connection.execute(sa.update(jobs).where(jobs.c.id == job_id).values(name=renamed))
    # A unique index, not a unique constraint: on SQLite a constraint means rebuilding `jobs`, and the
    # rebuild's DROP TABLE fails while `evaluations` rows point at it with foreign keys on.
    op.create_index(op.f("ix_jobs_name"), "jobs", ["name"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_name"), table_name="jobs")
