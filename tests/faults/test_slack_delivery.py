"""SIGKILL during Slack delivery: Slack carries out a post and the bot dies before it hears the answer, so
the event is neither acknowledged nor known to be posted. Restarted (on PostgreSQL the other replica may
take over), every event of the launch ends up in Slack exactly once: the one in flight is found in the
thread by the event id in its message metadata instead of being posted again, and the launch's card is
posted once."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.reply_to import encode
from tests.faults.harness import (
    BOUND_SECONDS,
    CHANNEL,
    Counts,
    Replica,
    all_final,
    cards,
    check,
    complete_on_bedrock,
    consumer_pid,
    count,
    events_of_launch,
    holder_of,
    posts_per_event,
    wait_until,
)
from tests.slack_stub import SlackStub


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
    answer = bots[0].launch(dataset, f"slack-{skip}", reply_to=encode(CHANNEL))
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
