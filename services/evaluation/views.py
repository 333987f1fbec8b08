"""Routes for the example gallery: thin views over ``services.evaluation.gallery.build``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.api.deps import ResourceId, errors
from services.evaluation.gallery.build import group_gallery, job_gallery
from services.evaluation.gallery.select import GallerySet
from services.jobs.views import job_deps

router = APIRouter()
PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "A PNG"}}


@router.get(
    "/jobs/{job_id}/gallery/{which}.png",
    response_class=Response,
    summary="An evaluated job's examples where fine-tuning helped or hurt most: picture, question, "
    "reference, base and fine-tuned answers with their F1",
    responses={**PNG, **errors(404, 409, 422, 503)},
)
def job_examples(job_id: ResourceId, which: GallerySet, request: Request) -> Response:
    deps = job_deps(request)
    png = job_gallery(deps.settings, deps.sessions, job_id, which)
    return Response(png, media_type="image/png")


@router.get(
    "/groups/{group_id}/gallery/{which}.png",
    response_class=Response,
    summary="An 11B/90B pair's examples: helped or hurt most across both sizes, or where they disagree",
    responses={**PNG, **errors(404, 409, 422, 503)},
)
def group_examples(group_id: ResourceId, which: GallerySet, request: Request) -> Response:
    deps = job_deps(request)
    png = group_gallery(deps.settings, deps.sessions, group_id, which)
    return Response(png, media_type="image/png")
