"""What a finished job left behind, in tunebot's terms. Pure: CSV text in, values out.

- Bedrock's metrics CSVs -> loss points (training per step, validation per epoch).
- Bedrock's failure message -> the likely fix, from a table of known failures.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

from services.evaluation.charts import LossCurve, LossPoint

STOPPED_NOTE = "A stopped job cannot be resumed, and the tokens it already used are billed."

# (pattern in Bedrock's failure message, what to do). The first match wins.
KNOWN_FAILURES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"name is currently in use|already exists", re.IGNORECASE),
        "A job or custom model with this name exists already: launch again (tunebot picks a new name) "
        "or delete the old custom model in the Bedrock console.",
    ),
    (
        re.compile(r"access ?denied|not authorized|permission|s3.*forbidden|unable to access", re.IGNORECASE),
        "Bedrock could not read the data or write the output: give the role in TUNEBOT_ROLE_ARN "
        "s3:GetObject and s3:ListBucket on the dataset and images, s3:PutObject on TUNEBOT_S3_URI, and "
        "check its trust policy allows bedrock.amazonaws.com.",
    ),
    (
        re.compile(r"quota|limit exceeded|too many (concurrent|jobs)", re.IGNORECASE),
        "The account's quota of concurrent customization jobs is used up: wait for a running job to "
        "finish, or ask for a higher quota in Service Quotas (Amazon Bedrock).",
    ),
    (
        re.compile(
            r"format|schema|json|invalid (record|data|input)|validation of (the )?data", re.IGNORECASE
        ),
        "Bedrock rejected the data format: run `tunebot prepare` on the source again and launch from "
        "its output; every record must follow bedrock-conversation-2024 with S3 image URIs.",
    ),
    (
        re.compile(r"token|too long|exceeds.*length", re.IGNORECASE),
        "A record is longer than the model allows (16,000 tokens for 11B, 10,000 for 90B): shorten it "
        "or split it, then prepare the dataset again.",
    ),
    (
        re.compile(r"hyper ?parameter|learningRate|epochCount|batchSize", re.IGNORECASE),
        "A hyperparameter is out of Bedrock's range: epochs 1-10, learning rate 5e-6 to 0.1, batch size 1.",
    ),
    (
        re.compile(r"internal (server )?error|service unavailable", re.IGNORECASE),
        "Bedrock failed on its side: launch the job again; if it fails twice, open an AWS support case "
        "with the job ARN.",
    ),
)
UNKNOWN_FAILURE_HINT = (
    "tunebot does not recognise this failure: read Bedrock's message above, fix what it names, and "
    "launch again."
)


def failure_hint(message: str | None) -> str:
    """The likely fix for Bedrock's ``failureMessage``."""
    for pattern, hint in KNOWN_FAILURES:
        if message and pattern.search(message):
            return hint
    return UNKNOWN_FAILURE_HINT


def _rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    return [{(key or "").strip(): (value or "").strip() for key, value in row.items()} for row in reader]


def _number(row: dict[str, str], *names: str) -> float | None:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            try:
                return float(value)
            except ValueError:
                return None
    return None


def parse_training_metrics(text: str) -> list[LossPoint]:
    """``step_number, epoch_number, training_loss, perplexity`` -> one point per step with a loss."""
    points = []
    for row in _rows(text):
        step = _number(row, "step_number", "step")
        epoch = _number(row, "epoch_number", "epoch")
        loss = _number(row, "training_loss", "loss")
        if step is not None and loss is not None:
            points.append(LossPoint(step=int(step), epoch=int(epoch or 0), loss=loss))
    return points


def parse_validation_metrics(text: str, training: list[LossPoint]) -> list[LossPoint]:
    """``validation_loss`` rows (one per epoch) -> points placed at the last training step of each epoch.

    When the file has step or epoch columns they are used; otherwise row ``n`` is the n-th epoch seen
    in training.
    """
    last_step_of_epoch: dict[int, int] = {}
    for point in training:
        last_step_of_epoch[point.epoch] = max(point.step, last_step_of_epoch.get(point.epoch, point.step))
    epochs = sorted(last_step_of_epoch)
    points = []
    for index, row in enumerate(_rows(text)):
        loss = _number(row, "validation_loss", "loss")
        if loss is None:
            continue
        epoch_value = _number(row, "epoch_number", "epoch")
        if epoch_value is not None:
            epoch = int(epoch_value)
        else:
            epoch = epochs[index] if index < len(epochs) else index + 1
        step_value = _number(row, "step_number", "step")
        step = int(step_value) if step_value is not None else last_step_of_epoch.get(epoch, index + 1)
        points.append(LossPoint(step=step, epoch=epoch, loss=loss))
    return points


def curve_from_csv(label: str, training_csv: str | None, validation_csv: str | None) -> LossCurve:
    training = parse_training_metrics(training_csv) if training_csv else []
    validation = parse_validation_metrics(validation_csv, training) if validation_csv else []
    return LossCurve(label=label, training=training, validation=validation)


def curve_from_json(label: str, metrics: Mapping[str, Any]) -> LossCurve:
    """The inverse of ``curve_to_json``: a stored curve back as points, to plot it again."""

    def points(items: Any) -> list[LossPoint]:
        return [
            LossPoint(step=int(p["step"]), epoch=int(p["epoch"]), loss=float(p["loss"])) for p in items or []
        ]

    return LossCurve(
        label=label, training=points(metrics.get("training")), validation=points(metrics.get("validation"))
    )


def curve_to_json(curve: LossCurve) -> dict[str, Any]:
    """The curve as stored in ``Job.metrics`` and returned by the API."""

    def points(items: Any) -> list[dict[str, Any]]:
        return [{"step": p.step, "epoch": p.epoch, "loss": p.loss} for p in items]

    return {
        "training": points(curve.training),
        "validation": points(curve.validation),
        "final_training_loss": curve.training[-1].loss if curve.training else None,
        "final_validation_loss": curve.validation[-1].loss if curve.validation else None,
    }
