"""Migration 0008 replaces the Slack columns of datasets, launch groups and sweeps with one opaque
``reply_to`` and carries existing rows over in the bot's format, which the bot then reads; the
downgrade restores the columns. Runs on SQLite, and on PostgreSQL when TUNEBOT_TEST_DATABASE_URL is
set. The database holds jobs and an evaluation pointing at the altered tables, as a deployment's does:
on SQLite a rebuild of `datasets` or `job_groups` would fail on their foreign keys."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, inspect, select, text

from bot.reply_to import ReplyTo, decode
from services.platform.db import make_engine
from services.platform.migrate import current_revision, downgrade, head_revision, upgrade
from services.platform.tables import Dataset, Event, JobGroup, Sweep, new_id, utcnow

SLACK_COLUMNS = {
    "datasets": {"slack_channel", "slack_thread_ts"},
    "job_groups": {"slack_channel", "slack_thread_ts", "slack_message_ts"},
    "sweeps": {"slack_channel", "slack_thread_ts", "slack_message_ts"},
}


def _insert(engine: Engine, table: str, **values: Any) -> None:
    """A plain insert of the columns 0007 has (the mapped classes know only today's columns)."""
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    with engine.begin() as connection:
        connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)


def _columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def _seed(engine: Engine) -> dict[str, str]:
    """Rows as 0007 held them: a dataset shared in a thread, one from the CLI, a launch with its card,
    one whose card was not posted yet, a sweep, a job with an evaluation, and a pending report event."""
    now = utcnow()
    ids = {name: new_id() for name in ("shared", "cli", "carded", "uncarded", "sweep", "job")}
    dataset = {"status": "ready", "source_uri": "s3://b/charts.zip", "options": "{}", "created_at": now,
               "updated_at": now}  # fmt: skip
    _insert(engine, "datasets", id=ids["shared"], name="charts.zip", slack_channel="C0123",
            slack_thread_ts="1700000000.000100", **dataset)  # fmt: skip
    _insert(engine, "datasets", id=ids["cli"], name="cli.zip", **dataset)
    _insert(engine, "job_groups", id=ids["carded"], idempotency_key="k1", dataset_id=ids["shared"],
            requested_by="U1", slack_channel="C0123", slack_thread_ts="1700000000.000100",
            slack_message_ts="1700000001.000200", created_at=now)  # fmt: skip
    _insert(engine, "job_groups", id=ids["uncarded"], idempotency_key="k2", dataset_id=ids["shared"],
            requested_by="U1", slack_channel="D042", created_at=now)  # fmt: skip
    _insert(engine, "sweeps", id=ids["sweep"], idempotency_key="s1", dataset_id=ids["shared"],
            requested_by="U1", models='["11b"]', sizes="[100]", seed=0, status="running", sandbox=False,
            slack_channel="C0123", slack_message_ts="1700000002.000300", created_at=now)  # fmt: skip
    _insert(engine, "jobs", id=ids["job"], group_id=ids["carded"], dataset_id=ids["shared"], model="11b",
            name="charts.zip-11b", status="done", requested_by="U1", evaluate=True, sandbox=False,
            bedrock_job_name="tunebot-1", custom_model_name="tunebot-1", client_request_token="1",
            epochs=8, learning_rate=1e-5, recommended_epochs=8, recommended_learning_rate=1e-5,
            created_at=now, updated_at=now)  # fmt: skip
    _insert(engine, "evaluations", id=new_id(), job_id=ids["job"], variant="fine_tuned", status="done",
            metric="squad_f1", f1=61.5, count=10, missing=0, input_tokens=0, output_tokens=0)  # fmt: skip
    payload = {"dataset_id": ids["shared"], "status": "ready", "message": "dataset charts.zip is ready",
               "slack_channel": "C0123", "slack_thread_ts": "1700000000.000100"}  # fmt: skip
    _insert(engine, "events", type="dataset.checked", subject_id=ids["shared"], payload=json.dumps(payload),
            created_at=now, attempts=0)  # fmt: skip
    return ids


def test_the_slack_columns_become_one_reply_to_the_bot_reads_and_the_downgrade_restores_them(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0007")
    ids = _seed(engine)

    upgrade(engine)

    assert current_revision(engine) == head_revision()  # 0008 and whatever follows it
    for table in SLACK_COLUMNS:
        assert "reply_to" in _columns(engine, table) and not SLACK_COLUMNS[table] & _columns(engine, table)
    with engine.connect() as connection:
        datasets = dict(connection.execute(select(Dataset.id, Dataset.reply_to)).all())
        groups = dict(connection.execute(select(JobGroup.id, JobGroup.reply_to)).all())
        sweeps = dict(connection.execute(select(Sweep.id, Sweep.reply_to)).all())
        [payload] = connection.execute(select(Event.payload)).scalars().all()
        f1 = connection.execute(text("SELECT f1 FROM evaluations")).scalar_one()
    # What the bot reads from the rows carried over: the very channel, thread and card they named.
    assert decode(datasets[ids["shared"]]) == ReplyTo("C0123", "1700000000.000100")
    assert datasets[ids["cli"]] is None  # registered outside Slack: nowhere to post, as before
    assert decode(groups[ids["carded"]]) == ReplyTo("C0123", "1700000000.000100", "1700000001.000200")
    assert decode(groups[ids["uncarded"]]) == ReplyTo("D042")
    assert decode(sweeps[ids["sweep"]]) == ReplyTo("C0123", None, "1700000002.000300")
    # The same text the bot writes, so nothing tells a migrated row from a new one.
    assert groups[ids["carded"]] == ReplyTo("C0123", "1700000000.000100", "1700000001.000200").encode()
    # A report still waiting for the bot is posted where its dataset was shared.
    assert decode(payload["reply_to"]) == ReplyTo("C0123", "1700000000.000100")
    assert "slack_channel" not in payload and payload["message"] == "dataset charts.zip is ready"
    assert f1 == 61.5  # the evaluation came through untouched

    downgrade(engine, "0007")

    with engine.connect() as connection:
        restored = connection.execute(
            text("SELECT slack_channel, slack_thread_ts, slack_message_ts FROM job_groups WHERE id = :id"),
            {"id": ids["carded"]},
        ).one()
        sweep = connection.execute(text("SELECT slack_channel, slack_message_ts FROM sweeps")).one()
        dataset = connection.execute(
            text("SELECT slack_channel, slack_thread_ts FROM datasets WHERE id = :id"), {"id": ids["shared"]}
        ).one()
        event = connection.execute(text("SELECT payload FROM events")).scalar_one()
    assert tuple(restored) == ("C0123", "1700000000.000100", "1700000001.000200")
    assert tuple(sweep) == ("C0123", "1700000002.000300")
    assert tuple(dataset) == ("C0123", "1700000000.000100")
    restored_payload = event if isinstance(event, dict) else json.loads(event)
    assert (restored_payload["slack_channel"], restored_payload["slack_thread_ts"]) == (
        "C0123",
        "1700000000.000100",
    )
    for table in SLACK_COLUMNS:
        assert "reply_to" not in _columns(engine, table)
    engine.dispose()


def test_a_value_with_quotes_and_backslashes_is_carried_over_as_valid_json(database_url: str) -> None:
    # The API let only Slack ids through, but the SQL builds JSON by hand: it must escape what it copies.
    engine = make_engine(database_url)
    upgrade(engine, "0007")
    now = utcnow()
    _insert(engine, "datasets", id="d1", name="odd", status="ready", source_uri="s3://b/x", options="{}",
            created_at=now, updated_at=now, slack_channel='C"1\\')  # fmt: skip

    upgrade(engine)

    with engine.connect() as connection:
        stored = connection.execute(select(Dataset.reply_to)).scalar_one()
    assert json.loads(stored) == {"channel": 'C"1\\'}
    assert decode(stored, subject="dataset d1") is None  # not a Slack id: the bot skips it, no crash
    engine.dispose()
