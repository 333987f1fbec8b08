"""What an evaluation costs: the evaluation's names for the one cost model in ``services.tuning.costs``.

The base model is billed on demand per token; the fine-tuned model's no-commitment Provisioned
Throughput by the hour, a started hour counted whole. The launch estimate uses the same functions, so
an estimate and the evaluation's priced usage can only differ by the usage itself.
"""

from __future__ import annotations

from services.tuning.costs import throughput_cost, token_cost

__all__ = ["throughput_cost", "token_cost"]
