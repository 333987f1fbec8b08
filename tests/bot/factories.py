"""The service's answers as the bot receives them: wire-schema models (services.api.schemas), complete,
so a renderer test reads exactly the fields a real answer has. Each factory takes overrides."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from services.api.schemas import (
    DatasetOut,
    EstimateOut,
    EventOut,
    GroupOut,
    JobOut,
    LaunchOut,
    Recommendation,
)

NOTE = "placeholder prices: set real ones in TUNEBOT_PRICES_FILE"
WHEN = "2026-11-26T16:00:00Z"


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
        "slack_channel": None,
        "slack_thread_ts": None,
        "slack_message_ts": None,
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
        "slack_channel": None,
        "slack_thread_ts": None,
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


def event(kind: str, subject_id: str, payload: dict[str, Any]) -> EventOut:
    return EventOut(id=1, type=kind, subject_id=subject_id, payload=payload, created_at=WHEN, attempts=1)


M = TypeVar("M", bound=BaseModel)


def changed(answer: M, /, **changes: Any) -> M:
    """``answer`` with ``changes``, validated again (``model_copy(update=...)`` would not check them)."""
    return type(answer).model_validate({**answer.model_dump(), **changes})
