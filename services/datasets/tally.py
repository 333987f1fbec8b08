"""What pass 1 of ``prepare`` remembers about the accepted records, and the report made from it.

Per record only packed 16-byte keys, a token count and a split code stay in memory; findings are
counted and listed up to a bound; the few records over a model size's token limit are named.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from services.datasets.model import SourceSplit, error, warning
from services.datasets.report import Counts, FindingLog, JsonAnswers, ModelFit, Report, SplitReport, Tokens
from services.datasets.rules import JsonAnswerTally, record_count_findings, small_test_finding
from services.datasets.split import PackedKeys, Side, SplitOutcome
from services.datasets.writer import PLACEHOLDER_S3_URI
from services.tuning.costs import estimate_cost
from services.tuning.pricing import PriceTable
from services.tuning.recommend import MODEL_SIZES, ModelSize, recommend

SPLIT_CODES: dict[SourceSplit | None, int] = {None: 0, "train": 1, "validation": 2, "test": 3}
SPLIT_NAMES: list[SourceSplit | None] = [None, "train", "validation", "test"]
# Records named per model size that a dataset's records do not fit (the rest are counted).
MAX_NAMED_OVER_LIMIT = 50


@dataclass(slots=True)
class Tally:
    """Everything pass 1 remembers: counters, and 48 bytes plus a token count per accepted record."""

    counts: Counts = field(default_factory=Counts)
    log: FindingLog = field(default_factory=FindingLog)
    json_answers: JsonAnswerTally = field(default_factory=JsonAnswerTally)
    group_keys: PackedKeys = field(default_factory=PackedKeys)
    leak_keys: PackedKeys = field(default_factory=PackedKeys)
    content_keys: PackedKeys = field(default_factory=PackedKeys)
    tokens: array[int] = field(default_factory=lambda: array("q"))
    splits: bytearray = field(default_factory=bytearray)  # the source's split of each, SPLIT_CODES
    over_limit: dict[ModelSize, list[str]] = field(default_factory=dict)  # the first few records named
    over_limit_counts: dict[ModelSize, int] = field(default_factory=dict)
    # Images only rejected records used so far: removed at the end unless an accepted record uses them.
    orphan_candidates: set[str] = field(default_factory=set)


def build_report(
    fmt: str,
    tally: Tally,
    split: SplitOutcome,
    *,
    images: int,
    model: ModelSize | None,
    prices: PriceTable,
    respect_source: bool,
    s3_uri_given: bool,
    s3_uri: str,
    out_dir: str,
) -> Report:
    """report.json from what pass 1 remembered and how the records were split."""
    counts = tally.counts
    totals: dict[Side, int] = {"train": 0, "validation": 0, "test": 0, "unused": 0}
    sized: dict[Side, int] = {"train": 0, "validation": 0, "test": 0, "unused": 0}
    for side, tokens in zip(split.sides, tally.tokens, strict=True):
        totals[side] += tokens
        sized[side] += 1
    counts.train, counts.validation, counts.test = sized["train"], sized["validation"], sized["test"]
    counts.unused = sized["unused"]
    counts.images = images

    tally.log.extend(record_count_findings(counts.train, counts.validation))
    for note in split.notes:
        if "unused.jsonl" in note:
            tally.log.add(warning("split_capped", note))
    small_test = small_test_finding(counts.test)
    if small_test is not None:
        tally.log.add(small_test)
    json_summary = tally.json_answers.finding()
    if json_summary is not None:
        tally.log.add(json_summary)
    if not s3_uri_given:
        tally.log.add(
            warning(
                "placeholder_bucket",
                f"no S3 URI given, so image URIs point at {PLACEHOLDER_S3_URI}: rerun with --s3-uri "
                "s3://bucket/prefix (or set TUNEBOT_S3_URI) before training",
            )
        )
    if counts.accepted == 0 and counts.records == 0:
        tally.log.add(error("bad_record", "the source holds no records: check the path and --format"))

    fit = model_fit(tally, model)
    recommendation = recommend(counts.train, model, fits=tuple(fit.fits))
    # Both sizes, so a user choosing between Launch 11B, 90B or both sees each price.
    cost_by_model = {
        size: estimate_cost(
            model=size,
            epochs=recommendation.epochs,
            train_tokens=totals["train"],
            test_records=counts.test,
            test_tokens=totals["test"],
            prices=prices,
        )
        for size in MODEL_SIZES
    }
    cost = cost_by_model[recommendation.model]
    answers = tally.json_answers
    return Report(
        format=fmt,
        usable=counts.train > 0 and counts.train + counts.validation >= 100 and bool(fit.fits),
        counts=counts,
        errors=tally.log.errors,
        warnings=tally.log.warnings,
        tokens=Tokens(
            max_per_record=max(tally.tokens, default=0),
            train_total=totals["train"],
            validation_total=totals["validation"],
            test_total=totals["test"],
        ),
        model_fit=fit,
        split=SplitReport(
            mode="source" if respect_source else "random",
            source_splits={name: count for name, count in split.source_counts.items() if count},
            notes=list(split.notes),
        ),
        recommendation=recommendation,
        cost_estimate=cost,
        cost_by_model=cost_by_model,
        json_answers=(
            JsonAnswers(json_like=answers.json_like, parse=answers.parsed, plain=answers.plain)
            if answers.json_like
            else None
        ),
        error_counts=dict(tally.log.error_counts),
        warning_counts=dict(tally.log.warning_counts),
        s3_uri=s3_uri,
        out_dir=out_dir,
    )


def model_fit(tally: Tally, model: ModelSize | None) -> ModelFit:
    """Which sizes every accepted record fits, in a sentence that names the records that do not."""
    fits = [size for size in MODEL_SIZES if not tally.over_limit_counts.get(size)]
    if model is not None and model not in fits:
        fits = []  # cannot happen: --model rejects records over its limit
    over = {size: tally.over_limit_counts[size] for size in MODEL_SIZES if tally.over_limit_counts.get(size)}
    if not over:
        summary = "fits " + " and ".join(size.upper() for size in fits)
    else:
        parts = []
        for size, count in over.items():
            named = tally.over_limit[size]
            more = f" and {count - len(named):,} more" if count > len(named) else ""
            parts.append(
                f"{count:,} record{'s' if count != 1 else ''} over {size.upper()}'s limit "
                f"({', '.join(named)}{more})"
            )
        summary = (
            f"fits {' and '.join(size.upper() for size in fits)} only: " if fits else "fits no model: "
        ) + "; ".join(parts)
    return ModelFit(fits=fits, summary=summary, over_limit=over, records_over_limit=dict(tally.over_limit))
