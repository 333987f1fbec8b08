"""Leases that follow liveness: short, renewed while their holder lives, free soon after it dies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.platform import leases
from services.platform.db import unit_of_work
from services.platform.tables import Dataset, Lease, utcnow


def expiry(sessions: sessionmaker[Session], name: str) -> timedelta:
    with sessions() as session:
        return session.get_one(Lease, name).expires_at - utcnow()


def test_a_live_holder_keeps_its_lease_past_its_length_and_a_dead_one_loses_it_within_it(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as session:
        assert leases.acquire(session, "submit", "alive", 2)
        assert leases.acquire(session, "poll", "dead", 2)
    keeper = leases.LeaseKeeper(sessions, "alive")
    for _ in range(3):  # the keeper's rounds, run here without its thread so the test owns the clock
        with unit_of_work(sessions) as session:
            for name in ("submit", "poll"):
                lease = session.get_one(Lease, name)
                lease.expires_at = utcnow() + timedelta(seconds=1)  # nearly out
        keeper.renew()
        assert expiry(sessions, "submit") > timedelta(seconds=leases.LEASE_SECONDS - 5)
        assert expiry(sessions, "poll") < timedelta(seconds=2), "nobody renews a dead holder's lease"
    assert keeper.renewals == 3

    with unit_of_work(sessions) as session:
        session.get_one(Lease, "poll").expires_at = utcnow() - timedelta(seconds=1)
    with unit_of_work(sessions) as session:
        assert leases.acquire(session, "poll", "alive", leases.LEASE_SECONDS), "taken over"
        assert not leases.acquire(session, "submit", "other", leases.LEASE_SECONDS)


def test_renewal_never_revives_a_lapsed_lease_nor_shortens_a_longer_one(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as session:
        assert leases.acquire(session, "janitor", "me", 3600)
        assert leases.acquire(session, "lapsed", "me", 30)
        session.flush()
        session.get_one(Lease, "lapsed").expires_at = utcnow() - timedelta(seconds=1)
        dataset = Dataset(name="d", source_uri="s3://b/k.zip", lease_owner="me")
        dataset.lease_expires_at = utcnow() + timedelta(seconds=1)
        session.add(dataset)
        session.flush()
        dataset_id, updated = dataset.id, dataset.updated_at

    with unit_of_work(sessions) as session:
        renewed = leases.renew_all(session, "me")

    assert renewed == 1  # the dataset check's row lease, and nothing else
    assert expiry(sessions, "janitor") > timedelta(seconds=3000)
    assert expiry(sessions, "lapsed") < timedelta(0)
    with sessions() as session:
        dataset = session.get_one(Dataset, dataset_id)
        assert dataset.lease_expires_at is not None
        assert dataset.lease_expires_at - utcnow() > timedelta(seconds=leases.LEASE_SECONDS - 5)
        assert dataset.updated_at == updated, "a renewal is not a change of the dataset"


def test_a_keeper_whose_database_is_away_says_so_and_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> Session:
        raise ConnectionError("database away")

    keeper = leases.LeaseKeeper(broken, "me")  # type: ignore[arg-type]
    keeper.renew()
    keeper.renew()
    assert keeper.renewals == 0
    assert caplog.text.count("leases not renewed") == 2
