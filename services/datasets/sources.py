"""Where a dataset comes from: a folder, a zip, one data file, or an S3 prefix, made into a local path.

``open_source`` returns a folder or a single file for the readers. Zips are extracted only after every
member has been checked: no path may leave the extraction folder (zip slip), no symlinks, and no more
than the configured size and compression ratio (zip bombs); sizes are counted again while writing in
case an archive's headers lie. S3 prefixes are downloaded keeping their relative paths.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from services.datasets.model import Finding, error

SINGLE_FILE_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv", ".xlsx", ".parquet", ".arrow", ".pdf")
_WHAT_TO_GIVE = (
    "a folder, a .zip, a .json/.jsonl/.csv/.tsv/.xlsx/.parquet/.arrow/.pdf file or an s3://bucket/prefix"
)
_COPY_CHUNK = 1 << 20
_S3_DOWNLOAD_THREADS = 16
# Files archivers add beside the data (macOS resource forks and folder settings): never data.
_JUNK_NAMES = re.compile(r"(^|/)(__MACOSX/|\._[^/]*$|\.DS_Store$)")


class SourceError(Exception):
    """A source that cannot be read at all. ``message`` says what to do about it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def as_finding(self) -> Finding:
        return error(self.code, self.message)


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """What an archive (or an S3 prefix) may expand to before it is refused.

    The ratio is uncompressed over compressed size of all members together; it is only applied above
    ``ratio_floor_bytes``, since a small, very repetitive JSONL file compresses far but harms nothing.
    """

    max_total_bytes: int = 8 << 30
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 64 << 20
    max_members: int = 200_000


def open_source(
    source: str,
    workdir: Path,
    limits: ArchiveLimits = ArchiveLimits(),
    s3_client: Any | None = None,
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> Path:
    """The local folder or file to read ``source`` from; archives and S3 objects go under ``workdir``.

    ``s3_client`` is a boto3 S3 client; when None one is made from ``region`` and ``endpoint_url``.
    """
    if source.startswith("s3://"):
        client = s3_client if s3_client is not None else _default_s3_client(region, endpoint_url)
        return _download_s3(source, workdir, limits, client)
    path = Path(source).expanduser()
    if not path.exists():
        raise SourceError("source_missing", f"{source} does not exist; give {_WHAT_TO_GIVE}")
    path = path.resolve()
    if path.is_dir():
        return path
    suffix = path.suffix.lower()
    if suffix == ".zip":
        return extract_zip(path, workdir, limits)
    if suffix in SINGLE_FILE_SUFFIXES:
        return path
    raise SourceError(
        "source_unsupported", f"{path.name} is not a dataset file tunebot reads; give {_WHAT_TO_GIVE}"
    )


# Zip archives


@dataclass(frozen=True, slots=True)
class PlannedMember:
    info: zipfile.ZipInfo
    target: PurePosixPath


def safe_relative_path(name: str) -> PurePosixPath | None:
    """``name`` as a path that stays inside the folder it is extracted to, or None when it would not.

    Backslashes count as separators (Windows archivers write them), so ``..\\x`` is caught too.
    """
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised) or "\x00" in normalised:
        return None
    parts = [part for part in normalised.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return PurePosixPath(*parts)


def plan_extraction(
    members: Iterable[zipfile.ZipInfo], limits: ArchiveLimits, archive: str
) -> list[PlannedMember]:
    """Check every member before anything is written; the members worth extracting, or SourceError."""
    planned: list[PlannedMember] = []
    declared = compressed = count = 0
    for info in members:
        count += 1
        if count > limits.max_members:
            raise SourceError(
                "archive_bomb",
                f"{archive} has more than {limits.max_members:,} files; "
                "split the dataset or remove stray files",
            )
        target = safe_relative_path(info.filename)
        if target is None:
            raise SourceError(
                "archive_unsafe",
                f"{archive} contains {info.filename!r}, a path outside the archive's folder, so nothing "
                "was extracted. Re-create the zip from the dataset folder with relative paths only",
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise SourceError(
                "archive_unsafe",
                f"{archive} contains the symbolic link {info.filename!r}; links are refused. Zip the "
                "files themselves (zip without --symlinks)",
            )
        if info.flag_bits & 0x1:
            raise SourceError(
                "archive_encrypted", f"{archive} is password-protected; zip the dataset without a password"
            )
        if _JUNK_NAMES.search(target.as_posix()):
            continue
        declared += info.file_size
        compressed += info.compress_size
        planned.append(PlannedMember(info, target))
    if declared > limits.max_total_bytes:
        raise SourceError(
            "archive_bomb",
            f"{archive} expands to {_size(declared)}, over the {_size(limits.max_total_bytes)} limit; "
            "send a smaller dataset or put it in S3 and give its s3:// prefix",
        )
    if declared > limits.ratio_floor_bytes and declared > limits.max_ratio * max(compressed, 1):
        raise SourceError(
            "archive_bomb",
            f"{archive} expands {declared / max(compressed, 1):,.0f} times its compressed size (limit "
            f"{limits.max_ratio:,.0f}); that is how zip bombs look. Re-create the zip from the real files",
        )
    return planned


def extract_zip(archive: Path, workdir: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Extract ``archive`` into a new folder under ``workdir``; the folder, or its only entry."""
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(
            "archive_corrupt", f"{archive.name} is not a readable zip ({exc}); re-create it with a zip tool"
        ) from exc
    with bundle:
        planned = plan_extraction(bundle.infolist(), limits, archive.name)
        workdir.mkdir(parents=True, exist_ok=True)
        destination = Path(tempfile.mkdtemp(prefix=f"{_slug(archive.stem)}-", dir=workdir)).resolve()
        try:
            _extract(bundle, planned, destination, limits, archive.name)
        except BaseException:
            shutil.rmtree(destination, ignore_errors=True)
            raise
    return _unwrap(destination)


def _extract(
    bundle: zipfile.ZipFile,
    planned: list[PlannedMember],
    destination: Path,
    limits: ArchiveLimits,
    archive: str,
) -> None:
    written_total = 0
    for member in planned:
        target = destination.joinpath(*member.target.parts)
        # The names were checked already; resolving as well guards against anything they missed.
        if not target.resolve().is_relative_to(destination):
            raise SourceError(
                "archive_unsafe", f"{archive}: {member.info.filename!r} leaves the archive's folder"
            )
        if member.info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with bundle.open(member.info) as source, target.open("wb") as sink:
                written_total = _copy_counted(source, sink, member.info, written_total, limits, archive)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise SourceError(
                "archive_corrupt",
                f"{archive}: {member.info.filename!r} cannot be extracted ({exc}); re-create the zip",
            ) from exc
        except OSError as exc:  # a file and a folder of the same name, or a full disk
            raise SourceError(
                "archive_unextractable",
                f"{archive}: {member.info.filename!r} cannot be written ({exc.strerror}); check the "
                "archive's names and the free space of the work folder",
            ) from exc


def _copy_counted(
    source: IO[bytes],
    sink: IO[bytes],
    info: zipfile.ZipInfo,
    written_total: int,
    limits: ArchiveLimits,
    archive: str,
) -> int:
    """Copy one member, counting bytes: no member may outgrow its declared size, nor all of them the limit."""
    written = 0
    while chunk := source.read(_COPY_CHUNK):
        written += len(chunk)
        written_total += len(chunk)
        if written > info.file_size or written_total > limits.max_total_bytes:
            raise SourceError(
                "archive_bomb",
                f"{archive}: {info.filename!r} expands beyond the size its header declares (or the archive "
                f"beyond {_size(limits.max_total_bytes)}); that is how zip bombs look. Re-create the zip",
            )
        sink.write(chunk)
    return written_total


def _unwrap(folder: Path) -> Path:
    """A zip of one folder (the usual way to zip a dataset) reads from that folder."""
    entries = list(folder.iterdir())
    if len(entries) == 1:
        return entries[0]
    if not entries:
        raise SourceError(
            "source_empty", f"{folder.name}: the archive holds no files; zip the dataset folder"
        )
    return folder


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:60] or "source"


def _size(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024:
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GiB"


# S3 prefixes


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    if not bucket:
        raise SourceError("source_missing", f"{uri} names no bucket; give s3://bucket/prefix")
    return bucket, prefix


def _default_s3_client(region: str | None, endpoint_url: str | None) -> Any:
    from services.aws.clients import ClientOptions, s3_client  # here: only S3 sources need boto3

    return s3_client(ClientOptions(region, endpoint_url))


def _download_s3(uri: str, workdir: Path, limits: ArchiveLimits, client: Any) -> Path:
    from services.aws.errors import AwsError, aws_errors  # here: only S3 sources need botocore

    bucket, prefix = parse_s3_uri(uri)
    try:
        with aws_errors("S3 download"):
            objects = _list_objects(client, bucket, prefix, limits, uri)
            if not objects:
                raise SourceError(
                    "source_missing", f"there is nothing under {uri}; check the bucket and prefix"
                )
            return _fetch(client, bucket, prefix, objects, workdir, limits)
    except AwsError as exc:
        if not exc.answered:
            raise SourceError(
                "s3_unreachable",
                f"{uri} cannot be reached ({exc.code}); check the AWS credentials, region and "
                "AWS_ENDPOINT_URL",
            ) from exc
        raise SourceError(
            "s3_unreachable",
            f"{uri} cannot be read (S3 said {exc.code}); check that the bucket exists and that tunebot's AWS "
            "role may list and get objects under the prefix",
        ) from exc


def _fetch(
    client: Any,
    bucket: str,
    prefix: str,
    objects: list[tuple[str, PurePosixPath]],
    workdir: Path,
    limits: ArchiveLimits,
) -> Path:
    """Download the listed objects into a new folder under ``workdir`` (removed again on failure)."""
    workdir.mkdir(parents=True, exist_ok=True)
    slug = _slug(f"{bucket}-{PurePosixPath(prefix).name}" if prefix else bucket)
    destination = Path(tempfile.mkdtemp(prefix=f"{slug}-", dir=workdir)).resolve()
    try:
        if len(objects) == 1 and objects[0][0] == prefix:  # the URI names one object, not a folder
            target = destination / PurePosixPath(prefix).name
            client.download_file(bucket, prefix, str(target))
            return open_source(str(target), workdir, limits)  # a zip is extracted like a local one
        downloads = [(key, destination.joinpath(*relative.parts)) for key, relative in objects]
        for _, target in downloads:
            target.parent.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=_S3_DOWNLOAD_THREADS) as pool:
            # list() re-raises the first failure here rather than losing it in a future.
            list(pool.map(lambda job: client.download_file(bucket, job[0], str(job[1])), downloads))
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    return destination


def _list_objects(
    client: Any, bucket: str, prefix: str, limits: ArchiveLimits, uri: str
) -> list[tuple[str, PurePosixPath]]:
    """The keys at or under ``prefix`` as a folder (``data`` matches ``data/x`` but not ``data2/x``),
    with their paths relative to it."""
    folder = prefix if prefix == "" or prefix.endswith("/") else prefix + "/"
    found: list[tuple[str, PurePosixPath]] = []
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key: str = item["Key"]
            if key == prefix and not key.endswith("/"):
                found.append((key, PurePosixPath(PurePosixPath(key).name)))
            elif key.startswith(folder) and not key.endswith("/"):
                relative = safe_relative_path(key[len(folder) :])
                if relative is None:
                    raise SourceError(
                        "s3_key_unsafe",
                        f"{uri} holds the key {key!r}, which would land outside the download folder; "
                        "rename it",
                    )
                found.append((key, relative))
            else:
                continue
            total += int(item.get("Size", 0))
            if total > limits.max_total_bytes or len(found) > limits.max_members:
                raise SourceError(
                    "source_too_large",
                    f"{uri} holds more than {_size(limits.max_total_bytes)} or {limits.max_members:,} "
                    "objects; narrow the prefix to the dataset",
                )
    return found
