"""The sandbox's stand-in for Bedrock inference and Provisioned Throughput (DESIGN §8).

The simulated models answer questions from the sandbox's own prepared test sets: each model is right
with a fixed probability, drawn from a hash of the example so a rerun gives the same answers. The
fine-tuned models are right more often than the base models and 90B more than 11B, so the comparison
downstream has something plausible to say. Nothing here is a measurement: every result built on it is
labelled "sandbox: simulated results" by the runner.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from services.evaluation.inference import OwnedThroughput, Reply

# (fine-tuned?, size) -> chance of answering right; in the spirit of the seed's uplifts.
ACCURACY = {(False, "11b"): 0.62, (False, "90b"): 0.66, (True, "11b"): 0.78, (True, "90b"): 0.84}
SANDBOX_ACCOUNT = "123456789012"


class SimulatedInference:
    """Implements ``services.evaluation.inference.Inference`` offline."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._answers: dict[tuple[str, str], str] = {}  # (question, image sha256) -> reference
        self._loaded: dict[Path, float] = {}
        self._throughputs: dict[str, OwnedThroughput] = {}
        self._models: dict[str, str] = {}  # provisioned ARN -> size of the custom model behind it
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
        size = self._models.get(model_id) or ("90b" if "90b" in model_id else "11b")
        key = (question, hashlib.sha256(image_bytes).hexdigest() if image_bytes else "")
        reference = self._reference(key)
        # One draw per example for every model: a stronger model is right on a superset of the examples
        # a weaker one gets right, so the simulated ordering never flips by chance on a small test set.
        draw = int.from_bytes(hashlib.sha256("|".join(key).encode()).digest()[:4], "big") / 2**32
        right = reference is not None and draw < ACCURACY[(fine_tuned, size)]
        text = reference if right and reference is not None else "I cannot tell from this image."
        image_tokens = 1601 if image_bytes else 0
        return Reply(text, image_tokens + len(question) // 6 + 1, len(text) // 6 + 1)

    def _reference(self, key: tuple[str, str]) -> str | None:
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
                        self._answers[(texts[-1], image_sha)] = answers[-1]

    # --- Provisioned Throughput ----------------------------------------------------------------------

    def create_provisioned_throughput(self, model_arn: str, name: str, tags: Mapping[str, str]) -> str:
        arn = f"arn:aws:bedrock:us-west-2:{SANDBOX_ACCOUNT}:provisioned-model/{name}"
        with self._lock:
            self._throughputs[arn] = OwnedThroughput(
                arn, tags.get("tunebot:job"), datetime.now(UTC), "InService"
            )
            self._models[arn] = "90b" if "90b" in model_arn.lower() else "11b"
        return arn

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
