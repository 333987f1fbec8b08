"""The sandbox's stand-in for Bedrock inference and Provisioned Throughput (DESIGN §8).

The simulated models answer questions from the sandbox's own prepared test sets. How often each is
right follows the seed's published F1 for the nearest study dataset (ChartQA, Cut-VQAv2 or LLaVA), its
size and, once fine-tuned, the dataset's training size (``services.sandbox.scores``); which examples it
gets right mixes each example's difficulty with the model's own luck, drawn from hashes so a rerun gives
the same answers. Nothing here is a measurement: every result built on it is labelled
"sandbox: simulated results" by the runner.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.evaluation.inference import OwnedThroughput, Reply
from services.sandbox.scores import Kind, Size, answers_right, expected_f1, kind_of

SANDBOX_ACCOUNT = "123456789012"
REPORT_FILE = "report.json"
TRAINED_FILE = Path("sandbox") / "trained-models.json"  # written by services.sandbox.trainer
UNSURE = "I cannot tell from this image."
# When a test set has no report beside it: the study's middle size, on its general-purpose mix.
UNKNOWN_PROFILE = ("llava", 1_000)


@dataclass(frozen=True, slots=True)
class Profile:
    """What decides how well a simulated model does on a test set: its kind and the training size."""

    kind: Kind
    train_examples: int


class SimulatedInference:
    """Implements ``services.evaluation.inference.Inference`` offline."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        # (question, image sha256) -> the reference answer and the profile of its dataset
        self._answers: dict[tuple[str, str], tuple[str, Profile]] = {}
        self._loaded: dict[Path, float] = {}
        self._throughputs: dict[str, OwnedThroughput] = {}
        self._models: dict[str, str] = {}  # provisioned ARN -> size of the custom model behind it
        self._trained: dict[str, int] = {}  # provisioned ARN -> training records of its custom model
        self._lock = threading.Lock()

    # --- inference --------------------------------------------------------------------------------

    def converse(
        self,
        model_id: str,
        system: str | None,
        question: str,
        image_bytes: bytes | None,
        image_format: str | None,
        *,
        max_tokens: int = 512,
    ) -> Reply:
        fine_tuned = model_id in self._models
        behind = self._models.get(model_id) or model_id  # a provisioned model's size, or the base model's id
        size: Size = "90b" if "90b" in behind.lower() else "11b"
        key = (question, hashlib.sha256(image_bytes).hexdigest() if image_bytes else "")
        found = self._reference(key)
        text = UNSURE
        if found is not None:
            reference, profile = found
            # A fine-tuned model scores by what it trained on; the test set's report is the fallback.
            trained = self._trained.get(model_id, profile.train_examples)
            chance = expected_f1(profile.kind, size, fine_tuned, trained) / 100
            # The luck is the size's, shared by its base and fine-tuned models: fine-tuning (a higher chance)
            # then keeps every example the base model gets right, as the study's uplift suggests, while
            # 11B and 90B still disagree on some examples.
            if answers_right("|".join(key), size, chance):
                text = reference
        image_tokens = 1601 if image_bytes else 0
        return Reply(text, image_tokens + len(question) // 6 + 1, len(text) // 6 + 1)

    def _reference(self, key: tuple[str, str]) -> tuple[str, Profile] | None:
        with self._lock:
            if key not in self._answers:
                self._load_test_sets()
            return self._answers.get(key)

    def _load_test_sets(self) -> None:
        for path in self._data_dir.glob("datasets/*/test.jsonl"):
            mtime = path.stat().st_mtime
            if self._loaded.get(path) == mtime:
                continue
            self._loaded[path] = mtime
            profile = _profile(path.parent / REPORT_FILE)
            with path.open(encoding="utf-8") as lines:
                for line in lines:
                    record = json.loads(line)
                    messages = record.get("messages", [])
                    texts = [
                        item["text"]
                        for message in messages
                        if message.get("role") == "user"
                        for item in message.get("content", [])
                        if "text" in item
                    ]
                    answers = [
                        item["text"]
                        for message in messages
                        if message.get("role") == "assistant"
                        for item in message.get("content", [])
                        if "text" in item
                    ]
                    images = [
                        item["image"]["source"]["s3Location"]["uri"]
                        for message in messages
                        if message.get("role") == "user"
                        for item in message.get("content", [])
                        if "image" in item
                    ]
                    # Images are stored under their SHA-256, so the file name identifies the bytes.
                    image_sha = images[0].rsplit("/", 1)[-1].split(".")[0] if images else ""
                    if texts and answers:
                        self._answers[(texts[-1], image_sha)] = (answers[-1], profile)

    # --- Provisioned Throughput ----------------------------------------------------------------------

    def create_provisioned_throughput(self, model_arn: str, name: str, tags: Mapping[str, str]) -> str:
        arn = f"arn:aws:bedrock:us-west-2:{SANDBOX_ACCOUNT}:provisioned-model/{name}"
        with self._lock:
            self._throughputs[arn] = OwnedThroughput(
                arn, tags.get("tunebot:job"), datetime.now(UTC), "InService"
            )
            self._models[arn] = "90b" if "90b" in model_arn.lower() else "11b"
            trained = self._trained_records(model_arn)
            if trained is not None:
                self._trained[arn] = trained
        return arn

    def _trained_records(self, model_arn: str) -> int | None:
        try:
            value = json.loads((self._data_dir / TRAINED_FILE).read_text(encoding="utf-8")).get(model_arn)
        except (OSError, ValueError):
            return None
        return int(value) if isinstance(value, int) else None

    def describe_provisioned_throughput(self, arn_or_name: str) -> OwnedThroughput | None:
        with self._lock:
            for arn, throughput in self._throughputs.items():
                if arn_or_name in (arn, arn.rsplit("/", 1)[-1]):
                    return throughput
        return None

    def wait_in_service(self, arn: str, timeout: float) -> None:
        return None  # a simulated throughput is in service at once

    def delete_provisioned_throughput(self, arn: str) -> None:
        with self._lock:
            self._throughputs.pop(arn, None)

    def list_owned_provisioned_throughputs(self) -> list[OwnedThroughput]:
        with self._lock:
            return list(self._throughputs.values())


def _profile(report_path: Path) -> Profile:
    """The dataset's kind (from its source format) and training size, from the report beside its test set."""
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        train = int(report["counts"]["train"])
        return Profile(kind_of(report.get("format")), train)
    except (OSError, ValueError, KeyError, TypeError):
        kind, train = UNKNOWN_PROFILE
        return Profile(kind_of(kind), train)
