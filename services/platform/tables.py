"""Tables. Plain SQLAlchemy 2 declarative models; the same schema on SQLite and PostgreSQL.

Work that replicas claim carries lease columns (``lease_owner``, ``lease_expires_at``): a row is
claimed by an atomic UPDATE that only succeeds while the lease is free or expired.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.datasets.model import DatasetStatus
from services.evaluation.model import EvaluationStatus
from services.jobs.model import JobStatus

# Where a dataset's, a launch's or a sweep's outcome is posted: the caller's own text, never read here
# (the bot encodes a Slack thread in it). The wire schemas bound it to the same length.
REPLY_TO_LENGTH = 512

# Stable constraint names so Alembic migrations read the same on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class LeaseColumns:
    """Columns of a row that one replica at a time may work on."""

    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]


class Dataset(LeaseColumns, Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(
        String(16), default=DatasetStatus.CHECKING, index=True
    )  # checking|ready|unusable|failed
    source_uri: Mapped[str] = mapped_column(Text)
    s3_uri: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str | None] = mapped_column(String(32))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # A retried upload with the same key answers with the same dataset (migration 0002).
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    reply_to: Mapped[str | None] = mapped_column(String(REPLY_TO_LENGTH))  # opaque: the caller's (0008)
    # While checking: records checked so far and, when the format tells, how many in all (migration 0007).
    records_checked: Mapped[int | None] = mapped_column(Integer)
    records_total: Mapped[int | None] = mapped_column(Integer)


class JobGroup(Base):
    """One launch: a single job, or the 11B/90B pair that is compared when both finish."""

    __tablename__ = "job_groups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64), index=True)
    approved_by: Mapped[str | None] = mapped_column(String(64))
    cost_estimate_usd: Mapped[float | None] = mapped_column(Float)
    reply_to: Mapped[str | None] = mapped_column(String(REPLY_TO_LENGTH))  # opaque: the caller's (0008)
    comparison: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set on the groups a learning-curve sweep launched, one per training size (migration 0006). No
    # foreign key: adding one to an existing SQLite table means rebuilding it; the sweep service sets it.
    sweep_id: Mapped[str | None] = mapped_column(String(32), index=True)
    sweep_train_size: Mapped[int | None] = mapped_column(Integer)

    jobs: Mapped[list[Job]] = relationship(back_populates="group", order_by="Job.model")

    @property
    def cost_note(self) -> str | None:
        """The note on the prices behind the group's estimate: the first of its jobs' notes."""
        return next((job.cost_note for job in self.jobs if job.cost_note), None)


class Sweep(Base):
    """A learning-curve sweep: one launch group per training size on nested subsets of one dataset."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    models: Mapped[list[Any]]  # ["11b", "90b"]
    sizes: Mapped[list[Any]]  # the training sizes, resolved and ascending
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # services.sweeps.model.SweepStatus
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)
    cost_estimate_usd: Mapped[float | None] = mapped_column(Float)
    cost_note: Mapped[str | None] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(String(REPLY_TO_LENGTH))  # opaque: the caller's (0008)
    result: Mapped[dict[str, Any] | None]  # the fitted curves and the verdict, once it ended
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    groups: Mapped[list[JobGroup]] = relationship(
        primaryjoin="Sweep.id == foreign(JobGroup.sweep_id)",
        order_by="JobGroup.sweep_train_size",
        viewonly=True,
    )


class Job(LeaseColumns, Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(ForeignKey("job_groups.id"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    model: Mapped[str] = mapped_column(String(8))  # "11b" | "90b"
    name: Mapped[str] = mapped_column(String(200), unique=True, index=True)  # what users type (0005)
    # pending|queued|submitting|training|evaluating|done|failed|cancelling|cancelled
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING)
    requested_by: Mapped[str] = mapped_column(String(64), index=True)
    evaluate: Mapped[bool] = mapped_column(Boolean, default=True)
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False)

    # Bedrock's side: the names are derived from our id so a retry can find its job again.
    bedrock_job_name: Mapped[str] = mapped_column(String(63), unique=True)
    custom_model_name: Mapped[str] = mapped_column(String(63))
    client_request_token: Mapped[str] = mapped_column(String(64))
    bedrock_job_arn: Mapped[str | None] = mapped_column(Text)
    bedrock_status: Mapped[str | None] = mapped_column(String(16))
    output_model_arn: Mapped[str | None] = mapped_column(Text)
    output_s3_uri: Mapped[str | None] = mapped_column(Text)
    # While Bedrock cannot report the job's status: since when, the last error, and when to ask again
    # (backoff). Past TUNEBOT_STATUS_UNREADABLE_MINUTES the job fails and frees its slot (migration 0004).
    status_unreadable_since: Mapped[datetime | None]
    status_read_error: Mapped[str | None] = mapped_column(Text)
    status_next_read_at: Mapped[datetime | None]

    epochs: Mapped[int] = mapped_column(Integer)
    learning_rate: Mapped[float] = mapped_column(Float)
    recommended_epochs: Mapped[int] = mapped_column(Integer)
    recommended_learning_rate: Mapped[float] = mapped_column(Float)
    cost_estimate_usd: Mapped[float | None] = mapped_column(Float)
    # The estimate the launch showed and the cost cap compared (services.tuning.costs.CostEstimate as
    # JSON): its parts and its note on the prices it used (migration 0003; None on older jobs).
    cost_estimate: Mapped[dict[str, Any] | None]

    failure_message: Mapped[str | None] = mapped_column(Text)
    failure_hint: Mapped[str | None] = mapped_column(Text)
    metrics: Mapped[dict[str, Any] | None]  # loss curves read from the output prefix
    loss_curve_path: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    group: Mapped[JobGroup] = relationship(back_populates="jobs")

    @property
    def cost_note(self) -> str | None:
        """The few words on the prices the estimate rests on (placeholder, unconfirmed), or None."""
        note = (self.cost_estimate or {}).get("note")
        return note if isinstance(note, str) else None

    # Read with the job (selectin), so an API answer can show its scores after the session closed.
    evaluations: Mapped[list[Evaluation]] = relationship(
        viewonly=True, lazy="selectin", order_by="Evaluation.variant"
    )


class Evaluation(LeaseColumns, Base):
    """One model scored on a dataset's test split: the base model or the fine-tuned one."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("job_id", "variant"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    variant: Mapped[str] = mapped_column(String(16))  # "base" | "fine_tuned"
    metric: Mapped[str] = mapped_column(String(16), default="squad")
    status: Mapped[str] = mapped_column(String(16), default=EvaluationStatus.PENDING)
    f1: Mapped[float | None] = mapped_column(Float)
    exact_match: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    provisioned_model_arn: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class EvaluationExample(Base):
    """One prediction, stored as it arrives so a restarted evaluation skips what is done."""

    __tablename__ = "evaluation_examples"
    __table_args__ = (UniqueConstraint("evaluation_id", "example_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(ForeignKey("evaluations.id", ondelete="CASCADE"))
    example_id: Mapped[str] = mapped_column(String(200))
    prediction: Mapped[str | None] = mapped_column(Text)
    f1: Mapped[float] = mapped_column(Float)
    exact_match: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """The outbox: every state change, written in the same transaction as the change itself."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_pending", "acked_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(32), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    leased_by: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    acked_at: Mapped[datetime | None]


class Lease(Base):
    """A named lease (e.g. "poll"): which replica does a scheduled tick."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]
