"""Safe image decoding and normalisation to what Bedrock accepts and Llama 3.2 sees.

Every image's pixel data is decoded exactly once (a PNG's chunk CRCs are walked first), so corrupt
data is ``image_unreadable`` here rather than a failure at Bedrock or in the evaluation; a JPEG being
shrunk is decoded at libjpeg's reduced scale, which still decodes every block. An image then passes
through byte for byte when Bedrock takes it as it is: an accepted format, no EXIF rotation, no
transparency, a mode every decoder reads, no larger than the model's canvas and no larger than 10 MB.
Anything else is fixed from the decoded pixels, scaled down to the fitted size and re-encoded.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, UnidentifiedImageError

from services.datasets.model import Finding, ImageRef, SourceRef, error, warning

BedrockFormat = Literal["png", "jpeg", "gif", "webp"]

# Pillow format names Bedrock accepts as they are, and what Bedrock calls them.
ACCEPTED_FORMATS: dict[str, BedrockFormat] = {
    "PNG": "png",
    "JPEG": "jpeg",
    "MPO": "jpeg",  # camera JPEGs with extra frames: the bytes are a valid JPEG
    "GIF": "gif",
    "WEBP": "webp",
}
# Formats we read only to convert them (to PNG, lossless).
CONVERTIBLE_FORMATS = ("BMP", "TIFF")
# MPO has no opener of its own: the JPEG opener returns it.
OPEN_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", *CONVERTIBLE_FORMATS)

EXTENSIONS: dict[BedrockFormat, str] = {"png": "png", "jpeg": "jpg", "gif": "gif", "webp": "webp"}

TILE = 560
MAX_TILES = 4
# Every canvas Llama 3.2's processor can choose: up to four 560-pixel tiles, as (width, height).
CANVASES: tuple[tuple[int, int], ...] = tuple(
    (columns * TILE, rows * TILE)
    for columns in range(1, MAX_TILES + 1)
    for rows in range(1, MAX_TILES + 1)
    if columns * rows <= MAX_TILES
)

# Modes a PNG/GIF/WebP may keep untouched; JPEG keeps only RGB and L.
_PASSTHROUGH_MODES = {"RGB", "L", "P", "1"}
_JPEG_PASSTHROUGH_MODES = {"RGB", "L"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_DEEP_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_ORIENTATION_TAG = 0x0112
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class ImagePolicy:
    """Limits for one image. ``max_pixels`` is the decompression-bomb cap on the declared size.

    Pillow's own ``Image.MAX_IMAGE_PIXELS`` also applies: its warning is turned into a rejection.
    """

    max_pixels: int = 89_478_485
    max_bytes: int = 10 * 1024 * 1024
    min_side: int = 10
    max_side: int = 8192
    jpeg_quality: int = 90
    webp_quality: int = 90


@dataclass(frozen=True, slots=True)
class NormalisedImage:
    data: bytes
    format: BedrockFormat
    width: int
    height: int
    sha256: str
    original_width: int
    original_height: int
    reencoded: bool
    warnings: tuple[Finding, ...] = ()

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def fitted_size(width: int, height: int) -> tuple[int, int]:
    """The size Llama 3.2's processor scales an image to, never larger than the image itself.

    Like the model's processor: prefer the smallest canvas the image fits without shrinking; when it
    fits none, the canvas that shrinks it least; then scale to fit that canvas, keeping the aspect.
    """
    scales = [min(cw / width, ch / height) for cw, ch in CANVASES]
    upscales = [s for s in scales if s >= 1]
    chosen = min(upscales) if upscales else max(scales)
    canvas_w, canvas_h = min(
        (c for c, s in zip(CANVASES, scales, strict=True) if s == chosen), key=lambda c: c[0] * c[1]
    )
    target_w = min(max(width, TILE), canvas_w)
    target_h = min(max(height, TILE), canvas_h)
    scale_w, scale_h = target_w / width, target_h / height
    if scale_w < scale_h:
        new_w, new_h = target_w, min(int(height * scale_w) or 1, target_h)
    else:
        new_w, new_h = min(int(width * scale_h) or 1, target_w), target_h
    if new_w >= width and new_h >= height:
        return width, height  # the model would upscale; we never do
    return min(new_w, width), min(new_h, height)


def read_image_bytes(
    ref: ImageRef, record: SourceRef | None = None, label: str | None = None
) -> bytes | Finding:
    """The bytes of a local or embedded image, or an ``image_missing`` error naming the file as
    ``label`` (its path inside the dataset; never a server path)."""
    shown = label or ref.label
    if ref.data is not None:
        return ref.data
    if ref.path is None:
        return error(
            "image_missing",
            f"image {shown} is not a local file; download it next to the dataset and point the "
            "record at the file",
            record,
        )
    try:
        return Path(ref.path).read_bytes()
    except FileNotFoundError:
        return error("image_missing", f"image file {shown} does not exist: add it or fix the path", record)
    except OSError:
        return error(
            "image_missing",
            f"image file {shown} cannot be read (a permission or disk problem): check it",
            record,
        )


def normalise_image(
    data: bytes, label: str, record: SourceRef | None = None, policy: ImagePolicy = ImagePolicy()
) -> NormalisedImage | Finding:
    """Check and normalise one image; an error ``Finding`` when it cannot be used."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _normalise(data, label, record, policy)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _bomb(label, record, policy)
    except UnidentifiedImageError:
        return error(
            "image_format",
            f"image {label} is not a PNG, JPEG, GIF, WebP, BMP or TIFF file: convert it to PNG or JPEG",
            record,
        )
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        return error(
            "image_unreadable",
            f"image {label} is truncated or corrupt ({_reason(exc)}): export it again from the original",
            record,
        )


def _normalise(
    data: bytes, label: str, record: SourceRef | None, policy: ImagePolicy
) -> NormalisedImage | Finding:
    if data.startswith(_PNG_SIGNATURE):
        with Image.open(io.BytesIO(data), formats=("PNG",)) as chunks:
            chunks.verify()  # every chunk's CRC up to IEND, before any pixel is inflated
    with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as image:
        width, height = image.size
        if width * height > policy.max_pixels:
            return _bomb(label, record, policy)
        if min(width, height) < policy.min_side:
            return _too_small(label, record, width, height, policy)
        source_format = image.format or ""
        orientation = _orientation(image)
        upright = _oriented(width, height, orientation)
        target = fitted_size(*upright)
        accepted = ACCEPTED_FORMATS.get(source_format)
        keepable = _JPEG_PASSTHROUGH_MODES if accepted == "jpeg" else _PASSTHROUGH_MODES | _ALPHA_MODES
        needs_work = (
            accepted is None
            or bool(getattr(image, "is_animated", False))
            or orientation not in (None, 1)
            or image.mode not in keepable
            or target != (width, height)
            or len(data) > policy.max_bytes
            or max(width, height) > policy.max_side
        )
        has_transparency = image.mode in _ALPHA_MODES or "transparency" in image.info
        if source_format in ("JPEG", "MPO") and target != upright:
            # libjpeg decodes at 1/2..1/8 scale for a photo being shrunk: every block is still decoded.
            image.draft(image.mode, _oriented(*target, orientation))
        image.load()  # the one decode of the pixel data: corrupt or truncated data fails here
        opaque = _alpha_is_opaque(image) if has_transparency else True
        if accepted is not None and not needs_work and opaque:
            return _passthrough(data, accepted, width, height)
        return _reencode(
            image, label, record, policy, source_format, orientation, target, (width, height), opaque
        )


def _passthrough(data: bytes, fmt: BedrockFormat, width: int, height: int) -> NormalisedImage:
    return NormalisedImage(
        data=data,
        format=fmt,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        original_width=width,
        original_height=height,
        reencoded=False,
    )


_TRANSPOSES: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _reencode(
    decoded: Image.Image,
    label: str,
    record: SourceRef | None,
    policy: ImagePolicy,
    source_format: str,
    orientation: int | None,
    target: tuple[int, int],
    original: tuple[int, int],
    opaque: bool,
) -> NormalisedImage | Finding:
    upright = _oriented(*original, orientation)
    image = _to_plain_mode(decoded, opaque)
    if orientation in _TRANSPOSES:
        image = image.transpose(_TRANSPOSES[orientation])  # before resizing: fit the upright sides
    if image.size != target:
        image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out_format = _output_format(source_format)
    encoded = _encode(image, out_format, policy)
    width, height = image.size

    if min(width, height) < policy.min_side:
        return _too_small(label, record, width, height, policy)
    if len(encoded) > policy.max_bytes:
        return error(
            "image_unreadable",
            f"image {label} is still {len(encoded) / 1e6:.1f} MB after conversion, over Bedrock's 10 MB: "
            "save it with stronger compression",
            record,
        )
    findings: tuple[Finding, ...] = ()
    if (width, height) != upright:
        findings = (
            warning(
                "image_resized",
                f"image {label} was scaled from {upright[0]}x{upright[1]} to {width}x{height}, the size "
                "Llama 3.2 reads; nothing to do unless small details matter (then crop to them)",
                record,
            ),
        )
    return NormalisedImage(
        data=encoded,
        format=out_format,
        width=width,
        height=height,
        sha256=hashlib.sha256(encoded).hexdigest(),
        original_width=original[0],
        original_height=original[1],
        reencoded=True,
        warnings=findings,
    )


def _output_format(source_format: str) -> BedrockFormat:
    """Photos stay JPEG, WebP stays WebP; everything else becomes lossless PNG."""
    if source_format in ("JPEG", "MPO"):
        return "jpeg"
    if source_format == "WEBP":
        return "webp"
    return "png"


def _encode(image: Image.Image, fmt: BedrockFormat, policy: ImagePolicy) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, "JPEG", quality=policy.jpeg_quality)
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=policy.webp_quality, method=4)
    else:
        image.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def _alpha_is_opaque(image: Image.Image) -> bool:
    """True when an image with an alpha channel or transparency key hides nothing (common for
    screenshots): it may then pass through untouched."""
    # RGBA and LA carry their alpha as a band: read it where it is, without copying the image.
    with_alpha = image if image.mode in ("RGBA", "LA") else image.convert("RGBA")
    return bool(with_alpha.getchannel("A").getextrema() == (255, 255))


def _to_plain_mode(image: Image.Image, opaque: bool) -> Image.Image:
    """RGB or L: transparency composited on white, 16-bit and float scaled to 8 bits, CMYK to RGB.
    ``opaque``: the image's alpha, if it has one, hides nothing (``_alpha_is_opaque``)."""
    if image.mode in _DEEP_MODES:
        return _scale_to_8_bit(image)
    if image.mode in ("RGB", "L") and "transparency" not in image.info:
        return image
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        if opaque:
            return rgba.convert("RGB")
        # convert("RGB") would reveal whatever colour hides under transparent pixels: paint white.
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def _scale_to_8_bit(image: Image.Image) -> Image.Image:
    """Scale deep grayscale into 0..255 by its bit depth, so 12-bit scans do not come out black."""
    wide = image.convert("F") if image.mode == "F" else image.convert("I")
    extrema = wide.getextrema()
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]  # one band: two numbers
    if image.mode == "F":
        scale = 255.0 / ((high - low) or 1.0)
        return wide.point(lambda v: v * scale - low * scale).convert("L")
    full_scale = (1 << max(int(high).bit_length(), 8)) - 1
    return wide.point(lambda v: v * (255.0 / full_scale)).convert("L")


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation, read from header bytes only (getexif() on PNG would inflate pixels)."""
    raw = image.info.get("exif")
    if not raw:
        return None
    exif = Image.Exif()
    try:
        exif.load(raw)
    except (SyntaxError, ValueError, OSError):
        return None  # unreadable EXIF: ignore it as every viewer does
    value = exif.get(_ORIENTATION_TAG)
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _oriented(width: int, height: int, orientation: int | None) -> tuple[int, int]:
    """Size as displayed: orientations 5..8 swap width and height."""
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _bomb(label: str, record: SourceRef | None, policy: ImagePolicy) -> Finding:
    return error(
        "image_unreadable",
        f"image {label} declares more than {policy.max_pixels:,} pixels (a decompression bomb or a huge "
        "scan): scale it down below 8192 px per side before adding it",
        record,
    )


def _too_small(label: str, record: SourceRef | None, width: int, height: int, policy: ImagePolicy) -> Finding:
    return error(
        "image_too_small",
        f"image {label} is {width}x{height}; Bedrock needs at least {policy.min_side} px per side: "
        "use a larger image or drop the record",
        record,
    )


def _reason(exc: BaseException) -> str:
    """What went wrong in our words: a decoder's own message is no help to the person fixing the file."""
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, EOFError):
        return "the file ends before its pixel data does"
    return "its pixel data cannot be decoded"
