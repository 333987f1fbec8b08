"""report.json: what a person (or the bot) needs to decide whether a dataset is ready for a job.

Findings are listed in full up to ``MAX_LISTED_PER_CODE`` per code so a dataset where every record
fails does not make a report of its own size; ``error_counts`` / ``warning_counts`` always count
every one.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

from services.datasets.model import Finding
from services.tuning.costs import CostEstimate
from services.tuning.recommend import ModelSize, Recommendation

MAX_LISTED_PER_CODE = 1_000


class Counts(BaseModel):
    records: int = 0
    accepted: int = 0
    rejected: int = 0
    train: int = 0
    validation: int = 0
    test: int = 0
    images: int = 0
    text_only: int = 0
    multi_image: int = 0
    unused: int = 0  # accepted, but kept out of train/validation/test to stay within Bedrock's limits


class ReportFinding(BaseModel):
    record: str | None
    code: str
    message: str


class Tokens(BaseModel):
    max_per_record: int = 0
    train_total: int = 0
    validation_total: int = 0
    test_total: int = 0


class JsonAnswers(BaseModel):
    """Present when any answer looks like JSON: how many do, and how many of those parse."""

    json_like: int
    parse: int
    plain: int


class ModelFit(BaseModel):
    """Which Llama 3.2 sizes every accepted record fits (per-record token limits)."""

    fits: list[ModelSize]
    summary: str  # "fits 11B and 90B" or "fits 11B only: 3 records over 90B's limit (...)"
    over_limit: dict[ModelSize, int] = Field(default_factory=dict)
    records_over_limit: dict[ModelSize, list[str]] = Field(default_factory=dict)  # the first ones


class SplitReport(BaseModel):
    """How the records were split, and what was done to stay within Bedrock's limits."""

    mode: str  # "source": the source's own splits kept; "random": pooled and split with the seed
    source_splits: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Upload(BaseModel):
    s3_uri: str
    uploaded: int
    skipped: int
    bytes_uploaded: int


class Report(BaseModel):
    format: str
    usable: bool
    counts: Counts
    errors: list[ReportFinding]
    warnings: list[ReportFinding]
    tokens: Tokens
    model_fit: ModelFit | None = None
    split: SplitReport | None = None
    recommendation: Recommendation
    cost_estimate: CostEstimate  # for the recommended model size
    cost_by_model: dict[ModelSize, CostEstimate] = Field(default_factory=dict)
    json_answers: JsonAnswers | None = None
    error_counts: dict[str, int] = Field(default_factory=dict)
    warning_counts: dict[str, int] = Field(default_factory=dict)
    s3_uri: str
    out_dir: str
    upload: Upload | None = None


class FindingLog:
    """Collects findings as they stream past, keeping a bounded list per code and every count."""

    def __init__(self, max_per_code: int = MAX_LISTED_PER_CODE) -> None:
        self._max = max_per_code
        self.errors: list[ReportFinding] = []
        self.warnings: list[ReportFinding] = []
        self.error_counts: Counter[str] = Counter()
        self.warning_counts: Counter[str] = Counter()

    def add(self, finding: Finding) -> None:
        counts, listed = (
            (self.error_counts, self.errors)
            if finding.severity == "error"
            else (self.warning_counts, self.warnings)
        )
        counts[finding.code] += 1
        if counts[finding.code] <= self._max:
            listed.append(ReportFinding.model_validate(finding.as_dict()))

    def extend(self, findings: tuple[Finding, ...] | list[Finding]) -> None:
        for finding in findings:
            self.add(finding)
