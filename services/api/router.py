"""The job service's REST API, /api/v1. Every route needs the bearer token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services import __version__
from services.api import events as api_events
from services.api.deps import errors
from services.api.errors import ApiError
from services.api.schemas import ServiceInfo
from services.datasets import views as api_datasets
from services.evaluation import views as api_evaluation
from services.jobs import views as api_jobs
from services.sweeps import views as api_sweeps

_bearer = HTTPBearer(auto_error=False, description="TUNEBOT_API_TOKEN")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected: str = request.app.state.api_token
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "send the header 'Authorization: Bearer <TUNEBOT_API_TOKEN>'",
        )


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)], responses=errors(401))


@router.get("/info", response_model=ServiceInfo, summary="What this service runs on")
def info(request: Request) -> ServiceInfo:
    return ServiceInfo(
        version=__version__,
        backend=request.app.state.backend,
        database=request.app.state.engine.dialect.name,
    )


router.include_router(api_jobs.router)
router.include_router(api_events.router)
router.include_router(api_datasets.router)
router.include_router(api_sweeps.router)
router.include_router(api_evaluation.router)
