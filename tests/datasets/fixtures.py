"""Small datasets on disk, made from scratch for the tests: real image bytes (Pillow), real PDFs, real
parquet. Every ``make_<format>`` builder returns the path to hand to ``open_source`` / the readers
(a folder, or the single file the format lives in) and gives each record its own image, so images
differ (distinct content hashes) unless a builder says otherwise.

Record ``i`` asks ``question(i)`` and is answered ``answer(i)``, so tests can check content.
"""

from __future__ import annotations

import csv
import io
import json
import random
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageDraw

IMAGE_SIZE = (64, 48)
_PILLOW_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".webp": "WEBP"}


def question(i: int) -> str:
    return f"What is the value of bar {i}?"


def answer(i: int) -> str:
    return str(i * 7)


# Images and documents


def image_bytes(
    size: tuple[int, int] = IMAGE_SIZE, fmt: str = "PNG", seed: int = 0, mode: str = "RGB"
) -> bytes:
    """Encoded image bytes whose pixels depend on ``seed`` (seeds under 3,072 give different pixels)."""
    buffer = io.BytesIO()
    _picture(size, seed, mode).save(buffer, format=fmt)
    return buffer.getvalue()


def png_with_garbage_pixels(size: tuple[int, int] = (64, 48), seed: int = 0) -> bytes:
    """A PNG whose every chunk CRC is right but whose IDAT (the compressed pixels) is garbage: it
    passes ``Image.verify()``, which checks chunks without inflating them."""
    data = image_bytes(size, seed=seed)
    out = bytearray(data[:8])
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IDAT":
            body = random.Random(seed).randbytes(length)
        out += struct.pack(">I", len(body)) + kind + body
        out += struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        position += 12 + length
    return bytes(out)


def make_image(
    path: Path, size: tuple[int, int] = IMAGE_SIZE, seed: int = 0, mode: str = "RGB", fmt: str | None = None
) -> Path:
    """An image file in ``fmt``, by default the format its suffix names (.png, .jpg/.jpeg, .gif, .webp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _picture(size, seed, mode).save(path, format=fmt or _PILLOW_FORMATS[path.suffix.lower()])
    return path


def make_png(path: Path, size: tuple[int, int] = IMAGE_SIZE, seed: int = 0) -> Path:
    return make_image(path, size, seed, fmt="PNG")


def make_jpeg(path: Path, size: tuple[int, int] = IMAGE_SIZE, seed: int = 0) -> Path:
    return make_image(path, size, seed, fmt="JPEG")


def make_gif(path: Path, size: tuple[int, int] = IMAGE_SIZE, seed: int = 0) -> Path:
    return make_image(path, size, seed, mode="P", fmt="GIF")


def make_webp(path: Path, size: tuple[int, int] = IMAGE_SIZE, seed: int = 0) -> Path:
    return make_image(path, size, seed, fmt="WEBP")


def _picture(size: tuple[int, int], seed: int, mode: str) -> Image.Image:
    colour = ((seed * 53) % 256, (seed * 97 + 40) % 256, (seed * 29 + 80) % 256)
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    width, height = size
    draw.rectangle(
        (width // 8, height // 4, width // 8 + 1 + seed % max(width // 2, 1), height - 2), fill=colour
    )
    draw.point((seed % width, (seed // width) % height), fill=(seed % 256, 0, 0))
    return picture.convert(mode) if mode != "RGB" else picture


def make_pdf(path: Path, pages: int = 2, page_size: tuple[int, int] = (612, 792)) -> Path:
    """A real PDF with ``pages`` pages of ``page_size`` points (US Letter by default), each different."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [_picture(page_size, seed, "RGB") for seed in range(1, pages + 1)]
    images[0].save(path, format="PDF", save_all=True, append_images=images[1:], resolution=72.0)
    return path


# Writers


def write_json(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def make_zip(archive: Path, folder: Path, under: str = "") -> Path:
    """Zip ``folder``'s files, with paths relative to it (prefixed by ``under`` when given)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, f"{under}{path.relative_to(folder).as_posix()}")
    return archive


# Datasets, one builder per format


def make_bedrock(
    root: Path,
    n: int,
    text_only: int = 0,
    uri_prefix: str = "s3://example-bucket/images",
    system: str | None = None,
) -> Path:
    """``root/train.jsonl`` in Bedrock's format; the last ``text_only`` records have no image."""
    records = []
    for i in range(n):
        content: list[dict[str, Any]] = [{"text": question(i)}]
        if i < n - text_only:
            content.append(
                {"image": {"format": "png", "source": {"s3Location": {"uri": f"{uri_prefix}/{i}.png"}}}}
            )
        record: dict[str, Any] = {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {"role": "user", "content": content},
                {"role": "assistant", "content": [{"text": answer(i)}]},
            ],
        }
        if system is not None:
            record["system"] = [{"text": system}]
        records.append(record)
    return write_jsonl(root / "train.jsonl", records)


def make_llava(
    root: Path, n: int, text_only: int = 0, jsonl: bool = False, image_dir: str = "images", fmt: str = "png"
) -> Path:
    """``root/llava.json`` (or ``.jsonl``) with images in ``root/<image_dir>/``; the last ``text_only``
    records have no image. Returns ``root``."""
    records = []
    for i in range(n):
        record: dict[str, Any] = {"id": f"sample-{i}"}
        human = question(i)
        if i < n - text_only:
            name = f"{i:06d}.{fmt}"
            make_image(root / image_dir / name, seed=i)
            record["image"] = name
            human = f"<image>\n{human}"
        record["conversations"] = [{"from": "human", "value": human}, {"from": "gpt", "value": answer(i)}]
        records.append(record)
    if jsonl:
        write_jsonl(root / "llava.jsonl", records)
    else:
        write_json(root / "llava.json", records)
    return root


def hf_llava_records(
    n: int, text_only: int = 0, embed: bool = True, image_dir: Path | None = None
) -> list[dict[str, Any]]:
    """llava-instruct-mix-vsft rows: every content item carries index, text and type (nulls included).
    Images are ``{bytes, path}`` structs (``embed``) or paths written under ``image_dir``."""
    rows = []
    for i in range(n):
        has_image = i < n - text_only
        user_content: list[dict[str, Any]] = [{"index": None, "text": question(i), "type": "text"}]
        images: list[Any] = []
        if has_image:
            user_content.insert(0, {"index": 0, "text": None, "type": "image"})
            if embed:
                images.append({"bytes": image_bytes(seed=i), "path": f"{i}.png"})
            else:
                assert image_dir is not None
                make_png(image_dir / f"{i}.png", seed=i)
                images.append(f"{i}.png")
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": user_content},
                    {"role": "assistant", "content": [{"index": None, "text": answer(i), "type": "text"}]},
                ],
                "images": images,
            }
        )
    return rows


def make_hf_llava(root: Path, n: int, text_only: int = 0, parquet: bool = True) -> Path:
    """``root/train.parquet`` with embedded image bytes, or ``root/train.jsonl`` with image files."""
    root.mkdir(parents=True, exist_ok=True)
    if not parquet:
        return write_jsonl(root / "train.jsonl", hf_llava_records(n, text_only, embed=False, image_dir=root))
    item = pa.struct([("index", pa.int64()), ("text", pa.string()), ("type", pa.string())])
    schema = pa.schema(
        [
            ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.list_(item))]))),
            ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ]
    )
    path = root / "train.parquet"
    pq.write_table(pa.Table.from_pylist(hf_llava_records(n, text_only), schema=schema), path)
    return path


def make_chartqa(
    root: Path, n: int, splits: Sequence[str] = ("train", "val", "test"), questions_per_image: int = 1
) -> Path:
    """ChartQA's layout, ``n`` questions per split (half human, half augmented), charts in ``<split>/png``."""
    for split_number, split in enumerate(splits):
        records = []
        for i in range(n):
            image_number = i // questions_per_image
            name = f"{split}_{image_number}.png"
            if i % questions_per_image == 0:
                make_png(root / split / "png" / name, seed=split_number * 1000 + image_number)
            records.append({"imgname": name, "query": question(i), "label": answer(i)})
        half = (n + 1) // 2
        write_json(root / split / f"{split}_human.json", records[:half])
        write_json(root / split / f"{split}_augmented.json", records[half:])
    return root


def vqav2_answers(i: int) -> list[str]:
    """Ten answers, the first six agreeing with ``answer(i)``."""
    return [answer(i)] * 6 + [f"{answer(i)} or so", "no idea", answer(i + 1), answer(i)]


def make_vqav2(root: Path, n: int, subtype: str = "train2014", with_annotations: bool = True) -> Path:
    """VQAv2 questions (and annotations) for ``subtype``, two questions per COCO image in ``<subtype>/``."""
    questions = []
    annotations = []
    for i in range(n):
        image_id = 1000 + i // 2
        if i % 2 == 0:
            make_image(root / subtype / f"COCO_{subtype}_{image_id:012d}.jpg", seed=image_id)
        question_id = image_id * 1000 + i % 2
        questions.append({"image_id": image_id, "question": question(i), "question_id": question_id})
        annotations.append(
            {
                "question_id": question_id,
                "image_id": image_id,
                "question_type": "what is the",
                "answer_type": "number",
                "multiple_choice_answer": answer(i),
                "answers": [
                    {"answer": text, "answer_confidence": "yes", "answer_id": k + 1}
                    for k, text in enumerate(vqav2_answers(i))
                ],
            }
        )
    header = {"info": {"description": "test fixture"}, "license": {"name": "none"}, "data_subtype": subtype}
    write_json(
        root / f"v2_OpenEnded_mscoco_{subtype}_questions.json",
        {**header, "task_type": "Open-Ended", "data_type": "mscoco", "questions": questions},
    )
    if with_annotations:
        write_json(
            root / f"v2_mscoco_{subtype}_annotations.json",
            {**header, "annotations": annotations, "data_type": "mscoco"},
        )
    return root


def docvqa_answers(i: int) -> list[str]:
    return [answer(i), f"${answer(i)}"]


def make_docvqa(root: Path, n: int, split: str = "train", answers: bool = True) -> Path:
    """``root/<split>_v1.0.json`` with grayscale page scans in ``root/documents/``, two questions per page."""
    records = []
    for i in range(n):
        page = f"documents/doc{i // 2:04d}_1.png"
        if i % 2 == 0:
            make_image(root / page, size=(60, 80), seed=i, mode="L")
        record: dict[str, Any] = {
            "questionId": 50_000 + i,
            "question": question(i),
            "image": page,
            "docId": i // 2,
            "data_split": split,
        }
        if answers:
            record["answers"] = docvqa_answers(i)
        records.append(record)
    write_json(
        root / f"{split}_v1.0.json",
        {"dataset_name": "docvqa", "dataset_version": "1.0", "dataset_split": split, "data": records},
    )
    return root


def _table_rows(root: Path, n: int, text_only: int) -> list[tuple[str, str, str]]:
    rows = []
    for i in range(n):
        image = ""
        if i < n - text_only:
            image = f"images/{i}.jpg"
            make_jpeg(root / image, seed=i)
        rows.append((image, question(i), answer(i)))
    return rows


def make_csv(
    root: Path, n: int, text_only: int = 0, columns: Sequence[str] = ("image", "question", "answer")
) -> Path:
    """``root/data.csv`` with JPEG images in ``root/images``; ``columns`` renames image, question, answer."""
    return write_csv(root / "data.csv", columns, _table_rows(root, n, text_only))


def make_jsonl(
    root: Path, n: int, text_only: int = 0, columns: Sequence[str] = ("image", "question", "answer")
) -> Path:
    """``root/data.jsonl`` like ``make_csv``; text-only rows have no image key at all."""
    records = []
    for image, text, reply in _table_rows(root, n, text_only):
        record = {columns[1]: text, columns[2]: reply}
        if image:
            record[columns[0]] = image
        records.append(record)
    return write_jsonl(root / "data.jsonl", records)


def donut_parse(i: int) -> dict[str, Any]:
    return {"total": answer(i), "items": [{"name": f"item {i}", "price": i}]}


def make_donut(root: Path, n: int) -> Path:
    """Donut-style ``root/metadata.jsonl``: ``file_name`` + ``ground_truth`` ('{"gt_parse": ...}' as text)."""
    records = []
    for i in range(n):
        make_png(root / f"receipt_{i}.png", seed=i)
        ground_truth = json.dumps({"gt_parse": donut_parse(i)})
        records.append({"file_name": f"receipt_{i}.png", "ground_truth": ground_truth})
    write_jsonl(root / "metadata.jsonl", records)
    return root


def make_pdf_dataset(
    root: Path, pages: int = 3, questions_per_page: int = 2, questions_as: str = "csv"
) -> Path:
    """``root/report.pdf`` and its questions ``root/report.csv`` (or ``.jsonl``): page, question, answer."""
    make_pdf(root / "report.pdf", pages=pages)
    rows = [
        (page, question(k), answer(k))
        for k, page in enumerate(page for page in range(1, pages + 1) for _ in range(questions_per_page))
    ]
    if questions_as == "csv":
        write_csv(root / "report.csv", ("page", "question", "answer"), rows)
    else:
        write_jsonl(root / "report.jsonl", [{"page": p, "question": q, "answer": a} for p, q, a in rows])
    return root
