"""The 11B-vs-90B comparison's records: what goes in (per-example outcomes and costs per size) and the
`SizeComparison` that comes out, stored as JSON on the launch, served by the API and rendered for Slack.

Pure data (pydantic, frozen). All summary figures are in points (0–100); per-example inputs are in
0–1, as the metrics return them. ``compare`` computes it; ``verdict`` words it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ModelSize(StrEnum):
    SMALL = "11B"
    LARGE = "90B"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ------------------------------------------------------------------------------------------- inputs


class ExampleOutcome(_Frozen):
    """One model's answer to one test example and its score (0–1)."""

    example_id: str
    f1: float = Field(ge=0.0, le=1.0)
    exact_match: float = Field(ge=0.0, le=1.0)
    prediction: str = ""
    question: str = ""
    references: tuple[str, ...] = ()


class SizeEvaluation(_Frozen):
    """Everything measured for one model size: base and fine-tuned outcomes on the same test set.

    The costs are the parts of the job's launch estimate (training and storage; evaluation), so the
    comparison's total is the figure the user saw before launching; ``evaluation_billed_usd`` is the
    evaluation as it ran, priced by the same functions, shown beside it and never added to it.
    """

    size: ModelSize
    base: tuple[ExampleOutcome, ...]
    fine_tuned: tuple[ExampleOutcome, ...]
    training_cost_usd: float | None = Field(default=None, ge=0.0)
    evaluation_cost_usd: float | None = Field(default=None, ge=0.0)
    evaluation_billed_usd: float | None = Field(default=None, ge=0.0)
    cost_note: str | None = None
    training_seconds: float | None = Field(default=None, ge=0.0)


# ------------------------------------------------------------------------------------------ outputs


class Interval(_Frozen):
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


class SizeSummary(_Frozen):
    size: ModelSize
    base_f1: float
    base_exact_match: float
    fine_tuned_f1: float
    fine_tuned_exact_match: float
    base_f1_interval: Interval
    fine_tuned_f1_interval: Interval
    f1_uplift_points: float
    f1_uplift_percent: float | None = Field(description="None when the base model scored 0")
    exact_match_uplift_points: float
    exact_match_uplift_percent: float | None
    training_cost_usd: float | None = Field(description="the launch estimate's training and storage")
    evaluation_cost_usd: float | None = Field(description="the launch estimate's evaluation")
    total_cost_usd: float | None = Field(
        description="the launch estimate (training + evaluation), the figure shown at launch; None if unknown"
    )
    f1_per_dollar: float | None = Field(description="fine-tuned F1 points per USD of estimated cost")
    training_seconds: float | None
    evaluation_billed_usd: float | None = Field(
        default=None, description="the evaluation as it ran, priced from its tokens and hours"
    )


class SizeDifference(_Frozen):
    """Fine-tuned 90B minus fine-tuned 11B, paired on the same examples."""

    f1_points: float
    interval: Interval
    excludes_zero: bool
    confidence: float
    resamples: int
    seed: int


class Disagreement(_Frozen):
    example_id: str
    question: str
    references: tuple[str, ...]
    answer_11b: str
    answer_90b: str
    f1_11b: float
    f1_90b: float


class SizeComparison(_Frozen):
    sandbox: bool
    metric: str
    example_count: int
    unpaired_example_count: int = Field(description="examples left out because a run lacks them")
    model_11b: SizeSummary
    model_90b: SizeSummary
    difference: SizeDifference
    cost_ratio: float | None = Field(description="90B total cost / 11B total cost")
    small_share_of_large_f1_percent: float | None = Field(description="11B fine-tuned F1 as % of 90B's")
    disagreements: tuple[Disagreement, ...]
    verdict: str
    cost_note: str | None = Field(default=None, description="set when a price behind the costs is doubtful")
