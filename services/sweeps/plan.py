"""What a sweep would run and cost, from the parent dataset's report: one job per (size, model size).

Pure. The estimate a user is shown before anything starts and the figure each job's own launch stores
come from the same inputs: a subset's report (``subset_report``) carries the training tokens
``subset_tokens`` gives, and ``services.jobs.estimate.plan_launch`` prices that report with the one
cost model, exactly as ``plan_cells`` does here. So the sweep's total is the sum of its launches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.sweeps.model import jobs_per_cell
from services.tuning.costs import CostEstimate, estimate_cost
from services.tuning.pricing import PriceTable
from services.tuning.recommend import MODEL_SIZES, ModelSize, recommend

SUBSET_TOKENS_NOTE = (
    "a subset's training tokens are the dataset's in proportion to its share of the training records"
)


@dataclass(frozen=True, slots=True)
class PlannedCell:
    train_size: int
    model: ModelSize
    epochs: int
    learning_rate: float
    cost: CostEstimate


def _counts(report: Mapping[str, Any]) -> Mapping[str, Any]:
    return report.get("counts") or {}


def _tokens(report: Mapping[str, Any]) -> Mapping[str, Any]:
    return report.get("tokens") or {}


def train_records(report: Mapping[str, Any]) -> int:
    return int(_counts(report).get("train", 0))


def subset_tokens(report: Mapping[str, Any], train_size: int) -> int:
    """The training tokens of a subset of ``train_size`` records (see ``SUBSET_TOKENS_NOTE``)."""
    total, records = int(_tokens(report).get("train_total", 0)), train_records(report)
    if records <= 0:
        return 0
    return total if train_size >= records else round(total * train_size / records)


def job_cost(
    report: Mapping[str, Any], model: ModelSize, train_size: int, prices: PriceTable
) -> tuple[int, float, CostEstimate]:
    """Epochs and learning rate from the size rules for ``train_size``, and the job's estimate."""
    recommendation = recommend(train_size, model)
    cost = estimate_cost(
        model=model,
        epochs=recommendation.epochs,
        train_tokens=subset_tokens(report, train_size),
        test_records=int(_counts(report).get("test", 0)),
        test_tokens=int(_tokens(report).get("test_total", 0)),
        prices=prices,
    )
    return recommendation.epochs, recommendation.learning_rate, cost


def plan_cells(
    report: Mapping[str, Any], sizes: Sequence[int], models: Sequence[ModelSize], prices: PriceTable
) -> list[PlannedCell]:
    """Every job of the sweep, smallest training size first, each priced as its launch will price it."""
    cells = []
    for size, model in jobs_per_cell(models, sizes):
        epochs, learning_rate, cost = job_cost(report, model, size, prices)  # type: ignore[arg-type]
        cells.append(PlannedCell(size, model, epochs, learning_rate, cost))  # type: ignore[arg-type]
    return cells


def candidate_costs(
    report: Mapping[str, Any], models: Sequence[str], sizes: Sequence[int], prices: PriceTable
) -> dict[tuple[str, int], float]:
    """What each next step the verdict weighs would cost: every swept (model, size), and each model on
    twice the largest size, priced per record like the dataset's own (data not collected yet)."""
    records = max(train_records(report), 1)
    total = int(_tokens(report).get("train_total", 0))
    costs: dict[tuple[str, int], float] = {}
    for model in models:
        for size in (*sizes, max(sizes) * 2):
            scaled = {
                **report,
                "counts": {**_counts(report), "train": size},
                "tokens": {**_tokens(report), "train_total": round(total * size / records)},
            }
            costs[(model, size)] = job_cost(scaled, model, size, prices)[2].total_usd  # type: ignore[arg-type]
    return costs


def subset_report(
    parent: Mapping[str, Any],
    train_size: int,
    prices: PriceTable,
    *,
    parent_id: str,
    sweep_id: str,
    seed: int,
    s3_uri: str,
) -> dict[str, Any]:
    """The report of a subset dataset: the parent's, with the subset's count, tokens and prices."""
    report = dict(parent)
    report["counts"] = {**_counts(parent), "train": train_size}
    report["tokens"] = {**_tokens(parent), "train_total": subset_tokens(parent, train_size)}
    fits = tuple((parent.get("model_fit") or {}).get("fits") or MODEL_SIZES)
    recommendation = recommend(train_size, None, fits=fits)
    report["recommendation"] = recommendation.model_dump(mode="json")
    by_model = {model: job_cost(report, model, train_size, prices)[2] for model in MODEL_SIZES}
    report["cost_by_model"] = {model: cost.model_dump(mode="json") for model, cost in by_model.items()}
    report["cost_estimate"] = by_model[recommendation.model].model_dump(mode="json")
    report["sweep"] = {
        "sweep_id": sweep_id,
        "parent_dataset_id": parent_id,
        "train_size": train_size,
        "parent_train_records": train_records(parent),
        "seed": seed,
        "note": SUBSET_TOKENS_NOTE,
    }
    report["s3_uri"] = s3_uri
    report["out_dir"] = s3_uri
    report.pop("upload", None)
    return report
