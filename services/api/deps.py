"""What every API router shares: the error responses it documents and the per-request database access."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from sqlalchemy.orm import Session, sessionmaker

from services.api.errors import ApiError
from services.api.schemas import ErrorBody

ResourceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="An id tunebot gave")]


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer with."""
    descriptions = {
        400: "The request cannot be done as sent",
        401: "Missing or wrong bearer token",
        403: "Not allowed without an admin's approval",
        404: "No such resource",
        409: "The resource is in a state that does not allow this",
        413: "The upload is too large",
        415: "The body's content type is not one the route takes",
        422: "A field is missing or invalid; `field` names it",
        503: "The service is starting or misconfigured; retry or fix the named setting",
    }
    return {status: {"model": ErrorBody, "description": descriptions[status]} for status in statuses}


def sessions_of(request: Request) -> sessionmaker[Session]:
    """The process's session factory; 503 while the database is still being brought up."""
    sessions: sessionmaker[Session] | None = request.app.state.runtime.sessions
    if sessions is None:
        raise ApiError(503, "starting", "the service is connecting to its database: retry in a few seconds")
    return sessions
