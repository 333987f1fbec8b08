"""What a caller of ``prepare`` may ask for (``PrepareOptions``), and the refusal of options that cannot
work (``UsageError``): this changes when the CLI, the API or the service's checks gain a knob."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.aws.s3 import split_s3_uri
from services.datasets.images import ImagePolicy
from services.datasets.readers import FORMATS as READER_FORMATS
from services.datasets.split import SplitPlan
from services.tuning.pricing import PriceTable
from services.tuning.recommend import ModelSize

FORMATS = ("auto", *READER_FORMATS)
SPLIT_MODES = ("source", "random")

# stage ("read", "write", "upload"), items done, total when known
ProgressCallback = Callable[[str, int, int | None], None]


class UsageError(Exception):
    """The options cannot work (unknown format, --upload without a bucket ...): exit code 2."""


@dataclass(frozen=True, slots=True)
class PrepareOptions:
    out_dir: Path
    format: str = "auto"
    s3_uri: str | None = None
    upload: bool = False
    split: SplitPlan = field(default_factory=SplitPlan)
    system: str | None = None
    model: ModelSize | None = None
    image_column: str | None = None
    question_column: str | None = None
    answer_column: str | None = None
    # The question of records that have none (captioning): None uses readers.DEFAULT_INSTRUCTION.
    instruction: str | None = None
    image_policy: ImagePolicy = field(default_factory=ImagePolicy)
    workers: int | None = None  # None: one per core; 1: no pool, everything in this process
    prices: PriceTable | None = None
    upload_concurrency: int = 16
    # For datasets from strangers (Slack uploads, the API): a record may only name image files inside
    # the dataset itself, never elsewhere on the service's disk (another team's data, say).
    confine_images: bool = False
    # For the same strangers: the s3:// prefixes a Bedrock record's images may be read from (None: any).
    allowed_s3_prefixes: tuple[str, ...] | None = None

    def problems(self) -> list[str]:
        found = list(self.split.problems())
        if self.format not in FORMATS:
            found.append(f"unknown --format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.s3_uri is not None:
            try:
                split_s3_uri(self.s3_uri)
            except ValueError as exc:
                found.append(f"--s3-uri: {exc}")
        if self.upload and self.s3_uri is None:
            found.append("--upload needs a bucket: pass --s3-uri s3://bucket/prefix or set TUNEBOT_S3_URI")
        return found
