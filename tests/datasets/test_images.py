"""Image normalisation on real image bytes made by Pillow: what passes untouched, what is fixed, what is
refused, and what the model would see."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from services.datasets.images import (
    ImagePolicy,
    NormalisedImage,
    fitted_size,
    normalise_image,
    read_image_bytes,
)
from services.datasets.model import Finding, ImageRef, SourceRef
from tests.datasets.fixtures import png_with_garbage_pixels


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def chart(size: tuple[int, int] = (800, 600), mode: str = "RGB") -> Image.Image:
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    width, height = size
    for bar in range(5):
        left = width // 10 + bar * width // 6
        draw.rectangle(
            (left, height // 3 + bar * 5, left + width // 12, height - 5), fill=(40 * bar, 90, 200)
        )
    return picture.convert(mode) if mode != "RGB" else picture


def accepted(result: NormalisedImage | Finding) -> NormalisedImage:
    assert isinstance(result, NormalisedImage), result
    return result


def refused(result: NormalisedImage | Finding, code: str) -> Finding:
    assert isinstance(result, Finding), f"expected {code}, got an accepted image"
    assert result.severity == "error"
    assert result.code == code, result.message
    return result


def decoded(image: NormalisedImage) -> Image.Image:
    opened = Image.open(io.BytesIO(image.data))
    opened.load()
    return opened


# What the model sees --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((4000, 3000), (1120, 840)),
        ((1736, 2308), (842, 1120)),
        ((800, 600), (800, 600)),
        ((300, 200), (300, 200)),  # the model upscales small images; we never do
        ((5000, 500), (2240, 224)),  # wide: the 2240x560 canvas
        ((300, 5000), (134, 2240)),  # tall: the 560x2240 canvas
        ((1120, 1120), (1120, 1120)),
    ],
)
def test_fitted_size_matches_llama_canvases(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert fitted_size(*size) == expected


# Pass-through ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "bedrock"), [("PNG", "png"), ("JPEG", "jpeg"), ("GIF", "gif"), ("WEBP", "webp")]
)
def test_accepted_image_passes_through_byte_for_byte(fmt: str, bedrock: str) -> None:
    original = encode(chart(mode="P") if fmt == "GIF" else chart(), fmt)

    image = accepted(normalise_image(original, "chart"))

    assert image.data == original
    assert image.reencoded is False
    assert (image.format, image.width, image.height) == (bedrock, 800, 600)
    assert image.sha256 == hashlib.sha256(original).hexdigest()
    assert image.warnings == ()


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_fully_opaque_png_with_an_alpha_band_passes_through(mode: str) -> None:
    original = encode(chart(mode=mode), "PNG")

    image = accepted(normalise_image(original, "screenshot"))

    assert image.data == original


def test_a_palette_png_whose_transparent_index_no_pixel_uses_passes_through() -> None:
    palette = chart(size=(120, 100)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    unused = max(palette.get_flattened_data()) + 1  # an index of the palette no pixel holds
    original = encode(palette, "PNG", transparency=unused)

    image = accepted(normalise_image(original, "icon.png"))

    assert image.data == original


def half_hidden(mode: str) -> bytes:
    """A PNG, 100x100: its left half black, its right half a hidden colour (red, or grey 76) made
    transparent by an alpha band (LA) or by a transparent palette index (P)."""
    if mode == "LA":
        picture = Image.new("LA", (100, 100), (76, 0))
        picture.paste((0, 255), (0, 0, 50, 100))
        return encode(picture, "PNG")
    picture = Image.new("P", (100, 100), 0)
    picture.putpalette([255, 0, 0, 0, 0, 0])  # index 0: red, made transparent; index 1: black
    picture.paste(1, (0, 0, 50, 100))
    return encode(picture, "PNG", transparency=0)


@pytest.mark.parametrize("mode", ["LA", "P"])
def test_grey_and_palette_transparency_is_composited_on_white(mode: str) -> None:
    original = half_hidden(mode)

    out = decoded(accepted(normalise_image(original, "mark.png")))

    assert out.mode in ("RGB", "L")
    assert out.convert("RGB").getpixel((75, 50)) == (255, 255, 255)  # the hidden colour stays hidden
    assert out.convert("RGB").getpixel((25, 50)) == (0, 0, 0)


# Conversions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_formats_bedrock_refuses_become_png(fmt: str) -> None:
    image = accepted(normalise_image(encode(chart(), fmt), "scan"))

    assert image.format == "png"
    assert decoded(image).format == "PNG"  # the format field matches the bytes
    assert (image.width, image.height) == (800, 600)
    assert image.sha256 == hashlib.sha256(image.data).hexdigest()


def test_large_photo_is_scaled_to_the_canvas_and_stays_jpeg() -> None:
    image = accepted(
        normalise_image(encode(chart((4000, 3000)), "JPEG"), "photo.jpg", SourceRef("data.csv", 3))
    )

    assert (image.width, image.height) == (1120, 840)
    assert decoded(image).size == (1120, 840)
    assert decoded(image).format == "JPEG" and image.format == "jpeg"
    [resized] = image.warnings
    assert resized.code == "image_resized" and resized.severity == "warning"
    assert "4000x3000" in resized.message and "1120x840" in resized.message
    assert str(resized.record) == "data.csv:3"


def test_exif_orientation_is_applied_before_fitting() -> None:
    # Stored sideways (2308 wide, 1736 high) with "rotate 90 clockwise to display": left half red.
    raw = Image.new("RGB", (2308, 1736), "blue")
    raw.paste("red", (0, 0, 1154, 1736))
    exif = Image.Exif()
    exif[0x0112] = 6

    image = accepted(normalise_image(encode(raw, "JPEG", exif=exif.tobytes()), "phone.jpg"))

    upright = decoded(image)
    assert (image.width, image.height) == (842, 1120)  # fitted as the upright 1736x2308
    top, bottom = upright.getpixel((421, 100)), upright.getpixel((421, 1000))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # the stored left edge is now the top
    assert bottom[2] > 200 and bottom[0] < 60


def test_exif_orientation_alone_forces_a_reencode_without_resizing() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8
    image = accepted(normalise_image(encode(chart((300, 200)), "JPEG", exif=exif.tobytes()), "small.jpg"))

    assert image.reencoded is True
    assert (image.width, image.height) == (200, 300)
    assert image.warnings == ()  # rotated, not resized


def test_transparency_is_composited_on_white_not_on_the_hidden_colour() -> None:
    transparent_red = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    transparent_red.paste((0, 0, 255, 255), (0, 0, 50, 100))

    image = accepted(normalise_image(encode(transparent_red, "PNG"), "logo.png"))

    out = decoded(image)
    assert out.mode == "RGB"
    assert out.getpixel((75, 50)) == (255, 255, 255)
    assert out.getpixel((25, 50)) == (0, 0, 255)


def test_sixteen_bit_grayscale_is_scaled_not_clipped() -> None:
    levels = [0, 32768, 65535]
    deep = Image.frombytes("I;16", (3, 10), struct.pack("<30H", *(levels * 10)))
    deep = deep.resize((30, 10), Image.Resampling.NEAREST)

    image = accepted(normalise_image(encode(deep, "PNG"), "scan16.png"))

    out = decoded(image)
    assert out.mode == "L"
    dark, middle, bright = (out.getpixel((x, 5)) for x in (5, 15, 25))
    assert (dark, bright) == (0, 255)
    assert middle in range(120, 136)  # clipping would have made it 255


def test_cmyk_jpeg_becomes_rgb() -> None:
    image = accepted(normalise_image(encode(chart(mode="CMYK"), "JPEG"), "print.jpg"))

    assert image.reencoded is True
    assert decoded(image).mode == "RGB"


def test_animated_gif_keeps_its_first_frame() -> None:
    frames = [Image.new("RGB", (60, 40), colour) for colour in ("red", "blue", "green")]
    animation = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)

    image = accepted(normalise_image(animation, "spinner.gif"))

    out = decoded(image)
    assert getattr(out, "n_frames", 1) == 1
    assert out.convert("RGB").getpixel((30, 20)) == (255, 0, 0)


# Refusals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_file_is_refused(fmt: str) -> None:
    whole = encode(chart(mode="P") if fmt == "GIF" else chart(), fmt)

    finding = refused(
        normalise_image(whole[: len(whole) * 2 // 3], "cut.bin", SourceRef("a.json", index=4)),
        "image_unreadable",
    )

    assert "truncated or corrupt" in finding.message and "cut.bin" in finding.message
    assert str(finding.record) == "a.json[4]"


def test_pixel_cap_refuses_a_decompression_bomb() -> None:
    finding = refused(
        normalise_image(encode(chart((200, 200)), "PNG"), "bomb.png", policy=ImagePolicy(max_pixels=10_000)),
        "image_unreadable",
    )
    assert "decompression bomb" in finding.message


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [20_000, 100_000])
def test_huge_declared_dimensions_are_refused_before_decoding(side: int) -> None:
    refused(normalise_image(_png_header_only(side, side), "huge.png"), "image_unreadable")


def test_side_under_ten_pixels_is_too_small() -> None:
    finding = refused(normalise_image(encode(chart((9, 400)), "PNG"), "sliver.png"), "image_too_small")
    assert "9x400" in finding.message


def test_bytes_that_are_no_image_are_a_format_error() -> None:
    refused(normalise_image(b'{"not": "an image"}', "notes.png"), "image_format")


def test_a_format_we_do_not_open_is_a_format_error() -> None:
    refused(normalise_image(encode(chart((64, 64)), "ICO"), "favicon.ico"), "image_format")


def test_missing_file_is_image_missing(tmp_path: Path) -> None:
    finding = read_image_bytes(ImageRef(path=str(tmp_path / "gone.png")), SourceRef("data.csv", 7))

    assert isinstance(finding, Finding) and finding.code == "image_missing"
    assert "gone.png" in finding.message and str(finding.record) == "data.csv:7"


def test_remote_image_without_local_copy_is_image_missing() -> None:
    finding = read_image_bytes(ImageRef(uri="s3://bucket/a.png"))
    assert isinstance(finding, Finding) and finding.code == "image_missing"


def test_a_png_whose_chunks_checksum_but_pixels_are_garbage_is_unreadable() -> None:
    data = png_with_garbage_pixels()
    with Image.open(io.BytesIO(data)) as probe:
        probe.verify()  # the old pass-through check let this through
    result = normalise_image(data, "garbage.png")
    assert isinstance(result, Finding), result
    assert result.code == "image_unreadable"
    assert "garbage.png" in result.message and "export it again" in result.message
