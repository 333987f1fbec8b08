"""Migration 0005 makes job names unique and carries older rows over: a duplicate name gets -2, -3 …
Runs on SQLite, and on PostgreSQL when TUNEBOT_TEST_DATABASE_URL is set. The database holds an
evaluation, as any database of a deployment that scored a job does: on SQLite a rebuild of `jobs`
would fail on its foreign key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.platform.db import make_engine, make_session_factory, unit_of_work
from services.platform.migrate import current_revision, head_revision, upgrade
from services.platform.tables import Dataset, Evaluation, Job, JobGroup, new_id, utcnow


def _job(group: JobGroup, name: str, number: int) -> Job:
    return Job(
        group_id=group.id,
        dataset_id=group.dataset_id,
        model="11b",
        name=name,
        requested_by="U1",
        bedrock_job_name=f"tunebot-{number}",
        custom_model_name=f"tunebot-{number}",
        client_request_token=str(number),
        epochs=8,
        learning_rate=1e-5,
        recommended_epochs=8,
        recommended_learning_rate=1e-5,
        created_at=utcnow() + timedelta(seconds=number),
    )


def test_older_duplicate_names_are_numbered_and_new_duplicates_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0004")
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        # Core inserts of the columns 0004 has: the mapped classes also know columns later migrations add.
        dataset_id = new_id()
        session.execute(
            insert(Dataset.__table__).values(
                id=dataset_id,
                name="charts.zip",
                status="ready",
                source_uri="s3://b/charts.zip",
                options={},
                created_by="U1",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        group_id = new_id()
        session.execute(
            insert(JobGroup.__table__).values(
                id=group_id,
                idempotency_key="k1",
                dataset_id=dataset_id,
                requested_by="U1",
                created_at=utcnow(),
            )
        )
        group = JobGroup(id=group_id, dataset_id=dataset_id)
        # Before 0005 a name was not unique, and "charts.zip-11b-2" is already somebody's name.
        names = ["charts.zip-11b", "charts.zip-11b", "charts.zip-11b-2", "charts.zip-11b", "other"]
        jobs = [_job(group, name, number) for number, name in enumerate(names)]
        session.add_all(jobs)
        session.flush()
        session.execute(
            insert(Evaluation.__table__).values(
                id=new_id(), job_id=jobs[0].id, variant="fine_tuned", status="done", f1=61.5, count=10
            )
        )

    upgrade(engine)

    assert current_revision(engine) == head_revision()  # 0005 and whatever follows it
    with sessions() as session:
        kept = list(session.scalars(select(Job.name).order_by(Job.created_at)))
    assert kept == ["charts.zip-11b", "charts.zip-11b-3", "charts.zip-11b-2", "charts.zip-11b-4", "other"]
    with sessions() as session:
        scored = session.scalars(select(Evaluation)).one()
        assert (scored.job_id, scored.f1) == (jobs[0].id, 61.5)  # the evaluation came through untouched
    with pytest.raises(IntegrityError), unit_of_work(sessions) as session:
        group_row = session.scalars(select(JobGroup)).one()
        session.add(_job(group_row, "other", 99))
    engine.dispose()
