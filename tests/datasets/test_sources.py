"""Sources: a folder, a file, a zip (safely), or an S3 prefix becomes a local path to read from."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from services.aws.clients import make_s3_client
from services.datasets.sources import ArchiveLimits, SourceError, open_source, plan_extraction
from tests.datasets.fixtures import make_chartqa, make_csv, make_png, make_zip, write_jsonl


def error_code(call: Any) -> str:
    with pytest.raises(SourceError) as caught:
        call()
    assert caught.value.message  # every refusal says what to do
    return caught.value.code


def zip_with(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


# Folders and single files


def test_a_folder_is_read_where_it_is(tmp_path: Path) -> None:
    dataset = make_chartqa(tmp_path / "charts", 2, splits=("train",))
    assert open_source(str(dataset), tmp_path / "work") == dataset.resolve()
    assert not (tmp_path / "work").exists()  # nothing copied


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet", ".pdf"])
def test_a_single_data_file_is_read_where_it_is(tmp_path: Path, suffix: str) -> None:
    data = tmp_path / f"data{suffix}"
    data.write_bytes(b"x")
    assert open_source(str(data), tmp_path / "work") == data.resolve()


def test_a_missing_source_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(str(tmp_path / "nope.zip"), tmp_path)
    assert caught.value.code == "source_missing"
    assert "s3://bucket/prefix" in caught.value.message


def test_a_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert error_code(lambda: open_source(str(notes), tmp_path)) == "source_unsupported"


# Zip archives


def test_a_zipped_folder_reads_from_that_folder(tmp_path: Path) -> None:
    make_chartqa(tmp_path / "src", 2, splits=("train",))
    archive = make_zip(tmp_path / "charts.zip", tmp_path / "src", under="ChartQA Dataset/")
    root = open_source(str(archive), tmp_path / "work")
    assert root.name == "ChartQA Dataset"
    assert (root / "train" / "train_human.json").is_file()
    assert root.is_relative_to((tmp_path / "work").resolve())


def test_a_zip_of_loose_files_reads_from_the_extraction_folder(tmp_path: Path) -> None:
    make_csv(tmp_path / "src", 3)
    archive = make_zip(tmp_path / "table.zip", tmp_path / "src")
    root = open_source(str(archive), tmp_path / "work")
    assert sorted(path.name for path in root.iterdir()) == ["data.csv", "images"]
    assert len(list((root / "images").iterdir())) == 3


def test_macos_archive_clutter_is_left_out(tmp_path: Path) -> None:
    archive = zip_with(
        tmp_path / "mac.zip",
        {"data/train.jsonl": b"{}\n", "__MACOSX/data/._train.jsonl": b"junk", "data/.DS_Store": b"junk"},
    )
    root = open_source(str(archive), tmp_path / "work")
    assert [path.name for path in root.rglob("*")] == ["train.jsonl"]


@pytest.mark.parametrize(
    "name", ["../evil.txt", "data/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt", "C:/evil.txt"]
)
def test_zip_slip_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    archive = zip_with(tmp_path / "slip.zip", {"data/ok.txt": b"fine", name: b"pwned"})
    work = tmp_path / "work"
    assert error_code(lambda: open_source(str(archive), work)) == "archive_unsafe"
    assert not (tmp_path / "evil.txt").exists()
    assert not work.exists() or not any(work.rglob("*"))


def test_a_symlink_member_is_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("data/passwords")
    link.create_system = 3  # unix, so external_attr carries the file type
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("data/train.jsonl", b"{}\n")
        bundle.writestr(link, "/etc/passwd")
    work = tmp_path / "work"
    with pytest.raises(SourceError) as caught:
        open_source(str(archive), work)
    assert caught.value.code == "archive_unsafe"
    assert "symbolic link" in caught.value.message
    assert not work.exists() or not any(work.rglob("*"))


def test_a_zip_bomb_is_refused_by_its_compression_ratio(tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "bomb.zip", {"data/zeros.jsonl": b"\0" * (4 << 20)})
    limits = ArchiveLimits(max_ratio=100, ratio_floor_bytes=1 << 20)
    with pytest.raises(SourceError) as caught:
        open_source(str(archive), tmp_path / "work", limits)
    assert caught.value.code == "archive_bomb"
    assert "compressed size" in caught.value.message
    assert not (tmp_path / "work").exists()  # refused from the headers, before extracting


def test_a_small_repetitive_archive_is_not_a_bomb(tmp_path: Path) -> None:
    repetitive = b'{"question": "same", "answer": "same"}\n' * 20_000  # compresses ~500x, but under 1 MiB
    archive = zip_with(tmp_path / "small.zip", {"data.jsonl": repetitive})
    root = open_source(str(archive), tmp_path / "work")
    assert root.read_bytes() == repetitive


def test_a_zip_bomb_is_refused_by_its_total_size(tmp_path: Path) -> None:
    archive = zip_with(
        tmp_path / "big.zip", {"a.bin": os.urandom(3000), "b.bin": os.urandom(3000)}, zipfile.ZIP_STORED
    )
    assert error_code(lambda: open_source(str(archive), tmp_path, ArchiveLimits(max_total_bytes=5000))) == (
        "archive_bomb"
    )


def test_a_zip_with_too_many_files_is_refused(tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "many.zip", {f"{i}.txt": b"x" for i in range(6)})
    assert (
        error_code(lambda: open_source(str(archive), tmp_path, ArchiveLimits(max_members=5)))
        == "archive_bomb"
    )


def lying_zip(path: Path, real_size: int, declared_size: int) -> Path:
    """A zip whose headers (local and central) declare a smaller size than the data expands to."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("data.jsonl", b"\0" * real_size)
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 22, declared_size)  # local file header: uncompressed size
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared_size)  # central directory: uncompressed size
    path.write_bytes(bytes(data))
    return path


def test_a_zip_whose_headers_lie_about_sizes_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    archive = lying_zip(tmp_path / "liar.zip", real_size=2_000_000, declared_size=1000)
    work = tmp_path / "work"
    # Passes the header checks (1000 bytes declared), so it is caught while streaming: never more than
    # the declared bytes are written, and the damaged member fails its checksum.
    assert error_code(lambda: open_source(str(archive), work, ArchiveLimits(max_total_bytes=10_000))) in (
        "archive_bomb",
        "archive_corrupt",
    )
    assert not any(work.iterdir())  # the partial extraction was removed


def test_streamed_bytes_are_counted_against_the_declared_size(tmp_path: Path) -> None:
    from services.datasets.sources import _copy_counted

    info = zipfile.ZipInfo("data.jsonl")
    info.file_size = 10
    with pytest.raises(SourceError) as caught:
        _copy_counted(io.BytesIO(b"x" * 11), io.BytesIO(), info, 0, ArchiveLimits(), "liar.zip")
    assert caught.value.code == "archive_bomb"


def test_an_encrypted_zip_is_refused_with_advice() -> None:
    member = zipfile.ZipInfo("data.jsonl")
    member.flag_bits |= 0x1
    with pytest.raises(SourceError) as caught:
        plan_extraction([member], ArchiveLimits(), "secret.zip")
    assert caught.value.code == "archive_encrypted"
    assert "without a password" in caught.value.message


def test_a_broken_zip_is_reported_as_corrupt(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 this is not really a zip")
    assert error_code(lambda: open_source(str(archive), tmp_path)) == "archive_corrupt"


# S3 prefixes (moto)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = make_s3_client("us-west-2", None)
        client.create_bucket(
            Bucket="team-data", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        yield client


def test_an_s3_prefix_is_downloaded_keeping_relative_paths(s3: Any, tmp_path: Path) -> None:
    make_csv(tmp_path / "src", 3)
    for path in (tmp_path / "src").rglob("*"):
        if path.is_file():
            s3.upload_file(
                str(path), "team-data", f"datasets/charts/{path.relative_to(tmp_path / 'src').as_posix()}"
            )
    s3.put_object(Bucket="team-data", Key="datasets/charts2/other.csv", Body=b"not this one")
    s3.put_object(Bucket="team-data", Key="datasets/charts/images/", Body=b"")  # a console "folder"

    root = open_source("s3://team-data/datasets/charts", tmp_path / "work", s3_client=s3)

    downloaded = sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())
    assert downloaded == ["data.csv", "images/0.jpg", "images/1.jpg", "images/2.jpg"]
    assert (root / "images" / "1.jpg").read_bytes() == (tmp_path / "src" / "images" / "1.jpg").read_bytes()


def test_an_s3_uri_of_one_object_gives_that_file(s3: Any, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [{"question": "q", "answer": "a"}])
    s3.upload_file(str(data), "team-data", "runs/train.jsonl")
    root = open_source("s3://team-data/runs/train.jsonl", tmp_path / "work", s3_client=s3)
    assert root.name == "train.jsonl"
    assert root.read_bytes() == data.read_bytes()


def test_a_zip_in_s3_is_extracted_safely(s3: Any, tmp_path: Path) -> None:
    make_png(tmp_path / "src" / "chart.png")
    archive = make_zip(tmp_path / "upload.zip", tmp_path / "src")
    s3.upload_file(str(archive), "team-data", "uploads/upload.zip")
    root = open_source("s3://team-data/uploads/upload.zip", tmp_path / "work", s3_client=s3)
    assert root.name == "chart.png"


def test_the_default_client_is_built_from_the_region(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket="team-data", Key="d/train.jsonl", Body=b"{}\n")
    root = open_source("s3://team-data/d", tmp_path / "work", region="us-west-2")
    assert (root / "train.jsonl").read_bytes() == b"{}\n"


def test_an_empty_prefix_says_to_check_it(s3: Any, tmp_path: Path) -> None:
    assert error_code(lambda: open_source("s3://team-data/nothing/here", tmp_path, s3_client=s3)) == (
        "source_missing"
    )


def test_a_missing_bucket_is_unreachable_with_advice(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        open_source("s3://no-such-bucket/data", tmp_path, s3_client=s3)
    assert caught.value.code == "s3_unreachable"
    assert "NoSuchBucket" in caught.value.message
    assert "testing" not in caught.value.message  # never echoes credentials


def test_an_s3_prefix_over_the_size_limit_is_refused(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket="team-data", Key="big/a.bin", Body=b"x" * 2000)
    limits = ArchiveLimits(max_total_bytes=1000)
    assert error_code(lambda: open_source("s3://team-data/big", tmp_path, limits, s3_client=s3)) == (
        "source_too_large"
    )


def test_an_s3_key_that_would_escape_is_refused(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket="team-data", Key="data/../../evil.txt", Body=b"pwned")
    assert error_code(lambda: open_source("s3://team-data/data", tmp_path / "work", s3_client=s3)) == (
        "s3_key_unsafe"
    )
    assert not (tmp_path / "evil.txt").exists()


def test_an_unreachable_s3_endpoint_says_to_check_the_endpoint_after_botocores_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retry_delays: list[float]
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(SourceError) as caught:
        # Nothing listens on port 9: every attempt fails to connect.
        open_source("s3://team-data/d", tmp_path, region="us-west-2", endpoint_url="http://127.0.0.1:9")
    assert caught.value.code == "s3_unreachable"
    assert "cannot be reached (EndpointConnectionError)" in caught.value.message
    assert "AWS_ENDPOINT_URL" in caught.value.message
    assert len(retry_delays) == 4  # five attempts in all (AWS_MAX_ATTEMPTS' default), then the error
