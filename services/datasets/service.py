"""Dataset checks as background work that survives restarts: a ``checking`` row is the work item.

``register_dataset`` records the row (and where its source is); ``check_next`` claims one unleased
``checking`` row with a guarded UPDATE, runs the datasets pipeline on it, and records the outcome and
its ``dataset.checked`` event together. Any replica may run ``check_next``; a row whose worker died
is picked up again when its lease expires.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from services.aws.clients import ClientOptions, s3_client
from services.aws.upload import UploadError
from services.datasets import repository
from services.datasets.check_worker import CheckRunner
from services.datasets.model import DatasetStatus
from services.datasets.pipeline import PrepareOptions, ProgressCallback, UsageError, prepare
from services.datasets.progress import ProgressGate
from services.datasets.sources import SourceError
from services.datasets.split import SplitPlan
from services.platform import outbox
from services.platform.config import Settings
from services.platform.db import unit_of_work
from services.platform.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from services.platform.tables import Dataset, new_id
from services.tuning.pricing import PriceTable, load_prices
from services.tuning.recommend import ModelSize

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

CHECK_LEASE_SECONDS = 1800.0  # longer than any check; a crashed worker's row is retried after it
UPLOAD_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """The prepare options a caller may set; stored on the row so any replica can run the check."""

    format: str = "auto"
    validation_fraction: float = 0.15
    test_fraction: float = 0.10
    seed: int = 0
    system: str | None = None
    model: ModelSize | None = None
    image_column: str | None = None
    question_column: str | None = None
    answer_column: str | None = None
    instruction: str | None = None
    split: str = "source"

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class CheckDeps:
    sessions: sessionmaker[Session]
    settings: Settings
    prices: PriceTable
    owner: str
    s3: S3Client | None = None
    sandbox: bool = False
    workers: int | None = 1  # image workers of a check run in this process (``runner`` None)
    # Where checks run: a worker process (the service's own deps), or None for this process (tests whose
    # AWS stand-in lives in this process).
    runner: CheckRunner | None = None
    wake: Callable[[], None] | None = None  # starts the checks' task at once when a dataset is registered
    clock: Callable[[], float] = time.monotonic  # paces the progress a check records on its row


def make_check_deps(
    settings: Settings,
    sessions: sessionmaker[Session],
    owner: str,
    *,
    sandbox: bool = False,
    wake: Callable[[], None] | None = None,
) -> CheckDeps:
    client_options = ClientOptions.from_settings(settings)
    s3 = s3_client(client_options) if settings.s3_uri else None
    in_worker = settings.check_runs_in == "worker"
    return CheckDeps(
        sessions=sessions,
        settings=settings,
        prices=load_prices(settings.prices_file),
        owner=owner,
        s3=s3,
        sandbox=sandbox,
        # In the worker, prepare runs as the CLI runs it: its image work on every core.
        workers=None if in_worker else 1,
        runner=CheckRunner(client_options if s3 is not None else None) if in_worker else None,
        wake=wake,
    )


def check_waiting(deps: CheckDeps, limit: int = 10) -> int:
    """Check up to ``limit`` waiting datasets, one after another; how many were checked."""
    done = 0
    while done < limit and check_next(deps) is not None:
        done += 1
    return done


def save_upload(settings: Settings, dataset_id: str, filename: str, stream: BinaryIO) -> Path:
    """Copy an uploaded file under the data directory, refusing more than TUNEBOT_MAX_UPLOAD_MB."""
    # Only the base name, with characters a file system or the database may refuse replaced.
    safe_name = (
        re.sub(r"[^\w.\- ]", "_", Path(filename.replace("\x00", "")).name)[:200].strip(". ") or "upload"
    )
    target = Path(settings.data_dir) / "uploads" / dataset_id / safe_name
    target.parent.mkdir(parents=True, exist_ok=True)
    limit = settings.max_upload_mb * 1024 * 1024
    written = 0
    with target.open("wb") as sink:
        while chunk := stream.read(UPLOAD_CHUNK):
            written += len(chunk)
            if written > limit:
                sink.close()
                shutil.rmtree(target.parent, ignore_errors=True)
                raise TooLarge(
                    "upload_too_large",
                    f"the file is larger than {settings.max_upload_mb} MB (TUNEBOT_MAX_UPLOAD_MB): upload it "
                    "to S3 and send its s3:// URI instead",
                    "file",
                )
            sink.write(chunk)
    return target


def check_s3_source(settings: Settings, source_uri: str) -> None:
    """Refuse an s3:// source outside TUNEBOT_ALLOWED_S3_PREFIXES: the service's role could read it,
    but the person asking may not be meant to, and it would be copied into tunebot's prefix."""
    allowed = settings.s3_read_prefixes
    if any((source_uri.rstrip("/") + "/").startswith(prefix) for prefix in allowed):
        return
    shown = ", ".join(allowed) or "none (TUNEBOT_S3_URI is not set)"
    raise Forbidden(
        "source_not_allowed",
        f"tunebot reads datasets only from {shown}: copy the dataset there, or ask the operator to add "
        "its bucket or prefix to TUNEBOT_ALLOWED_S3_PREFIXES",
        "source_uri",
    )


def register_dataset(
    sessions: sessionmaker[Session],
    *,
    name: str,
    source_uri: str,
    created_by: str | None,
    options: CheckOptions,
    dataset_id: str | None = None,
    idempotency_key: str | None = None,
    reply_to: str | None = None,
) -> tuple[Dataset, bool]:
    """Record a dataset to check (the ``datasets`` scheduler task picks it up); False when the
    idempotency key was seen before, with that dataset."""
    problems = PrepareOptions(
        out_dir=Path("."),
        format=options.format,
        split=SplitPlan(options.validation_fraction, options.test_fraction, options.seed),
    ).problems()
    if problems:
        raise Invalid("invalid_options", "; ".join(problems))
    if idempotency_key is not None:
        existing = _by_key(sessions, idempotency_key)
        if existing is not None:
            return existing, False
    try:
        with unit_of_work(sessions) as session:
            dataset = Dataset(
                id=dataset_id or new_id(),
                name=name[:200],
                status=DatasetStatus.CHECKING,
                source_uri=source_uri,
                options=options.as_dict(),
                created_by=created_by,
                idempotency_key=idempotency_key,
                reply_to=reply_to,
            )
            session.add(dataset)
            session.flush()
            return dataset, True
    except IntegrityError:
        existing = _by_key(sessions, idempotency_key) if idempotency_key is not None else None
        if existing is None:
            raise
        return existing, False


def _by_key(sessions: sessionmaker[Session], key: str) -> Dataset | None:
    with sessions() as session:
        return session.scalars(select(Dataset).where(Dataset.idempotency_key == key)).one_or_none()


def check_next(deps: CheckDeps) -> str | None:
    """Claim one dataset waiting for its check, run it, record the outcome; the id, or None if idle."""
    dataset_id = _claim(deps)
    if dataset_id is None:
        return None
    with deps.sessions() as session:
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None
        source, stored = dataset.source_uri, dict(dataset.options or {})
    options = CheckOptions(**{key: value for key, value in stored.items() if key in CheckOptions.__slots__})
    s3_uri = f"{deps.settings.s3_uri}/datasets/{dataset_id}" if deps.settings.s3_uri else None
    prepare_options = PrepareOptions(
        out_dir=Path(deps.settings.data_dir) / "datasets" / dataset_id,
        format=options.format,
        s3_uri=s3_uri,
        upload=s3_uri is not None and deps.s3 is not None,
        split=SplitPlan(
            options.validation_fraction,
            options.test_fraction,
            options.seed,
            respect_source=options.split != "random",
        ),
        system=options.system,
        instruction=options.instruction,
        model=options.model,
        image_column=options.image_column,
        question_column=options.question_column,
        answer_column=options.answer_column,
        workers=deps.workers,
        prices=deps.prices,
        confine_images=True,  # an uploaded dataset may not read other files on this machine
        allowed_s3_prefixes=deps.settings.s3_read_prefixes,  # nor images in any bucket the role reads
    )
    progress = _progress_recorder(deps, dataset_id)
    try:
        if deps.runner is not None:
            report = deps.runner.run(source, prepare_options, progress)
        else:
            report = prepare(source, prepare_options, s3_client=deps.s3, progress=progress)
    except (SourceError, UsageError, UploadError) as error:
        _finish(deps, dataset_id, DatasetStatus.FAILED, None, None, str(error))
        return dataset_id
    except Exception as error:  # the pipeline's own bug must not leave the row checking forever
        log.exception("dataset check crashed", extra={"dataset_id": dataset_id})
        _finish(
            deps,
            dataset_id,
            DatasetStatus.FAILED,
            None,
            None,
            f"the check crashed ({type(error).__name__}): tell the operator",
        )
        return dataset_id
    uploaded = report.upload.s3_uri if report.upload is not None else None
    status = DatasetStatus.READY if report.usable and uploaded else DatasetStatus.UNUSABLE
    problem = None
    if report.usable and not uploaded:
        problem = "the data is usable but not uploaded: set TUNEBOT_S3_URI so the service can upload it"
    # The report goes back to whoever asked: the service's own folders are none of their business.
    shown = report.model_dump(mode="json") | {"out_dir": uploaded or f"datasets/{dataset_id}"}
    _finish(deps, dataset_id, status, shown, uploaded, problem, report.format)
    return dataset_id


def _claim(deps: CheckDeps) -> str | None:
    with unit_of_work(deps.sessions) as session:
        return repository.claim_check(session, deps.owner, timedelta(seconds=CHECK_LEASE_SECONDS))


def _progress_recorder(deps: CheckDeps, dataset_id: str) -> ProgressCallback:
    """Records on the row how many records the check has read, at a bounded rate (``ProgressGate``)."""
    gate = ProgressGate(deps.clock)

    def record(stage: str, done: int, total: int | None) -> None:
        if stage != "read" or not gate.admits(done, total):
            return
        try:
            with unit_of_work(deps.sessions) as session:
                repository.record_progress(session, dataset_id, deps.owner, done, total)
        except SQLAlchemyError:  # progress is a courtesy to the person waiting: it never fails the check
            log.warning("dataset check progress not recorded", extra={"dataset_id": dataset_id})

    return record


def _finish(
    deps: CheckDeps,
    dataset_id: str,
    status: str,
    report: dict[str, Any] | None,
    s3_uri: str | None,
    error: str | None,
    fmt: str | None = None,
) -> None:
    counts = (report or {}).get("counts") or {}
    # A checked source's records were all read, whatever progress the check last recorded.
    read = {"records_checked": counts["records"], "records_total": counts["records"]} if counts else {}
    outcome_values = {"status": status, "report": report, "s3_uri": s3_uri, "error": error, "format": fmt}
    with unit_of_work(deps.sessions) as session:
        if not repository.finish_check(session, dataset_id, deps.owner, **outcome_values, **read):
            return  # our lease expired and another replica re-ran the check: its outcome stands
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None
        outcome = {
            DatasetStatus.READY: f"is ready: {counts.get('train', 0)} training examples",
            DatasetStatus.UNUSABLE: f"is not usable: {error or 'its report says what to fix'}",
            DatasetStatus.FAILED: f"could not be checked: {error}",
        }[DatasetStatus(status)]
        message = f"dataset {dataset.name} {outcome}"
        outbox.announce(
            session, "dataset.checked", dataset_id, message, sandbox=deps.sandbox,
            dataset_id=dataset_id, status=status, name=dataset.name, created_by=dataset.created_by,
            reply_to=dataset.reply_to,
        )  # fmt: skip


# --- reads ------------------------------------------------------------------------------------------


_NO_SUCH_DATASET = (
    "no dataset has that id: list them with `tunebot datasets list` (`/finetune datasets` in Slack)"
)


def get_dataset(sessions: sessionmaker[Session], dataset_id: str) -> Dataset:
    with sessions() as session:
        dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("dataset_not_found", _NO_SUCH_DATASET)
    return dataset


def ready_dataset(session: Session, dataset_id: str) -> Dataset:
    """The dataset a launch, an estimate or a sweep trains on, read in the caller's unit of work.

    Refuses a missing dataset, and one not both ready and uploaded to S3 (Bedrock reads it there).
    """
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("dataset_not_found", _NO_SUCH_DATASET, "dataset_id")
    if dataset.status != DatasetStatus.READY or not dataset.s3_uri:
        state = dataset.status if dataset.status != DatasetStatus.READY else "ready but not uploaded to S3"
        raise Conflict(
            "dataset_not_ready",
            f"dataset {dataset.id} ({dataset.name}) is {state}: only a ready dataset uploaded to S3 can be "
            f"trained; its report says what to fix (`tunebot datasets show {dataset.id}`)",
            "dataset_id",
        )
    return dataset


def find_datasets(
    sessions: sessionmaker[Session],
    limit: int,
    created_by: str | None = None,
    status: DatasetStatus | None = None,
) -> list[Dataset]:
    with sessions() as session:
        return repository.newest(session, limit, created_by, status)
