"""What `tunebot prepare` is measured against (bench/prepare.py runs each in a child process).

``notebook``: AWS's published data-preparation notebook for Llama 3.2 vision fine-tuning on Bedrock,
reproduced step for step on a ChartQA-shaped folder: aws-samples/amazon-bedrock-workshop,
03_Model_customization/bedrock-models-fine-tuning/meta-llama/Llama-3.2 Multi-modal cusotmization/
01_setup_llama-3.2.ipynb (commit 9f564b1). Its cells: ``json.load`` the whole annotation file; for each
example ``shutil.copy2`` the image into ``llava_images/<subset>/`` (the first 1000 of 1200 train, the next
100 val, the rest test); ``s3_client.upload_file`` each example's image, one after another; build each
record with ``create_jsonl_entry`` (format "png", a ``bucketOwner``) into train/validation/test.jsonl;
``upload_file`` the three files. The client is ``boto3.session.Session(region_name=...).client('s3')``
with boto3's defaults. It decodes no image and converts none.

``floor``: the least work the output needs, on all cores: read, hash and fully decode every distinct
image once, and for an image that must change (transparency to flatten) the conversion and the encode
of the new PNG and its hash. No checks, no records, no files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REGION = "us-west-2"
# The notebook's split of its 1,200 examples: 1,000 train, 100 validation, 100 test.
TRAIN_SHARE, VALIDATION_SHARE = 1000 / 1200, 100 / 1200
SYSTEM_PROMPT = "You are a helpful assistant that can answer questions about images accurately and concisely."


def run_notebook(source: Path, out: Path, bucket: str, account_id: str = "123456789012") -> dict[str, Any]:
    import boto3

    started = time.perf_counter()
    session = boto3.session.Session(region_name=REGION)
    s3_client = session.client("s3")  # AWS_ENDPOINT_URL points it at the stand-in

    images_dir = source / "train" / "png"
    with (source / "train" / "train_human.json").open() as handle:
        dataset = json.load(handle)
    train_count = round(len(dataset) * TRAIN_SHARE)
    validation_count = round(len(dataset) * VALIDATION_SHARE)
    for subset in ("train", "val", "test"):
        os.makedirs(out / "llava_images" / subset, exist_ok=True)

    dataset_list = []
    for copied, example in enumerate(dataset):
        if copied < train_count:
            subset = "train"
        elif copied < train_count + validation_count:
            subset = "val"
        else:
            subset = "test"
        image_filename = os.path.basename(example["imgname"])
        source_path = images_dir / image_filename
        dest_path = out / "llava_images" / subset / image_filename
        if os.path.exists(source_path):
            shutil.copy2(source_path, dest_path)
            example_copy = dict(example)
            example_copy["image_path"] = str(dest_path)
            dataset_list.append(example_copy)
    train_data = dataset_list[:train_count]
    val_data = dataset_list[train_count : train_count + validation_count]
    test_data = dataset_list[train_count + validation_count :]

    def upload_images_to_s3(data_list: list[dict[str, Any]], subset: str) -> list[dict[str, Any]]:
        s3_paths = []
        for example in data_list:
            local_path = example["image_path"]
            s3_key = f"images/{subset}/{os.path.basename(local_path)}"
            s3_client.upload_file(local_path, bucket, s3_key)
            s3_paths.append({"s3_uri": f"s3://{bucket}/{s3_key}", "example": example})
        return s3_paths

    def create_jsonl_entry(example: dict[str, Any], s3_uri: str) -> dict[str, Any]:
        location = {"uri": s3_uri, "bucketOwner": account_id}
        return {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": SYSTEM_PROMPT}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": example["query"]},
                        {"image": {"format": "png", "source": {"s3Location": location}}},
                    ],
                },
                {"role": "assistant", "content": [{"text": example["label"]}]},
            ],
        }

    def prepare_dataset_jsonl(s3_paths: list[dict[str, Any]], output_file: Path) -> None:
        with open(output_file, "w") as handle:
            for item in s3_paths:
                handle.write(json.dumps(create_jsonl_entry(item["example"], item["s3_uri"])) + "\n")

    uploaded = {
        "train": upload_images_to_s3(train_data, "train"),
        "validation": upload_images_to_s3(val_data, "val"),
        "test": upload_images_to_s3(test_data, "test"),
    }
    for name, s3_paths in uploaded.items():
        prepare_dataset_jsonl(s3_paths, out / f"{name}.jsonl")
        s3_client.upload_file(str(out / f"{name}.jsonl"), bucket, f"data/{name}.jsonl")
    return {
        "seconds": time.perf_counter() - started,
        "accepted": len(dataset_list),
        "images_uploaded": len(dataset_list),
    }


def _floor_one(path: str) -> bool:
    """One image's least work; True when it had to be converted."""
    from PIL import Image

    data = Path(path).read_bytes()
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
            return False
        rgba = image.convert("RGBA")
        if rgba.getchannel("A").getextrema() == (255, 255):
            return False
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
        buffer = io.BytesIO()
        flat.save(buffer, "PNG", compress_level=6)
        hashlib.sha256(buffer.getvalue()).hexdigest()
        return True


def run_floor(source: Path) -> dict[str, Any]:
    started = time.perf_counter()
    rows = json.loads((source / "train" / "train_human.json").read_text())
    paths = sorted({str(source / "train" / "png" / row["imgname"]) for row in rows})
    with ProcessPoolExecutor() as executor:
        converted = sum(executor.map(_floor_one, paths, chunksize=16))
    return {
        "seconds": time.perf_counter() - started,
        "accepted": len(rows),
        "images": len(paths),
        "converted": converted,
    }
