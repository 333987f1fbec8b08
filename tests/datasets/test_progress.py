"""A check records its progress on the dataset's row, at a bounded rate: records checked so far and, for
a format whose records can be counted before reading, how many there are in all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.datasets import repository
from services.datasets.model import Finding
from services.datasets.progress import ProgressGate
from services.datasets.readers import count_records, read_examples
from services.datasets.service import CheckDeps, CheckOptions, check_next, register_dataset
from services.platform.tables import Dataset
from services.tuning.pricing import load_prices
from tests.clock import FrozenClock
from tests.datasets.fixtures import make_llava
from tests.datasets.hub_fixtures import CHARTQA_SCHEMA, chartqa_row, make_hub_chartqa, make_saved_to_disk
from tests.jobs.conftest import settings_for


def bedrock_lines(records: int) -> list[str]:
    return [
        json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "messages": [
                    {"role": "user", "content": [{"text": f"What is {i} + 1?"}]},
                    {"role": "assistant", "content": [{"text": str(i + 1)}]},
                ],
            }
        )
        for i in range(records)
    ]


def test_reports_arriving_at_once_are_recorded_only_every_5_percent_and_at_the_end() -> None:
    gate = ProgressGate(FrozenClock())

    admitted = [done for done in range(50, 2_001, 50) if gate.admits(done, 2_000)]

    assert admitted == [50, *range(150, 2_000, 100), 2_000]  # the first, each step of 5 % (100), the end
    assert not gate.admits(2_000, 2_000)  # the same report twice is written once


def test_without_a_total_reports_are_recorded_at_most_once_a_second() -> None:
    clock = FrozenClock()
    gate = ProgressGate(clock)
    admitted = []
    for done in range(50, 1_001, 50):
        clock.now += 0.25  # four reports a second
        if gate.admits(done, None):
            admitted.append(done)

    assert admitted == [50, 250, 450, 650, 850]  # the first, then one every four reports (1 s)
    assert gate.admits(1_000, 1_000)  # the end of reading tells the total: recorded at once


def test_bedrock_records_are_counted_before_reading_as_the_reader_yields_them(tmp_path: Path) -> None:
    lines = bedrock_lines(30)
    lines[4] = "{not json"  # a broken record still counts: the report lists it as rejected
    (tmp_path / "train.jsonl").write_text("\n\n".join(lines) + "\n\n", encoding="utf-8")

    assert count_records(tmp_path, "bedrock") == sum(1 for _ in read_examples(tmp_path, "bedrock")) == 30
    assert count_records(tmp_path, "llava") is None  # a JSON array: its total is known once read


def test_hub_parquet_rows_are_counted_from_their_footers_and_arrow_streams_only_once_read(
    tmp_path: Path,
) -> None:
    parquet = make_hub_chartqa(tmp_path / "hub", {"train": 30, "val": 10})
    saved = make_saved_to_disk(tmp_path / "saved", chartqa_row, CHARTQA_SCHEMA, {"train": 12})

    read = [item for item in read_examples(parquet, "hub") if not isinstance(item, Finding) or item.record]
    assert count_records(parquet, "hub") == len(read) == 40
    assert count_records(saved, "hub") is None


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int | None]]:
    """Every progress write the check makes, as (records checked, records in all)."""
    writes: list[tuple[int, int | None]] = []
    real = repository.record_progress

    def spy(session: Session, dataset_id: str, owner: str, checked: int, total: int | None) -> bool:
        writes.append((checked, total))
        return real(session, dataset_id, owner, checked, total)

    monkeypatch.setattr(repository, "record_progress", spy)
    return writes


def deps_for(sessions: sessionmaker[Session], tmp_path: Path) -> CheckDeps:
    settings = settings_for(tmp_path, s3_uri=None)
    return CheckDeps(
        sessions=sessions, settings=settings, prices=load_prices(), owner="r1", clock=FrozenClock()
    )


def test_a_check_records_its_progress_on_the_row_a_bounded_number_of_times(
    sessions: sessionmaker[Session], tmp_path: Path, recorded: list[tuple[int, int | None]]
) -> None:
    source = tmp_path / "sums.jsonl"
    source.write_text("\n".join(bedrock_lines(2_000)) + "\n", encoding="utf-8")
    dataset, _ = register_dataset(
        sessions, name="sums", source_uri=str(source), created_by="U1", options=CheckOptions()
    )

    assert check_next(deps_for(sessions, tmp_path)) == dataset.id

    checked = [done for done, _total in recorded]
    assert checked == sorted(set(checked)) and checked[-1] == 2_000  # increasing, up to every record
    assert {total for _done, total in recorded} == {2_000}  # the share is known from the first write
    assert 3 <= len(recorded) <= 21  # not one write per 50 records (40), however fast the check ran
    with sessions() as session:
        row = session.get(Dataset, dataset.id)
        assert row is not None
        assert (row.status, row.records_checked, row.records_total) == ("unusable", 2_000, 2_000)


def test_a_format_counted_only_by_reading_shows_its_total_once_read(
    sessions: sessionmaker[Session], tmp_path: Path, recorded: list[tuple[int, int | None]]
) -> None:
    folder = make_llava(tmp_path / "llava", 120, text_only=120)
    register_dataset(sessions, name="llava", source_uri=str(folder), created_by="U1", options=CheckOptions())

    check_next(deps_for(sessions, tmp_path))

    assert recorded[0] == (50, None)  # the count so far, no share
    assert recorded[-1] == (120, 120)


def test_progress_is_not_recorded_for_a_check_another_replica_took_over(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    dataset, _ = register_dataset(
        sessions, name="sums", source_uri=str(tmp_path), created_by="U1", options=CheckOptions()
    )
    with sessions.begin() as session:
        row = session.get(Dataset, dataset.id)
        assert row is not None
        row.lease_owner = "r2"

    with sessions.begin() as session:
        assert not repository.record_progress(session, dataset.id, "r1", 50, 100)
        assert repository.record_progress(session, dataset.id, "r2", 50, 100)
    with sessions() as session:
        row = session.get(Dataset, dataset.id)
        assert row is not None and (row.records_checked, row.records_total) == (50, 100)
