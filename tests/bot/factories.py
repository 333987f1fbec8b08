"""The service's answers as the bot receives them: wire-schema models (services.api.schemas), complete,
so a renderer test reads exactly the fields a real answer has. Each factory takes overrides."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from bot.reply_to import decode
from services.api.schemas import (
    DatasetOut,
    EstimateOut,
    EventOut,
    GroupOut,
    JobOut,
    LaunchOut,
    Recommendation,
    SweepEstimateOut,
    SweepOut,
)

NOTE = "placeholder prices: set real ones in TUNEBOT_PRICES_FILE"
WHEN = "2026-11-26T16:00:00Z"


def message_ts(reply_to: str | None) -> str | None:
    """The Slack message a launch's or a sweep's reply_to names (its card), if any."""
    where = decode(reply_to)
    return where.message_ts if where else None


def job(**overrides: Any) -> JobOut:
    fields: dict[str, Any] = {
        "id": "job1",
        "group_id": "grp1",
        "dataset_id": "ds1",
        "model": "90b",
        "name": "charts-90b",
        "status": "failed",
        "cancellable": False,
        "final": True,
        "requested_by": "U1",
        "evaluate": True,
        "sandbox": True,
        "bedrock_job_name": "tunebot-job1",
        "bedrock_job_arn": None,
        "bedrock_status": None,
        "output_model_arn": None,
        "output_s3_uri": None,
        "epochs": 6,
        "learning_rate": 1e-5,
        "recommended_epochs": 8,
        "recommended_learning_rate": 1e-5,
        "cost_estimate_usd": 120.5,
        "cost_note": None,
        "failure_message": None,
        "failure_hint": None,
        "metrics": None,
        "loss_curve_path": None,
        "created_at": WHEN,
        "updated_at": WHEN,
        "submitted_at": None,
        "finished_at": None,
        "evaluations": [],
    }
    return JobOut.model_validate({**fields, **overrides})


def evaluation(variant: str, f1: float | None) -> dict[str, Any]:
    return {
        "variant": variant,
        "status": "done",
        "metric": "squad_f1",
        "f1": f1,
        "exact_match": None,
        "count": 40,
        "missing": 0,
        "cost_usd": None,
    }


def group(jobs: list[JobOut], **overrides: Any) -> GroupOut:
    fields: dict[str, Any] = {
        "id": "grp1",
        "dataset_id": "ds1",
        "requested_by": "U1",
        "approved_by": None,
        "cost_estimate_usd": 10.0,
        "cost_note": None,
        "reply_to": None,
        "comparison": None,
        "created_at": WHEN,
        "jobs": [item.model_dump(mode="json") for item in jobs],
    }
    return GroupOut.model_validate({**fields, **overrides})


def launched(jobs: list[JobOut], created: bool = True) -> LaunchOut:
    return LaunchOut(group_id="grp1", created=created, jobs=jobs, warnings=[])


def advice(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "model": "11b",
        "examples": 800,
        "epochs": 5,
        "epochs_range": [5, 5],
        "learning_rate": 1e-5,
        "learning_rate_range": [1e-5, 1e-5],
        "reasons": ["why"],
    }
    return {**fields, **overrides}


def recommendation(**overrides: Any) -> Recommendation:
    return Recommendation.model_validate(advice(**overrides))


def dataset(**overrides: Any) -> DatasetOut:
    fields: dict[str, Any] = {
        "id": "ds1",
        "name": "charts",
        "status": "ready",
        "format": "chartqa",
        "reply_to": None,
        "report": None,
        "error": None,
        "created_by": "U1",
        "created_at": WHEN,
        "s3_uri": None,
        "sandbox": True,
    }
    return DatasetOut.model_validate({**fields, **overrides})


def cost(model: str, total_usd: float, note: str | None = NOTE) -> dict[str, Any]:
    return {
        "model": model,
        "epochs": 5,
        "training_tokens": 1_000_000,
        "training_usd": total_usd,
        "storage_usd_per_month": 0.0,
        "evaluation_usd": 0.0,
        "total_usd": total_usd,
        "currency": "USD",
        "prices_as_of": "2026-11-01",
        "unconfirmed": [],
        "assumptions": [],
        "note": note,
    }


def estimate(costs: dict[str, float], **overrides: Any) -> EstimateOut:
    fields: dict[str, Any] = {
        "dataset_id": "ds1",
        "dataset_name": "charts",
        "examples": 800,
        "sandbox": True,
        "jobs": [
            {
                "model": model,
                "epochs": 5,
                "learning_rate": 1e-5,
                "recommended_epochs": 5,
                "recommended_learning_rate": 1e-5,
                "cost": cost(model, usd),
            }
            for model, usd in costs.items()
        ],
        "total_usd": round(sum(costs.values()), 2),
        "note": NOTE,
        "cost_cap_usd": 10.0,
        "approval_required": True,
        "warnings": [],
    }
    return EstimateOut.model_validate({**fields, **overrides})


def sweep_estimate(sizes: dict[int, float], **overrides: Any) -> SweepEstimateOut:
    """A sweep's estimate for 11B at each training size in ``sizes`` (size -> its cost)."""
    fields: dict[str, Any] = {
        "dataset_id": "ds1",
        "dataset_name": "charts",
        "train_records": max(sizes),
        "test_records": 40,
        "sizes": list(sizes),
        "models": ["11b"],
        "sandbox": True,
        "jobs": [
            {"train_size": size, "model": "11b", "epochs": 8, "learning_rate": 1e-5, "cost": cost("11b", usd)}
            for size, usd in sizes.items()
        ],
        "total_usd": round(sum(sizes.values()), 2),
        "note": NOTE,
        "cost_cap_usd": 500.0,
        "approval_required": False,
    }
    return SweepEstimateOut.model_validate({**fields, **overrides})


def sweep(cells: list[tuple[int, JobOut]], **overrides: Any) -> SweepOut:
    """A sweep of 11B with one job per training size in ``cells``."""
    fields: dict[str, Any] = {
        "id": "sw1",
        "dataset_id": "ds1",
        "dataset_name": "charts",
        "status": "running",
        "models": ["11b"],
        "sizes": [size for size, _ in cells],
        "seed": 0,
        "requested_by": "U1",
        "approved_by": None,
        "sandbox": True,
        "cost_estimate_usd": 41.2,
        "cost_note": NOTE,
        "reply_to": None,
        "created": True,
        "created_at": WHEN,
        "finished_at": None,
        "cells": [
            {
                "train_size": size,
                "model": job.model,
                "dataset_id": f"ds1-{size}",
                "job": job.model_dump(mode="json"),
            }
            for size, job in cells
        ],
        "lines": [],
        "verdict": None,
        "fit": None,
    }
    return SweepOut.model_validate({**fields, **overrides})


def event(kind: str, subject_id: str, payload: dict[str, Any]) -> EventOut:
    return EventOut(id=1, type=kind, subject_id=subject_id, payload=payload, created_at=WHEN, attempts=1)


M = TypeVar("M", bound=BaseModel)


def changed(answer: M, /, **changes: Any) -> M:
    """``answer`` with ``changes``, validated again (``model_copy(update=...)`` would not check them)."""
    return type(answer).model_validate({**answer.model_dump(), **changes})
