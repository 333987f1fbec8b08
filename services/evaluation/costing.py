"""What an evaluation costs, in USD, from the price table.

The base model is billed on demand per token; the fine-tuned model's no-commitment Provisioned
Throughput by the hour, a started hour counted whole (an estimate should not undercount). Pure
functions; they change when Bedrock's billing (or the price table's shape) does.
"""

from __future__ import annotations

import math

from services.tuning.pricing import PriceTable


def token_cost(prices: PriceTable, model: str, input_tokens: int, output_tokens: int) -> float:
    """On-demand inference cost of the base model's tokens, in USD."""
    table = prices.models[model]  # type: ignore[index]
    return (
        input_tokens * table.inference_input_per_million_tokens.usd
        + output_tokens * table.inference_output_per_million_tokens.usd
    ) / 1_000_000


def throughput_cost(prices: PriceTable, model: str, seconds: float) -> float:
    """No-commitment Provisioned Throughput is billed by the hour: a started hour counts whole."""
    hours = max(1, math.ceil(max(seconds, 0.0) / 3600))
    return hours * prices.models[model].provisioned_throughput_per_hour.usd  # type: ignore[index]
