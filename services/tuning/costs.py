"""The one cost model: what a fine-tuning job and its evaluation cost, from the price table. Pure.

Every figure tunebot shows comes from these functions: the dataset report's estimate, the launch's
estimate (which the cost cap compares), the evaluation's priced usage, and the comparison. A figure is
always an estimate, and when a price it used is a placeholder or unconfirmed, ``price_note`` says so
in a few words with how to set real prices.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel

from services.tuning.pricing import ModelPrices, PriceTable
from services.tuning.recommend import ModelSize

# Evaluation assumptions: how many test records a provisioned model answers per hour, and how long an
# answer is (SQuAD-style short answers; the runner caps replies well above this).
EVALUATION_RECORDS_PER_HOUR = 1_800
EVALUATION_ANSWER_TOKENS = 64
SECONDS_PER_HOUR = 3_600

# The prices each part of an estimate uses, so its note names only the prices it rests on.
TRAINING_PRICES = ("training_per_million_tokens", "storage_per_model_month")
EVALUATION_PRICES = (
    "inference_input_per_million_tokens",
    "inference_output_per_million_tokens",
    "provisioned_throughput_per_hour",
)
HOW_TO_SET_PRICES = "set real ones in TUNEBOT_PRICES_FILE"


def token_cost(prices: PriceTable, model: str, input_tokens: int, output_tokens: int) -> float:
    """On-demand inference of the base model, billed per token, in USD."""
    table = _model(prices, model)
    return (
        input_tokens * table.inference_input_per_million_tokens.usd
        + output_tokens * table.inference_output_per_million_tokens.usd
    ) / 1_000_000


def throughput_hours(seconds: float) -> int:
    """No-commitment Provisioned Throughput bills by the hour: a started hour counts whole."""
    return max(1, math.ceil(max(seconds, 0.0) / SECONDS_PER_HOUR))


def throughput_cost(prices: PriceTable, model: str, seconds: float) -> float:
    """The fine-tuned model's Provisioned Throughput for ``seconds``, in USD."""
    return throughput_hours(seconds) * _model(prices, model).provisioned_throughput_per_hour.usd


def training_cost(prices: PriceTable, model: str, trained_tokens: int) -> float:
    """Bedrock bills customization by tokens trained: the dataset's tokens times the epochs."""
    return trained_tokens / 1_000_000 * _model(prices, model).training_per_million_tokens.usd


def evaluation_seconds(test_records: int) -> float:
    """How long the fine-tuned model's run is expected to hold its Provisioned Throughput."""
    return test_records / EVALUATION_RECORDS_PER_HOUR * SECONDS_PER_HOUR


def price_note(prices: PriceTable, model: str, names: Iterable[str]) -> str | None:
    """A few words on the prices ``names`` of ``model`` that are not published figures, or None."""
    table = _model(prices, model)
    statuses = {getattr(table, name).status for name in names}
    if "placeholder" in statuses:
        return f"placeholder prices: {HOW_TO_SET_PRICES}"
    if "unconfirmed" in statuses:
        return f"unconfirmed prices: {HOW_TO_SET_PRICES}"
    return None


class CostEstimate(BaseModel):
    """An estimate, never a quote: ``note`` says how far to trust it, ``unconfirmed`` names the prices."""

    estimate: Literal[True] = True
    model: ModelSize
    epochs: int
    training_tokens: int
    training_usd: float
    storage_usd_per_month: float
    evaluation_usd: float
    total_usd: float
    currency: str
    prices_as_of: str
    unconfirmed: list[str]
    assumptions: list[str]
    note: str | None = None  # None on reports written before notes existed, or when every price is published


def estimate_cost(
    *,
    model: ModelSize,
    epochs: int,
    train_tokens: int,
    test_records: int,
    test_tokens: int,
    prices: PriceTable,
) -> CostEstimate:
    """Training tokens x epochs x price, plus a month of storage, plus the evaluation's inference.

    The evaluation runs the base model on demand (per token) and the custom model on Provisioned
    Throughput, which bills by the hour (at least one): the same functions price the run afterwards.
    """
    table = _model(prices, model)
    trained = train_tokens * epochs
    training = training_cost(prices, model, trained)
    storage = table.storage_per_model_month.usd
    if test_records:
        answers = test_records * EVALUATION_ANSWER_TOKENS
        hours = throughput_hours(evaluation_seconds(test_records))
        evaluation = token_cost(prices, model, test_tokens, answers) + throughput_cost(
            prices, model, evaluation_seconds(test_records)
        )
    else:
        hours, evaluation = 0, 0.0
    used = TRAINING_PRICES + (EVALUATION_PRICES if test_records else ())
    training_usd, storage_usd, evaluation_usd = round(training, 2), round(storage, 2), round(evaluation, 2)
    return CostEstimate(
        model=model,
        epochs=epochs,
        training_tokens=trained,
        training_usd=training_usd,
        storage_usd_per_month=storage_usd,
        evaluation_usd=evaluation_usd,
        # The sum of the rounded parts, so the parts shown always add up to the total shown.
        total_usd=round(training_usd + storage_usd + evaluation_usd, 2),
        currency=prices.currency,
        prices_as_of=prices.as_of.isoformat(),
        unconfirmed=[name for name in table.doubtful() if name in used],
        assumptions=[
            f"evaluation: {hours} hour(s) of Provisioned Throughput for the custom model "
            f"({EVALUATION_RECORDS_PER_HOUR:,} test records per hour) plus the base model on demand",
            "storage: one month of the custom model",
        ],
        note=price_note(prices, model, used),
    )


def estimate_text(usd: float | None, note: str | None = None) -> str:
    """How a cost reads everywhere in text: always "estimated", with the prices' note when it has one."""
    if usd is None:
        return "cost not estimated"
    return f"estimated ${usd:,.2f}" + (f" ({note})" if note else "")


def _model(prices: PriceTable, model: str) -> ModelPrices:
    if model not in prices.models:
        raise ValueError(f"no prices for model {model!r}: the table has {', '.join(prices.models)}")
    return prices.models[model]
