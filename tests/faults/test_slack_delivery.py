"""SIGKILL during Slack delivery: Slack carries out a post and the bot dies before it hears the answer, so
the event is neither acknowledged nor known to be posted. Restarted (on PostgreSQL the other replica may
take over), every event of the launch ends up in Slack exactly once: the one in flight is found in the
thread by the event id in its message metadata instead of being posted again, and the launch's card is
posted once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.platform.tables import Event
from tests.faults.harness import (
    BOUND_SECONDS,
    Counts,
    Replica,
    all_final,
    check,
    complete_on_bedrock,
    count,
    holder_of,
    service_env,
    wait_until,
)
from tests.faults.proxy import FaultProxy
from tests.slack_stub import SlackStub

LEASE_SECONDS = 5  # TUNEBOT_SLACK_DELIVERY_LEASE_SECONDS: how long a dead bot's events stay its own
CHANNEL = "C1"


@pytest.fixture
def bots(
    database_url: str,
    tmp_path: Path,
    proxy: FaultProxy,
    replica_count: int,
    slack_stub: SlackStub,
) -> Iterator[list[Replica]]:
    """The service with its Slack bot in each process (`--role all`), posting to the strict stand-in."""
    env = service_env(
        database_url,
        tmp_path / "data",
        proxy.url,
        TUNEBOT_MAX_CONCURRENT_JOBS="2",
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET="fault-suite-signing-secret",
        TUNEBOT_SLACK_API_URL=slack_stub.api_url,
        TUNEBOT_SLACK_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    started = [Replica(env, tmp_path / f"bot-{n}.log", role="all") for n in range(replica_count)]
    try:
        for replica in started:
            replica.start()
        yield started
    finally:
        proxy.clear()
        for hold in slack_stub.holds:
            hold.release.set()
        for replica in started:
            replica.stop()


def events_of_launch(sessions: sessionmaker[Session]) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).where(Event.type.like("job.%")).order_by(Event.id)))


def consumer_pid(sessions: sessionmaker[Session]) -> int:
    """The process of the bot holding the launch's first unacknowledged events (consumer slack:host:pid)."""
    pending = [event for event in events_of_launch(sessions) if event.acked_at is None and event.leased_by]
    assert pending, "no event is leased"
    return int(str(pending[0].leased_by).split(":")[2])


def posts_per_event(stub: SlackStub) -> Counter[str]:
    """Accepted posts by the event id their metadata carries."""
    return Counter(
        str(call.params["metadata"]["event_payload"]["event_id"])
        for call in stub.accepted("chat.postMessage")
        if (call.params.get("metadata") or {}).get("event_type") == "tunebot_event"
    )


def cards(stub: SlackStub) -> list[str]:
    return [m.ts for m in stub.channel_messages(CHANNEL) if m.thread_ts is None]


@pytest.mark.parametrize(("held", "skip"), [("the card", 0), ("a thread post", 1)])
def test_killed_between_a_slack_post_and_its_acknowledgement(
    held: str,
    skip: int,
    bots: list[Replica],
    slack_stub: SlackStub,
    sessions: sessionmaker[Session],
    dataset: str,
    record_counts: list[Counts],
) -> None:
    hold = slack_stub.hold_next("chat.postMessage", skip=skip)
    answer = bots[0].launch(dataset, f"slack-{skip}", slack_channel=CHANNEL)
    assert answer.status_code == 201, answer.text
    assert hold.arrived.wait(60), bots[0].tail()
    victim = holder_of(bots, consumer_pid(sessions))
    victim.kill()  # Slack has the post; the bot never heard back and acknowledged nothing
    hold.release.set()
    victim.start()

    def delivered() -> bool:
        complete_on_bedrock()
        events = events_of_launch(sessions)
        return all_final(sessions) and all(event.acked_at is not None for event in events)

    took = wait_until(delivered, BOUND_SECONDS, lambda: victim.tail())

    counts = count(sessions, f"kill during Slack delivery of {held} ({len(bots)} replicas)")
    counts.takeover_seconds = took
    posted = posts_per_event(slack_stub)
    counts.slack_posts_per_event = {str(e.id): posted.get(str(e.id), 0) for e in events_of_launch(sessions)}
    record_counts.append(counts)
    check(counts, 1)
    assert set(counts.slack_posts_per_event.values()) == {1}, counts.line()
    assert len(posted) == len(counts.slack_posts_per_event), "no post for an event that is not the launch's"
    assert len(cards(slack_stub)) == 1
