"""What a launch would run and cost, computed once the same way for the estimate and for the launch.

``plan_launch`` is the one place that turns a launch request into epochs, learning rate and a cost
estimate per model size, and decides whether the total needs an admin's approval. The estimate route
(`POST /api/v1/estimates`) shows its figures; ``launch_jobs`` stores the same figures and compares the
same total with the cost cap, so the figure a user saw is the figure that was checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from services.datasets.service import ready_dataset
from services.jobs.deps import JobDeps
from services.platform.config import Settings
from services.platform.errors import Conflict, Forbidden, Invalid
from services.tuning.costs import CostEstimate, estimate_cost
from services.tuning.recommend import MODEL_SIZES, ModelSize, Recommendation, check_override, recommend


@dataclass(frozen=True, slots=True)
class PlannedJob:
    model: ModelSize
    epochs: int
    learning_rate: float
    recommendation: Recommendation
    cost: CostEstimate


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    dataset_id: str
    dataset_name: str
    examples: int
    jobs: list[PlannedJob]
    total_usd: float
    note: str | None
    cost_cap_usd: float
    sandbox: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def approval_required(self) -> bool:
        return self.total_usd > self.cost_cap_usd


def estimate_launch(
    deps: JobDeps,
    *,
    dataset_id: str,
    models: Sequence[str],
    epochs: int | None,
    learning_rate: float | None,
    evaluate: bool,
) -> LaunchPlan:
    """The estimate use case: what a launch with these values would run and cost. Nothing is stored."""
    with deps.sessions() as session:
        return plan_launch(
            session,
            deps,
            dataset_id=dataset_id,
            models=models,
            epochs=epochs,
            learning_rate=learning_rate,
            evaluate=evaluate,
        )


def plan_launch(
    session: Session,
    deps: JobDeps,
    *,
    dataset_id: str,
    models: Sequence[str],
    epochs: int | None,
    learning_rate: float | None,
    evaluate: bool,
) -> LaunchPlan:
    """The jobs a launch would create and what each is estimated to cost; refuses what launch refuses."""
    sizes = chosen_models(models)
    dataset = ready_dataset(session, dataset_id)
    report = dataset.report or {}
    refuse_sizes_the_data_does_not_fit(report, sizes)
    counts = report.get("counts") or {}
    tokens = report.get("tokens") or {}
    train = int(counts.get("train", 0))
    test_records = int(counts.get("test", 0)) if evaluate else 0
    test_tokens = int(tokens.get("test_total", 0)) if evaluate else 0

    planned: list[PlannedJob] = []
    warnings: list[str] = []
    for size in sizes:
        recommendation = recommend(train, size)
        chosen_epochs = epochs if epochs is not None else recommendation.epochs
        chosen_rate = learning_rate if learning_rate is not None else recommendation.learning_rate
        check = check_override(chosen_epochs, chosen_rate, recommendation)
        if not check.allowed:
            field_name = "epochs" if "epochs" in (check.refusal or "") else "learning_rate"
            raise Invalid("out_of_range", check.refusal or "out of range", field_name)
        warnings.extend(w for w in check.warnings if w not in warnings)
        cost = estimate_cost(
            model=size,
            epochs=chosen_epochs,
            train_tokens=int(tokens.get("train_total", 0)),
            test_records=test_records,
            test_tokens=test_tokens,
            prices=deps.prices,
        )
        planned.append(PlannedJob(size, chosen_epochs, chosen_rate, recommendation, cost))
    return LaunchPlan(
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        examples=train,
        jobs=planned,
        total_usd=round(sum(job.cost.total_usd for job in planned), 2),
        note=next((job.cost.note for job in planned if job.cost.note), None),
        cost_cap_usd=deps.settings.max_launch_cost_usd,
        sandbox=deps.sandbox,
        warnings=warnings,
    )


def chosen_models(models: Sequence[str]) -> list[ModelSize]:
    """The model sizes a launch or a sweep asked for, each once, else a refusal naming the field."""
    if not models or len(set(models)) != len(models):
        raise Invalid("invalid_models", 'models: give ["11b"], ["90b"] or ["11b", "90b"]', "models")
    sizes: list[ModelSize] = []
    for model in models:
        if model not in MODEL_SIZES:
            raise Invalid("invalid_models", f"models: {model!r} is not 11b or 90b", "models")
        sizes.append(model)
    return sizes


def refuse_sizes_the_data_does_not_fit(report: dict[str, Any], models: Sequence[ModelSize]) -> None:
    """A size some records are too long for would fail at Bedrock: refuse it, naming the records."""
    fit = report.get("model_fit") or {}
    fits = fit.get("fits")
    if fits is None:
        return  # a report from before model fit was recorded
    for model in models:
        if model not in fits:
            named = ", ".join((fit.get("records_over_limit") or {}).get(model, [])[:5])
            count = int((fit.get("over_limit") or {}).get(model, 0))
            raise Conflict(
                "dataset_does_not_fit_model",
                f"{count:,} records of this dataset are over Llama 3.2 {model.upper()}'s per-record token "
                f"limit ({named}{' ...' if count > 5 else ''}): launch "
                f"{' or '.join(size.upper() for size in fits) or 'no size'} instead, or shorten those "
                "records and check the dataset again",
                "models",
            )


def guard_cost(settings: Settings, approved_by: str | None, total: float) -> None:
    """Refuse a launch whose estimate (the figure the user was shown) is above the cap, unless approved."""
    if total <= settings.max_launch_cost_usd:
        return
    limit = f"${settings.max_launch_cost_usd:,.2f} (TUNEBOT_MAX_LAUNCH_COST_USD)"
    if approved_by is None:
        admins = ", ".join(settings.admins) or "none configured: set TUNEBOT_ADMINS"
        raise Forbidden(
            "approval_required",
            f"the estimate ${total:,.2f} is above {limit}: an admin ({admins}) must approve the launch",
            "approved_by",
        )
    if approved_by not in settings.admins:
        raise Forbidden(
            "not_an_admin",
            f"{approved_by} is not in TUNEBOT_ADMINS, so cannot approve ${total:,.2f} above {limit}",
            "approved_by",
        )
