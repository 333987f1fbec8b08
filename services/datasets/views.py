"""Routes for datasets: register one (an upload or an s3:// source) for a background check, and read them.

The check itself runs in the ``datasets`` scheduler task (``services.datasets.service``), never in the
request, so a restart loses nothing: the ``checking`` row is the work item.
"""

from __future__ import annotations

from functools import partial
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import UploadFile
from starlette.types import Message

from services.api.deps import ResourceId, errors, sessions_of
from services.api.errors import ApiError
from services.api.schemas import (
    NO_NUL,
    DatasetAccepted,
    DatasetOptionsIn,
    DatasetOut,
    DatasetPage,
    DatasetSourceIn,
)
from services.api.validation import field_and_message
from services.datasets import service
from services.datasets.model import DatasetStatus
from services.datasets.service import (
    CheckDeps,
    CheckOptions,
    check_s3_source,
    find_datasets,
    register_dataset,
    save_upload,
)
from services.platform.errors import TooLarge
from services.platform.tables import new_id

router = APIRouter()
Sessions = Annotated[sessionmaker[Session], Depends(sessions_of)]


def check_deps(request: Request) -> CheckDeps:
    sessions_of(request)
    deps: CheckDeps | None = getattr(request.app.state.runtime.wiring, "check_deps", None)
    if deps is None:
        raise ApiError(503, "starting", "the job service is starting: retry in a few seconds")
    return deps


# Room for the multipart framing and the option fields beside the file itself.
_FORM_OVERHEAD_BYTES = 64 * 1024


def _limited(request: Request, max_upload_mb: int) -> Request:
    """The request with a body refused once past TUNEBOT_MAX_UPLOAD_MB while it streams in, so an
    oversized upload costs the service at most the limit, never its whole size on disk."""
    limit = max_upload_mb * 1024 * 1024 + _FORM_OVERHEAD_BYTES

    def too_large() -> TooLarge:
        return TooLarge(
            "upload_too_large",
            f"the file is larger than {max_upload_mb} MB (TUNEBOT_MAX_UPLOAD_MB): upload it to S3 and send "
            "its s3:// URI instead",
            "file",
        )

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large()
        return message

    return Request(request.scope, receive)


def _invalid(error: ValidationError) -> ApiError:
    field, message = field_and_message(error.errors()[0])
    return ApiError(422, "invalid_request", message, field)


_OPTIONS_SCHEMA = DatasetOptionsIn.model_json_schema()
_UPLOAD_SCHEMA = {
    **_OPTIONS_SCHEMA,
    "title": "DatasetUpload",
    "properties": {"file": {"type": "string", "format": "binary"}, **_OPTIONS_SCHEMA["properties"]},
    "required": ["file"],
}


@router.post(
    "/datasets",
    status_code=202,
    response_model=DatasetAccepted,
    summary="Check a dataset in the background: a file upload (multipart `file`) or {source_uri: s3://...}",
    responses={
        200: {"model": DatasetAccepted, "description": "The Idempotency-Key was seen before: that dataset"},
        **errors(403, 413, 415, 422, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": DatasetSourceIn.model_json_schema()},
                "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
            },
        }
    },
)
async def create_dataset(
    request: Request,
    response: Response,
    deps: Annotated[CheckDeps, Depends(check_deps)],
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            pattern=NO_NUL,
            description="A retry answers the same",
        ),
    ] = None,
) -> DatasetAccepted:
    content_type = request.headers.get("content-type", "")
    dataset_id = new_id()
    try:
        if content_type.startswith("multipart/form-data"):
            form = await _limited(request, deps.settings.max_upload_mb).form()
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ApiError(
                    422, "invalid_request", "file: attach the dataset as the multipart field 'file'", "file"
                )
            fields = {key: value for key, value in form.items() if key != "file" and isinstance(value, str)}
            options = DatasetOptionsIn.model_validate(fields)
            filename = upload.filename or "upload"
            path = await run_in_threadpool(save_upload, deps.settings, dataset_id, filename, upload.file)
            source, default_name = str(path), path.name
        elif content_type.startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(
                    422, "invalid_request", "body: the body is not valid UTF-8 JSON", "body"
                ) from None
            options = DatasetSourceIn.model_validate(body)
            source = options.source_uri
            check_s3_source(deps.settings, source)
            default_name = PurePosixPath(source.rstrip("/")).name or "dataset"
        else:
            raise ApiError(
                415,
                "unsupported_media_type",
                "send multipart/form-data with a 'file' field, or application/json with a 'source_uri'",
            )
    except ValidationError as error:
        raise _invalid(error) from None
    check = CheckOptions(
        format=options.format,
        validation_fraction=options.validation_fraction,
        test_fraction=options.test_fraction,
        seed=options.seed,
        system=options.system,
        model=options.model,
        image_column=options.image_column,
        question_column=options.question_column,
        answer_column=options.answer_column,
        instruction=options.instruction,
        split=options.split,
    )
    # A DomainError: the one mapping in services.api.errors answers it.
    dataset, created = await run_in_threadpool(
        partial(
            register_dataset,
            deps.sessions,
            name=options.name or default_name,
            source_uri=source,
            created_by=options.created_by,
            options=check,
            dataset_id=dataset_id,
            idempotency_key=idempotency_key,
            reply_to=options.reply_to,
        )
    )
    if not created:
        response.status_code = 200
    elif deps.wake is not None:
        deps.wake()
    return DatasetAccepted(id=dataset.id, status=dataset.status)  # type: ignore[arg-type]


@router.get(
    "/datasets", response_model=DatasetPage, summary="Datasets, newest first", responses=errors(422, 503)
)
def list_datasets(
    request: Request,
    sessions: Sessions,
    created_by: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    status: DatasetStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DatasetPage:
    rows = find_datasets(sessions, limit, created_by, status)
    return DatasetPage(datasets=[_out(request, row) for row in rows])


@router.get(
    "/datasets/{dataset_id}",
    response_model=DatasetOut,
    summary="One dataset and its report",
    responses=errors(404, 503),
)
def get_dataset(request: Request, dataset_id: ResourceId, sessions: Sessions) -> DatasetOut:
    return _out(request, service.get_dataset(sessions, dataset_id))


def _out(request: Request, dataset: object) -> DatasetOut:
    # A sandbox service's datasets feed simulated jobs: say so on the dataset too (DESIGN §8).
    sandbox = getattr(request.app.state, "backend", None) == "sandbox"
    return DatasetOut.model_validate(dataset).model_copy(update={"sandbox": sandbox})
