"""The schema migrates up from empty, and the claim primitives (outbox, leases) hold under contention.
Runs on SQLite, and on PostgreSQL when TUNEBOT_TEST_DATABASE_URL is set."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker

from services.platform import leases, outbox
from services.platform.db import make_engine, unit_of_work
from services.platform.migrate import current_revision, head_revision, upgrade
from services.platform.tables import Dataset, Event, Job, JobGroup, Lease, utcnow
from tests.conftest import TUNEBOT_BIN

TABLES = {"datasets", "job_groups", "jobs", "evaluations", "evaluation_examples", "events", "leases"}


def test_migrations_create_every_table_from_empty_and_rerun_harmlessly(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    upgrade(engine)
    upgrade(engine)  # every start runs it again
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) >= TABLES
    lease_columns = {column["name"] for column in inspect(engine).get_columns("jobs")}
    assert {"lease_owner", "lease_expires_at"} <= lease_columns
    engine.dispose()


def test_db_upgrade_command_migrates(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEBOT_DATABASE_URL", database_url)
    result = subprocess.run([TUNEBOT_BIN, "db", "upgrade"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database at revision {head_revision()}"


def test_db_upgrade_on_an_unreachable_database_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TUNEBOT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = subprocess.run([TUNEBOT_BIN, "db", "upgrade"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("database upgrade failed: OperationalError")
    assert "Traceback" not in result.stderr


def _dataset_with_job(session: Session) -> Job:
    dataset = Dataset(name="charts", source_uri="s3://b/charts", created_by="U1")
    session.add(dataset)
    session.flush()
    group = JobGroup(idempotency_key="k1", dataset_id=dataset.id, requested_by="U1")
    session.add(group)
    session.flush()
    job = Job(
        group_id=group.id,
        dataset_id=dataset.id,
        model="11b",
        name="charts-11b",
        requested_by="U1",
        bedrock_job_name="tunebot-abc",
        custom_model_name="tunebot-abc",
        client_request_token="abc",
        epochs=8,
        learning_rate=1e-5,
        recommended_epochs=8,
        recommended_learning_rate=1e-5,
    )
    session.add(job)
    return job


def test_rows_round_trip_with_utc_timestamps_and_json(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        job = _dataset_with_job(session)
        job.metrics = {"training_loss": [2.5, 1.25]}
    with sessions() as session:
        stored = session.scalars(select(Job)).one()
        assert stored.metrics == {"training_loss": [2.5, 1.25]}
        assert stored.created_at.tzinfo is not None
        assert stored.status == "pending"
        assert stored.group.requested_by == "U1"


def test_an_event_commits_or_rolls_back_with_its_change(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), unit_of_work(sessions) as session:
        job = _dataset_with_job(session)
        outbox.record(session, "job.queued", job.id)
        raise RuntimeError("crash before commit")
    with sessions() as session:
        assert session.scalars(select(Event)).all() == []
        assert session.scalars(select(Job)).all() == []


def test_two_consumers_never_claim_the_same_event(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        for number in range(40):
            outbox.record(session, "job.status", f"job{number}", status="training")

    def consume(name: str) -> list[int]:
        taken: list[int] = []
        while True:
            with unit_of_work(sessions) as session:
                batch = outbox.claim(session, name, limit=3, lease_seconds=60)
                taken.extend(event.id for event in batch)
            with unit_of_work(sessions) as session:
                for event in batch:
                    assert outbox.acknowledge(session, event.id, name)
            if not batch:
                return taken

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(consume, ["bot-a", "bot-b"])
    assert not set(first) & set(second)
    assert len(first) + len(second) == 40


def test_a_launchs_events_go_to_one_consumer_at_a_time_in_order(sessions: sessionmaker[Session]) -> None:
    # Two bots share the outbox; a launch's events share one Slack thread, so the second must not be posted
    # by one bot while the first is still on its way with the other.
    with unit_of_work(sessions) as session:
        first = outbox.record(session, "job.created", "job1", group_id="g1")
        other = outbox.record(session, "job.created", "job9", group_id="g2")
        second = outbox.record(session, "job.submitted", "job1", group_id="g1")
        session.flush()
        ids = (first.id, other.id, second.id)
    with unit_of_work(sessions) as session:
        assert [e.id for e in outbox.claim(session, "bot-a", 1, lease_seconds=60)] == [ids[0]]
    with unit_of_work(sessions) as session:
        assert [e.id for e in outbox.claim(session, "bot-b", 10, lease_seconds=60)] == [ids[1]]
    with unit_of_work(sessions) as session:
        assert outbox.acknowledge(session, ids[0], "bot-a")
    with unit_of_work(sessions) as session:
        assert [e.id for e in outbox.claim(session, "bot-b", 10, lease_seconds=60)] == [ids[1], ids[2]]


def test_an_unacknowledged_event_is_delivered_again_after_its_lease_expires(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as session:
        outbox.record(session, "job.completed", "job1")
        session.flush()
        event_id = session.scalars(select(Event.id)).one()
    with unit_of_work(sessions) as session:
        assert [e.id for e in outbox.claim(session, "bot-a", 10, lease_seconds=60)] == [event_id]
    with unit_of_work(sessions) as session:
        assert outbox.claim(session, "bot-b", 10, lease_seconds=60) == []
        # bot-a crashed: its lease runs out
        session.get_one(Event, event_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    with unit_of_work(sessions) as session:
        assert [e.id for e in outbox.claim(session, "bot-b", 10, lease_seconds=60)] == [event_id]
        assert outbox.acknowledge(session, event_id, "bot-a") is False  # bot-b holds it now
    with unit_of_work(sessions) as session:
        assert outbox.acknowledge(session, event_id, "bot-b") is True
    with unit_of_work(sessions) as session:
        assert outbox.claim(session, "bot-c", 10, lease_seconds=60) == []
        assert session.get_one(Event, event_id).attempts == 2


def test_a_lease_has_one_holder_until_it_expires_or_is_released(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        assert leases.acquire(session, "poll", "replica-1", 30)
    with unit_of_work(sessions) as session:
        assert not leases.acquire(session, "poll", "replica-2", 30)
        assert leases.acquire(session, "poll", "replica-1", 30)  # renewal
    with unit_of_work(sessions) as session:
        session.get_one(Lease, "poll").expires_at = utcnow() - timedelta(seconds=1)
    with unit_of_work(sessions) as session:
        assert leases.acquire(session, "poll", "replica-2", 30)
    with unit_of_work(sessions) as session:
        assert leases.release_all(session, "replica-2") == 1
    with unit_of_work(sessions) as session:
        assert leases.acquire(session, "poll", "replica-3", 30)


def test_racing_replicas_take_a_new_lease_exactly_once(sessions: sessionmaker[Session]) -> None:
    def try_take(owner: str) -> bool:
        with unit_of_work(sessions) as session:
            return leases.acquire(session, "janitor", owner, 30)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(try_take, [f"replica-{n}" for n in range(8)]))
    assert results.count(True) == 1
