"""Tests for restorer_gui.core.imageio: every file is generated in tmp_path."""

from __future__ import annotations

import errno
import os
import re
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageFile, ImageOps

from restorer_gui.core import imageio
from restorer_gui.core.errors import ImageError
from restorer_gui.core.imageio import ImageData, load_image, read_image_size, save_image

HAS_CODECS = imageio._imagecodecs() is not None
needs_codecs = pytest.mark.skipif(not HAS_CODECS, reason="imagecodecs is not installed")
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240531)


def noise(rng: np.random.Generator, shape: tuple[int, ...], dtype: type = np.uint16) -> np.ndarray:
    """Random samples over the full range (16-bit values use the low byte too)."""
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def make_exif(orientation: int | None = None) -> bytes:
    """EXIF block (TIFF-header form) with IFD0, Exif IFD and GPS IFD tags."""
    e = Image.Exif()
    e[271] = "Canon"
    e[272] = "EOS 5D"
    e[306] = "2021:05:06 07:08:09"
    e[315] = "Jane Doe"
    if orientation is not None:
        e[274] = orientation
    e[0x8769] = {36867: "2001:02:03 04:05:06"}
    e[0x8825] = {1: "N", 2: (52.0, 30.0, 15.5)}
    return e.tobytes()[6:]


def parse_exif(blob: bytes | None) -> Image.Exif:
    assert blob is not None
    assert blob[:4] in (b"II*\x00", b"MM\x00*")  # TIFF-header form, no "Exif\0\0"
    e = Image.Exif()
    e.load(blob)
    return e


def assert_exif_tags(e: Image.Exif) -> None:
    assert (e[271], e[272], e[306], e[315]) == (
        "Canon",
        "EOS 5D",
        "2021:05:06 07:08:09",
        "Jane Doe",
    )
    assert e.get_ifd(0x8769)[36867] == "2001:02:03 04:05:06"
    gps = e.get_ifd(0x8825)
    assert gps[1] == "N"
    assert tuple(float(v) for v in gps[2]) == (52.0, 30.0, 15.5)


def png_bytes(width: int, height: int, depth: int, colour: int, raw: bytes) -> bytes:
    """A minimal PNG whose IDAT holds *raw* (already filtered scanlines) deflated."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def patch_tiff_size(path: Path, width: int, height: int) -> None:
    """Overwrite ImageWidth/ImageLength in the first IFD of a little-endian TIFF."""
    data = bytearray(path.read_bytes())
    assert data[:4] == b"II*\x00"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for i in range(count):
        pos = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, pos)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into("<I" if kind == 4 else "<H", data, pos + 8, value)
    path.write_bytes(bytes(data))


def exactly(message: str) -> str:
    """A pytest.raises(match=...) pattern for exactly *message*."""
    return f"^{re.escape(message)}$"


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- PNG loading


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_png_8bit_plain_modes_exact(tmp_path: Path, rng: np.random.Generator, mode: str) -> None:
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    a = noise(rng, (13, 17, channels), np.uint8)
    Image.fromarray(a[..., 0] if channels == 1 else a).save(tmp_path / "a.png")
    d = load_image(tmp_path / "a.png")
    assert d.pixels.dtype == np.uint8 and d.pixels.shape == (13, 17, channels)
    np.testing.assert_array_equal(d.pixels, a)
    assert (d.bit_depth, d.width, d.height, d.channels) == (8, 17, 13, channels)
    assert d.source_format == "PNG" and d.path == tmp_path / "a.png"


def test_png_gray_alpha_becomes_rgba(tmp_path: Path, rng: np.random.Generator) -> None:
    la = noise(rng, (9, 11, 2), np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    px = load_image(tmp_path / "la.png").pixels
    assert px.shape == (9, 11, 4)
    for c in range(3):
        np.testing.assert_array_equal(px[..., c], la[..., 0])
    np.testing.assert_array_equal(px[..., 3], la[..., 1])


def test_png_palette_without_transparency_is_rgb(tmp_path: Path, rng: np.random.Generator) -> None:
    palette = noise(rng, (256, 3), np.uint8)
    index = noise(rng, (10, 12), np.uint8)
    im = Image.fromarray(index, "P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "p.png")
    px = load_image(tmp_path / "p.png").pixels
    assert px.dtype == np.uint8 and px.shape == (10, 12, 3)
    np.testing.assert_array_equal(px, palette[index])


def test_png_palette_with_transparency_is_rgba(tmp_path: Path, rng: np.random.Generator) -> None:
    palette = noise(rng, (4, 3), np.uint8)
    index = rng.integers(0, 4, (10, 12), dtype=np.uint8)
    im = Image.fromarray(index, "P")
    im.putpalette(palette.ravel().tolist())
    im.save(tmp_path / "pt.png", transparency=2)
    px = load_image(tmp_path / "pt.png").pixels
    assert px.shape == (10, 12, 4)
    np.testing.assert_array_equal(px[..., :3], palette[index])
    np.testing.assert_array_equal(px[..., 3], np.where(index == 2, 0, 255))


def test_png_gray_colour_key_is_rgba(tmp_path: Path) -> None:
    a = np.arange(64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(a).save(tmp_path / "key.png", transparency=5)
    px = load_image(tmp_path / "key.png").pixels
    assert px.shape == (8, 8, 4)
    np.testing.assert_array_equal(px[..., 0], a)
    np.testing.assert_array_equal(px[..., 3], np.where(a == 5, 0, 255))


def test_png_1bit_is_gray_0_255(tmp_path: Path, rng: np.random.Generator) -> None:
    bits = rng.integers(0, 2, (9, 21)).astype(bool)
    Image.fromarray(bits).save(tmp_path / "bw.png")
    d = load_image(tmp_path / "bw.png")
    assert d.pixels.dtype == np.uint8 and d.pixels.shape == (9, 21, 1)
    np.testing.assert_array_equal(d.pixels[..., 0], np.where(bits, 255, 0))


def test_png_16bit_gray_from_pillow_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    g = noise(rng, (15, 19))
    Image.fromarray(g).save(tmp_path / "g16.png")
    d = load_image(tmp_path / "g16.png")
    assert d.pixels.dtype == np.uint16 and d.bit_depth == 16
    np.testing.assert_array_equal(d.pixels[..., 0], g)


@needs_codecs
@pytest.mark.parametrize("channels", [2, 3, 4])
def test_png_16bit_colour_from_libpng_exact(
    tmp_path: Path, rng: np.random.Generator, channels: int
) -> None:
    import imagecodecs

    a = noise(rng, (14, 10, channels))
    (tmp_path / "c16.png").write_bytes(imagecodecs.png_encode(a))
    px = load_image(tmp_path / "c16.png").pixels
    assert px.dtype == np.uint16
    if channels == 2:  # gray + alpha -> RGBA
        np.testing.assert_array_equal(px, a[..., [0, 0, 0, 1]])
    else:
        np.testing.assert_array_equal(px, a)


def test_png_16bit_without_imagecodecs_falls_back(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rgb = noise(rng, (6, 7, 3))
    gray = noise(rng, (6, 7, 1))
    save_image(tmp_path / "rgb.png", rgb)
    save_image(tmp_path / "gray.png", gray)
    monkeypatch.setattr(imageio, "_imagecodecs", lambda: None)
    np.testing.assert_array_equal(
        load_image(tmp_path / "rgb.png").pixels, (rgb >> 8).astype(np.uint8)
    )
    np.testing.assert_array_equal(
        load_image(tmp_path / "gray.png").pixels, gray
    )  # Pillow keeps gray


@pytest.mark.parametrize("codecs", [True, False])
def test_png_16bit_colour_key_becomes_alpha(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codecs: bool
) -> None:
    if codecs and not HAS_CODECS:
        pytest.skip("imagecodecs is not installed")
    if not codecs:
        monkeypatch.setattr(imageio, "_imagecodecs", lambda: None)
    g = (np.arange(35, dtype=np.uint16).reshape(5, 7) * 1001).astype(np.uint16)
    Image.fromarray(g).save(tmp_path / "key16.png", transparency=3003)
    px = load_image(tmp_path / "key16.png").pixels
    assert px.dtype == np.uint16 and px.shape == (5, 7, 4)
    np.testing.assert_array_equal(px[..., 2], g)
    np.testing.assert_array_equal(px[..., 3], np.where(g == 3003, 0, 65535))


def test_png_named_jpg_loads_by_content(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (5, 6, 3), np.uint8)
    Image.fromarray(a).save(tmp_path / "photo.jpg", format="PNG")
    d = load_image(tmp_path / "photo.jpg")
    assert d.source_format == "PNG"
    np.testing.assert_array_equal(d.pixels, a)


# --------------------------------------------------------------------------- PNG saving


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_round_trip_exact(
    tmp_path: Path, rng: np.random.Generator, dtype: type, channels: int
) -> None:
    a = noise(rng, (21, 34, channels), dtype)
    save_image(tmp_path / "out.png", a)
    d = load_image(tmp_path / "out.png")
    assert d.pixels.dtype == dtype
    np.testing.assert_array_equal(d.pixels, a)
    # An independent decoder agrees (Pillow keeps 8 bits of 16-bit colour).
    with Image.open(tmp_path / "out.png") as im:
        seen = np.asarray(im)
    expected = a[..., 0] if channels == 1 else a
    if dtype == np.uint16 and channels != 1:
        expected = (expected >> 8).astype(np.uint8)
    np.testing.assert_array_equal(seen, expected)


def test_png_2d_array_and_many_blocks(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (700, 300, 3))  # > 1 MiB of scanlines: several deflate blocks
    save_image(tmp_path / "big.png", a)
    np.testing.assert_array_equal(load_image(tmp_path / "big.png").pixels, a)
    g = noise(rng, (40, 30), np.uint8)
    save_image(tmp_path / "flat.png", g)
    np.testing.assert_array_equal(load_image(tmp_path / "flat.png").pixels[..., 0], g)


def test_adler32_combine_matches_zlib() -> None:
    a, b = b"restored photo " * 999, bytes(range(256)) * 300
    combined = imageio._adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b))
    assert combined == zlib.adler32(a + b)


# --------------------------------------------------------------------------- TIFF


TIFF_COMPRESSIONS = [
    None,
    "zlib",
    pytest.param("lzw", marks=needs_codecs),
    pytest.param("packbits", marks=needs_codecs),
]


@pytest.mark.parametrize("compression", TIFF_COMPRESSIONS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_tiff_variants_exact(
    tmp_path: Path, rng: np.random.Generator, compression: str | None, dtype: type, channels: int
) -> None:
    a = noise(rng, (19, 23, channels), dtype)
    extra = {"extrasamples": ("unassalpha",)} if channels == 4 else {}
    tifffile.imwrite(
        tmp_path / "t.tif",
        a[..., 0] if channels == 1 else a,
        photometric="minisblack" if channels == 1 else "rgb",
        compression=compression,
        predictor=compression in ("zlib", "lzw") or None,
        **extra,
    )
    d = load_image(tmp_path / "t.tif")
    assert d.source_format == "TIFF" and d.pixels.dtype == dtype
    np.testing.assert_array_equal(d.pixels, a)


@pytest.mark.parametrize("compression", ["tiff_lzw", "packbits", "tiff_adobe_deflate"])
def test_tiff_written_by_pillow(tmp_path: Path, rng: np.random.Generator, compression: str) -> None:
    rgb = noise(rng, (12, 9, 3), np.uint8)
    gray16 = noise(rng, (12, 9))
    Image.fromarray(rgb).save(tmp_path / "rgb.tif", compression=compression)
    Image.fromarray(gray16).save(tmp_path / "g16.tif", compression=compression)
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.tif").pixels, rgb)
    g = load_image(tmp_path / "g16.tif").pixels
    assert g.dtype == np.uint16
    np.testing.assert_array_equal(g[..., 0], gray16)


@needs_codecs
def test_tiff_16bit_lzw_without_imagecodecs_falls_back(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = noise(rng, (6, 9, 3))
    tifffile.imwrite(tmp_path / "lzw.tif", a, photometric="rgb", compression="lzw")
    tifffile.imwrite(tmp_path / "zip.tif", a, photometric="rgb", compression="zlib")
    monkeypatch.setattr(imageio, "_imagecodecs", lambda: None)
    np.testing.assert_array_equal(load_image(tmp_path / "lzw.tif").pixels, (a >> 8).astype(np.uint8))
    np.testing.assert_array_equal(load_image(tmp_path / "zip.tif").pixels, a)  # tifffile's own zlib


def test_tiff_multipage_gives_first_page(tmp_path: Path, rng: np.random.Generator) -> None:
    pages = noise(rng, (3, 8, 10, 3))
    with tifffile.TiffWriter(tmp_path / "multi.tif") as tw:
        for page in pages:
            tw.write(page, photometric="rgb", compression="zlib")
    np.testing.assert_array_equal(load_image(tmp_path / "multi.tif").pixels, pages[0])


def test_tiff_16bit_planar_and_min_is_white(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (3, 7, 5))
    tifffile.imwrite(tmp_path / "planar.tif", a, photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(load_image(tmp_path / "planar.tif").pixels, np.moveaxis(a, 0, -1))
    g = noise(rng, (7, 5))
    tifffile.imwrite(tmp_path / "white.tif", g, photometric="miniswhite")
    np.testing.assert_array_equal(load_image(tmp_path / "white.tif").pixels[..., 0], 65535 - g)


def test_tiff_float_and_12bit(tmp_path: Path, rng: np.random.Generator) -> None:
    f = rng.random((5, 7, 3)).astype(np.float32)  # Pillow cannot open float RGB: tifffile only
    tifffile.imwrite(tmp_path / "float.tif", f, photometric="rgb")
    px = load_image(tmp_path / "float.tif").pixels
    assert px.dtype == np.uint16
    np.testing.assert_array_equal(px, np.rint(f * 65535).astype(np.uint16))
    assert read_image_size(tmp_path / "float.tif") == (7, 5)
    g = rng.integers(0, 4096, (5, 7), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "b12.tif", g, bitspersample=12)
    px = load_image(tmp_path / "b12.tif").pixels[..., 0]
    np.testing.assert_array_equal(px, (g.astype(np.uint32) * 65535 // 4095).astype(np.uint16))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_tiff_round_trip_exact(
    tmp_path: Path, rng: np.random.Generator, dtype: type, channels: int
) -> None:
    a = noise(rng, (17, 29, channels), dtype)
    save_image(tmp_path / "out.tiff", a)
    d = load_image(tmp_path / "out.tiff")
    assert d.pixels.dtype == dtype
    np.testing.assert_array_equal(d.pixels, a)
    np.testing.assert_array_equal(
        tifffile.imread(tmp_path / "out.tiff"), a[..., 0] if channels == 1 else a
    )


# --------------------------------------------------------------------------- other formats


def test_bmp(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (7, 13, 3), np.uint8)
    Image.fromarray(a).save(tmp_path / "a.bmp")
    d = load_image(tmp_path / "a.bmp")
    assert d.source_format == "BMP"
    np.testing.assert_array_equal(d.pixels, a)


@pytest.mark.parametrize("channels", [3, 4])
def test_webp_lossless_exact(tmp_path: Path, rng: np.random.Generator, channels: int) -> None:
    a = noise(rng, (11, 14, channels), np.uint8)
    Image.fromarray(a).save(tmp_path / "a.webp", lossless=True, exact=True)
    d = load_image(tmp_path / "a.webp")
    assert d.source_format == "WEBP"
    np.testing.assert_array_equal(d.pixels, a)


def test_jpeg_is_close(tmp_path: Path) -> None:
    y, x = np.mgrid[0:48, 0:64]
    a = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(a[..., 1]).save(tmp_path / "g.jpg", quality=95)
    d = load_image(tmp_path / "a.jpg")
    assert (
        d.source_format == "JPEG" and d.pixels.shape == (48, 64, 3) and d.pixels.dtype == np.uint8
    )
    assert np.abs(d.pixels.astype(int) - a).mean() < 2.5
    g = load_image(tmp_path / "g.jpg").pixels
    assert g.shape == (48, 64, 1)
    assert np.abs(g[..., 0].astype(int) - a[..., 1]).mean() < 2.5


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_becomes_rgb(tmp_path: Path, suffix: str) -> None:
    Image.new("CMYK", (16, 16), (0, 255, 0, 0)).save(tmp_path / f"cmyk{suffix}")
    px = load_image(tmp_path / f"cmyk{suffix}").pixels
    assert px.shape == (16, 16, 3)
    assert np.abs(px.reshape(-1, 3).mean(0) - (255, 0, 255)).max() < 4


def test_cmyk_with_broken_profile_still_loads(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 0, 255, 0)).save(
        tmp_path / "c.jpg", icc_profile=b"not a profile" * 20
    )
    d = load_image(tmp_path / "c.jpg")
    assert d.pixels.shape == (8, 8, 3) and d.icc_profile is None
    assert np.abs(d.pixels.reshape(-1, 3).mean(0) - (255, 255, 0)).max() < 4


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp"])
def test_animation_gives_first_frame(tmp_path: Path, name: str) -> None:
    frames = [Image.new("RGB", (6, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    extra = {"lossless": True} if name.endswith(".webp") else {}
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], duration=50, **extra)
    px = load_image(tmp_path / name).pixels
    assert px.shape[:2] == (4, 6) and px.shape[2] in (3, 4)
    assert (px[..., :3] == (255, 0, 0)).all()


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied_and_reset(
    tmp_path: Path, rng: np.random.Generator, orientation: int
) -> None:
    a = noise(rng, (5, 8, 3), np.uint8)  # not square: rotations change the shape
    Image.fromarray(a).save(tmp_path / "o.png", exif=make_exif(orientation))
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    d = load_image(tmp_path / "o.png")
    np.testing.assert_array_equal(d.pixels, expected)
    assert d.pixels.flags.c_contiguous and d.pixels.flags.writeable
    e = parse_exif(d.exif)
    assert e[274] == 1
    assert_exif_tags(e)
    assert read_image_size(tmp_path / "o.png") == (d.width, d.height)


def test_orientation_by_hand_16bit_png_jpeg_and_tiff(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    a = noise(rng, (4, 6, 3))
    # 6: rotate 90 degrees clockwise -> the first row is the old first column, bottom up.
    save_image(tmp_path / "o6.png", a, exif=make_exif(6))
    np.testing.assert_array_equal(load_image(tmp_path / "o6.png").pixels[0], a[::-1, 0])
    # 8: rotate 90 degrees counter-clockwise.
    tifffile.imwrite(tmp_path / "o8.tif", a, photometric="rgb", extratags=[(274, 3, 1, 8, True)])
    np.testing.assert_array_equal(load_image(tmp_path / "o8.tif").pixels, np.rot90(a))
    y, x = np.mgrid[0:16, 0:24]
    ramp = np.repeat((x * 8 + y * 4)[..., None], 3, axis=2).astype(np.uint8)
    Image.fromarray(ramp).save(
        tmp_path / "o3.jpg", exif=b"Exif\x00\x00" + make_exif(3), quality=100
    )
    d = load_image(tmp_path / "o3.jpg")
    assert d.pixels.shape == (16, 24, 3) and parse_exif(d.exif)[274] == 1
    assert np.abs(d.pixels.astype(int) - ramp[::-1, ::-1]).mean() < 2
    assert read_image_size(tmp_path / "o6.png") == (4, 6)
    assert read_image_size(tmp_path / "o8.tif") == (4, 6)


def test_jpeg_orientation_read_size(tmp_path: Path) -> None:
    Image.new("RGB", (30, 20)).save(
        tmp_path / "r.jpg", exif=b"Exif\x00\x00" + make_exif(6)
    )  # Pillow wants the prefix
    assert read_image_size(tmp_path / "r.jpg") == (20, 30)
    assert load_image(tmp_path / "r.jpg").pixels.shape == (30, 20, 3)


# --------------------------------------------------------------------------- metadata round trips


@pytest.mark.parametrize(
    ("name", "dtype"),
    [
        ("m.png", np.uint8),
        ("m.png", np.uint16),
        ("m.jpg", np.uint8),
        ("m.tif", np.uint8),
        ("m.tif", np.uint16),
    ],
)
def test_icc_and_exif_survive_save_and_load(
    tmp_path: Path, rng: np.random.Generator, name: str, dtype: type
) -> None:
    a = noise(rng, (12, 16, 3), dtype)
    save_image(tmp_path / name, a, icc_profile=SRGB, exif=make_exif(1))
    d = load_image(tmp_path / name)
    assert d.icc_profile == SRGB
    e = parse_exif(d.exif)
    assert_exif_tags(e)
    assert e.get(274, 1) == 1
    # Other readers see the metadata too.
    with Image.open(tmp_path / name) as im:
        assert im.info.get("icc_profile") == SRGB
        seen = im.getexif()
        assert seen[271] == "Canon" and seen.get_ifd(0x8769)[36867] == "2001:02:03 04:05:06"


def test_tiff_exif_is_a_proper_exif_ifd(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (6, 5, 4))
    save_image(tmp_path / "e.tif", a, icc_profile=SRGB, exif=make_exif(1))
    with tifffile.TiffFile(tmp_path / "e.tif") as tif:
        page = tif.pages.first
        assert page.tags["Make"].value == "Canon"
        assert page.tags["Artist"].value == "Jane Doe"
        assert page.tags["ExifTag"].value["DateTimeOriginal"] == "2001:02:03 04:05:06"
        assert page.iccprofile == SRGB
        np.testing.assert_array_equal(page.asarray(), a)


def test_exif_with_prefix_accepted_and_missing_metadata_is_none(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    a = noise(rng, (4, 4, 3), np.uint8)
    save_image(tmp_path / "p.png", a, exif=b"Exif\x00\x00" + make_exif())
    assert_exif_tags(parse_exif(load_image(tmp_path / "p.png").exif))
    save_image(tmp_path / "bare.png", a)
    d = load_image(tmp_path / "bare.png")
    assert d.icc_profile is None and d.exif is None


def test_icc_of_wrong_colour_space_is_dropped(tmp_path: Path, rng: np.random.Generator) -> None:
    gray = noise(rng, (4, 4, 1))
    save_image(tmp_path / "g.png", gray, icc_profile=SRGB)
    assert load_image(tmp_path / "g.png").icc_profile is None


# --------------------------------------------------------------------------- JPEG saving


def test_jpeg_from_16bit_rounds_and_alpha_goes_white(tmp_path: Path) -> None:
    v = np.array([0, 128, 129, 257 * 100 + 128, 257 * 100 + 129, 65535], dtype=np.uint16)
    np.testing.assert_array_equal(imageio._to_uint8(v), np.round(v / 257).astype(np.uint8))
    flat = np.full((16, 16, 3), 257 * 100 + 129, np.uint16)  # 100.5 -> 101
    save_image(tmp_path / "flat.jpg", flat, quality=100)
    assert abs(float(load_image(tmp_path / "flat.jpg").pixels.mean()) - 101) < 1
    rgba = np.zeros((16, 16, 4), np.uint16)
    rgba[:8, ..., 3] = 65535  # top half opaque black, bottom half transparent
    save_image(tmp_path / "alpha.jpeg", rgba)
    px = load_image(tmp_path / "alpha.jpeg").pixels.astype(int)
    assert px.shape == (16, 16, 3)
    assert px[:6].max() < 8 and px[10:].min() > 247


def test_jpeg_quality_changes_size(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (64, 64, 3), np.uint8)
    save_image(tmp_path / "lo.jpg", a, quality=20)
    save_image(tmp_path / "hi.jpg", a, quality=95)
    assert (tmp_path / "lo.jpg").stat().st_size < (tmp_path / "hi.jpg").stat().st_size
    with pytest.raises(ImageError, match="quality"):
        save_image(tmp_path / "bad.jpg", a, quality=0)


# --------------------------------------------------------------------------- save validation


def test_save_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="uint8 or uint16"):
        save_image(tmp_path / "f.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageError, match="shape"):
        save_image(tmp_path / "s.png", np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ImageError, match="shape"):
        save_image(tmp_path / "e.png", np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="unsupported format"):
        save_image(tmp_path / "x.gif", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="unsupported format"):
        save_image(tmp_path / "noext", np.zeros((4, 4, 3), np.uint8))
    assert listing(tmp_path) == []


def test_fmt_overrides_suffix(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (5, 5, 3))
    save_image(tmp_path / "export.dat", a, fmt="TIFF")
    assert (tmp_path / "export.dat").read_bytes()[:4] == b"II*\x00"
    np.testing.assert_array_equal(load_image(tmp_path / "export.dat").pixels, a)


# --------------------------------------------------------------------------- atomic saving


def test_save_leaves_no_temp_files_and_keeps_mode(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (5, 5, 3), np.uint8)
    target = tmp_path / "keep.png"
    save_image(target, a)
    os.chmod(target, 0o640)
    save_image(target, a[::-1].copy())
    assert listing(tmp_path) == ["keep.png"]
    assert target.stat().st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(load_image(target).pixels, a[::-1])


@pytest.mark.parametrize("name", ["old.png", "old.tif", "old.jpg"])
def test_encoder_failure_midway_keeps_old_file(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    target = tmp_path / name
    target.write_bytes(b"previous contents")

    def png_chunk_failing(f, kind, data):  # noqa: ANN001, ANN202
        if kind == b"IDAT":
            raise zlib.error("boom")
        f.write(kind + data)

    def tiff_failing(f, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        f.write(b"II*\x00 partial")
        raise ValueError("boom")

    def jpeg_failing(self, fp, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        fp.write(b"\xff\xd8\xff partial")
        raise OSError("encoder error -2")

    monkeypatch.setattr(imageio, "_png_chunk", png_chunk_failing)
    monkeypatch.setattr(tifffile, "imwrite", tiff_failing)
    monkeypatch.setattr(Image.Image, "save", jpeg_failing)
    with pytest.raises(ImageError, match=rf"^cannot (save|write) {re.escape(name)}: "):
        save_image(target, noise(rng, (8, 8, 3)))
    assert target.read_bytes() == b"previous contents"
    assert listing(tmp_path) == [name]


def test_disk_full_is_reported_and_cleaned_up(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(
        ImageError, match=exactly("cannot write out.png: no space left on device")
    ) as info:
        save_image(target, noise(rng, (8, 8, 3)))
    assert isinstance(info.value.__cause__, OSError)
    assert target.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.png"]


def test_permission_denied_on_rename(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(src: str, dst: str) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(ImageError, match=exactly("cannot write x.tif: permission denied")):
        save_image(tmp_path / "x.tif", noise(rng, (4, 4, 1)))
    assert listing(tmp_path) == []


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=exactly("cannot write a.png: the folder does not exist")):
        save_image(tmp_path / "nope" / "a.png", np.zeros((2, 2), np.uint8))


# --------------------------------------------------------------------------- size limit


def test_huge_png_header_rejected_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(20000, 20000, 8, 2, b"\x00" * 1000))

    def no_decoding(self):  # noqa: ANN001, ANN202
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ImageError) as info:
            load_image(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 8 << 20
    assert str(info.value) == (
        "bomb.png: 400 megapixels is more than the limit of 300 megapixels"
        " (change it in Preferences)"
    )
    assert read_image_size(path) == (20000, 20000)


def test_huge_tiff_header_rejected(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(path, noise(rng, (10, 10, 3)), photometric="rgb")
    patch_tiff_size(path, 20000, 20000)
    with pytest.raises(ImageError, match="megapixels is more than the limit"):
        load_image(path)


def test_custom_limit_and_no_limit(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (100, 100, 3), np.uint8)
    save_image(tmp_path / "a.png", a)
    with pytest.raises(
        ImageError, match=re.escape("0.01 megapixels is more than the limit of 0.005 megapixels")
    ):
        load_image(tmp_path / "a.png", max_pixels=5000)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png", max_pixels=10_000).pixels, a)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png", max_pixels=None).pixels, a)


def test_lying_png_header_without_limit(tmp_path: Path) -> None:
    path = tmp_path / "liar.png"
    path.write_bytes(png_bytes(20000, 20000, 16, 6, b"\x00" * 1000))
    started = time.perf_counter()
    with pytest.raises(ImageError, match=exactly("liar.png: the file is truncated or corrupt")):
        load_image(path, max_pixels=None)
    assert time.perf_counter() - started < 2


def test_pillow_bomb_check_stays_quiet(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = noise(rng, (64, 64, 3), np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(a).save(tmp_path / "a.gif")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow alone would raise here
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(load_image(tmp_path / "a.png", max_pixels=None).pixels, a)
        assert load_image(tmp_path / "a.gif").pixels.shape == (64, 64, 3)
        assert read_image_size(tmp_path / "a.png") == (64, 64)
    assert Image.MAX_IMAGE_PIXELS == 100


# --------------------------------------------------------------------------- broken files


def _cut(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


@pytest.mark.parametrize("name", ["t.png", "t16.png", "t.jpg", "t.tif", "t16.tif", "t.webp"])
def test_truncated_files(tmp_path: Path, rng: np.random.Generator, name: str) -> None:
    path = tmp_path / name
    dtype = np.uint16 if "16" in name else np.uint8
    a = noise(rng, (64, 64, 3), dtype)
    if name.endswith(".webp"):
        Image.fromarray(a).save(path, lossless=True)
    else:
        save_image(path, a)
    _cut(path, 0.6)
    with pytest.raises(
        ImageError, match=exactly(f"{name}: the file is truncated or corrupt")
    ) as info:
        load_image(path)
    assert info.value.__cause__ is not None


def test_truncated_uncompressed_tiff(tmp_path: Path, rng: np.random.Generator) -> None:
    for dtype in (np.uint8, np.uint16):
        path = tmp_path / f"raw{np.dtype(dtype).itemsize}.tif"
        tifffile.imwrite(path, noise(rng, (64, 64, 3), dtype), photometric="rgb")
        _cut(path, 0.5)
        with pytest.raises(ImageError, match="truncated or corrupt"):
            load_image(path)


def test_header_only_png_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "head.png"
    path.write_bytes(png_bytes(10, 10, 8, 2, b"")[:30])
    with pytest.raises(ImageError, match=exactly("head.png: the file is truncated or corrupt")):
        load_image(path)


def test_not_images(tmp_path: Path, rng: np.random.Generator) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("shopping list\nmilk\n")
    (tmp_path / "noise.jpg").write_bytes(
        noise(rng, (4096,), np.uint8).tobytes().replace(b"\xff\xd8", b"ab")
    )
    (tmp_path / "folder.png").mkdir()
    cases = {
        "empty.png": "empty.png: the file is empty",
        "notes.txt": "notes.txt: not an image file (or an unsupported format)",
        "noise.jpg": "noise.jpg: not an image file (or an unsupported format)",
        "folder.png": "folder.png: this is a folder, not an image file",
        "missing.png": "missing.png: the file does not exist",
    }
    for name, message in cases.items():
        with pytest.raises(ImageError) as info:
            load_image(tmp_path / name)
        assert str(info.value) == message
        with pytest.raises(ImageError):
            read_image_size(tmp_path / name)


def test_corrupt_exif_does_not_break_loading(tmp_path: Path, rng: np.random.Generator) -> None:
    a = noise(rng, (6, 6, 3), np.uint8)
    bad = b"MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 6  # claims 65535 entries
    Image.fromarray(a).save(tmp_path / "bad.png", exif=bad)
    d = load_image(tmp_path / "bad.png")
    np.testing.assert_array_equal(d.pixels, a)


# --------------------------------------------------------------------------- misc


def test_image_data_properties() -> None:
    d = ImageData(np.zeros((3, 5, 4), np.uint16))
    assert (d.width, d.height, d.channels, d.bit_depth) == (5, 3, 4, 16)
    assert d.icc_profile is None and d.exif is None and d.source_format == "" and d.path is None


def test_core_imports_neither_qt_nor_torch() -> None:
    code = (
        "import sys, restorer_gui.core.imageio, restorer_gui.core.errors;"
        "bad = [m for m in ('PySide6', 'torch') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- resolution (DPI), gamma


def png_chunk_payloads(path: Path) -> dict[bytes, list[bytes]]:
    """Every chunk of a PNG file by type, read by hand (not through our reader)."""
    data = path.read_bytes()
    found: dict[bytes, list[bytes]] = {}
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        found.setdefault(kind, []).append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return found


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("dpi", [(300, 300), (600, 1200), (72, 72), (299.5, 4800)])
def test_png_dpi_round_trip(tmp_path: Path, rng: np.random.Generator, dtype: type, dpi: tuple) -> None:
    path = tmp_path / "scan.png"
    save_image(path, noise(rng, (6, 7, 3), dtype), dpi=dpi)
    (phys,) = png_chunk_payloads(path)[b"pHYs"]
    x, y, unit = struct.unpack(">IIB", phys)
    assert unit == 1 and (x, y) == (round(dpi[0] / 0.0254), round(dpi[1] / 0.0254))  # pixels per metre
    loaded = load_image(path)
    assert loaded.dpi == pytest.approx(dpi, abs=0.013)
    if dpi[0] == int(dpi[0]):
        assert loaded.dpi == (float(dpi[0]), float(dpi[1]))  # read back as the whole number written
    assert Image.open(path).info["dpi"] == pytest.approx(dpi, abs=0.013)  # other readers agree
    again = tmp_path / "again.png"
    save_image(again, loaded.pixels, dpi=loaded.dpi)
    assert png_chunk_payloads(again)[b"pHYs"] == [phys]  # stable: no drift through load and save


@pytest.mark.parametrize("dpi", [(300, 300), (600, 1200), (72, 96)])
def test_jpeg_dpi_round_trip(tmp_path: Path, rng: np.random.Generator, dpi: tuple) -> None:
    path = tmp_path / "scan.jpg"
    save_image(path, noise(rng, (8, 8, 3), np.uint8), dpi=dpi)
    with Image.open(path) as im:
        assert im.info["jfif_unit"] == 1 and im.info["jfif_density"] == dpi
    assert load_image(path).dpi == (float(dpi[0]), float(dpi[1]))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("dpi", [(300, 300), (299.5, 1200)])
def test_tiff_dpi_round_trip(tmp_path: Path, rng: np.random.Generator, dtype: type, dpi: tuple) -> None:
    path = tmp_path / "scan.tif"
    exif = Image.Exif()
    exif[0x011A], exif[0x011B], exif[0x0128] = 72.0, 72.0, 2  # a camera's "72 dpi"
    save_image(path, noise(rng, (6, 7, 3), dtype), dpi=dpi, exif=exif.tobytes())
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages.first.tags
        x, y = tags["XResolution"].value, tags["YResolution"].value
        assert x[0] / x[1] == dpi[0] and y[0] / y[1] == dpi[1]  # not the EXIF's 72
        assert int(tags["ResolutionUnit"].value) == 2  # inch
    assert load_image(path).dpi == (float(dpi[0]), float(dpi[1]))


def test_dpi_carries_across_formats(tmp_path: Path, rng: np.random.Generator) -> None:
    src = tmp_path / "scan.tif"
    save_image(src, noise(rng, (6, 7, 3), np.uint16), dpi=(1200, 1200))
    image = load_image(src)
    for name in ("out.png", "out.jpg", "out.tif"):
        save_image(tmp_path / name, image.pixels, dpi=image.dpi)
        assert load_image(tmp_path / name).dpi == (1200.0, 1200.0), name


@pytest.mark.parametrize("name", ["plain.png", "plain16.png", "plain.jpg", "plain.tif", "plain16.tif"])
def test_a_file_without_dpi_stays_without(tmp_path: Path, rng: np.random.Generator, name: str) -> None:
    path = tmp_path / name
    dtype = np.uint16 if "16" in name else np.uint8
    save_image(path, noise(rng, (5, 6, 3), dtype), exif=make_exif())
    assert load_image(path).dpi is None
    again = tmp_path / ("again" + path.suffix)
    save_image(again, load_image(path).pixels, dpi=load_image(path).dpi)
    assert load_image(again).dpi is None
    if path.suffix == ".png":
        assert b"pHYs" not in png_chunk_payloads(again)
    with Image.open(again) as im:
        assert im.info.get("jfif_unit", 0) == 0


def test_dpi_read_from_files_made_elsewhere(tmp_path: Path, rng: np.random.Generator) -> None:
    picture = Image.fromarray(noise(rng, (6, 8, 3), np.uint8))
    picture.save(tmp_path / "a.png", dpi=(300, 300))
    picture.save(tmp_path / "b.tif", dpi=(400, 400))
    picture.save(tmp_path / "c.bmp", dpi=(150, 150))
    picture.save(tmp_path / "d.jpg", dpi=(200, 100))
    tifffile.imwrite(tmp_path / "e.tif", noise(rng, (6, 8), np.uint16), resolution=(100, 100), resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "f.tif", noise(rng, (6, 8), np.uint16))  # 1×1, no unit: no resolution
    exif = Image.Exif()
    exif[0x011A], exif[0x011B], exif[0x0128] = 240.0, 240.0, 2
    picture.save(tmp_path / "g.jpg", exif=exif.tobytes(), jfif=False)  # no JFIF density: EXIF's resolution
    got = {p.name: load_image(p).dpi for p in sorted(tmp_path.iterdir())}
    assert got == {"a.png": (300.0, 300.0), "b.tif": (400.0, 400.0), "c.bmp": (150.0, 150.0),
                   "d.jpg": (200.0, 100.0), "e.tif": (254.0, 254.0), "f.tif": None, "g.jpg": (240.0, 240.0)}


def test_dpi_follows_a_quarter_turn(tmp_path: Path, rng: np.random.Generator) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    path = tmp_path / "turned.jpg"
    Image.fromarray(noise(rng, (6, 10, 3), np.uint8)).save(path, dpi=(300, 600), exif=exif.tobytes())
    loaded = load_image(path)
    assert loaded.pixels.shape[:2] == (10, 6) and loaded.dpi == (600.0, 300.0)


def test_bad_dpi_values_are_left_out(tmp_path: Path, rng: np.random.Generator) -> None:
    for bad in (0, -300, float("nan"), float("inf"), "300", (300,), (300, 300, 300), 1e300, 10**400):
        path = tmp_path / "x.png"
        save_image(path, noise(rng, (4, 4, 3), np.uint8), dpi=bad)
        assert load_image(path).dpi is None, bad
    save_image(tmp_path / "one.png", noise(rng, (4, 4, 3), np.uint8), dpi=300)  # one number: both axes
    assert load_image(tmp_path / "one.png").dpi == (300.0, 300.0)


def test_dpi_for_an_upscaled_copy_keeps_the_print_size() -> None:
    image = ImageData(pixels=np.zeros((100, 200, 3), np.uint8), dpi=(300.0, 300.0))
    assert image.dpi_for(np.zeros((100, 200, 3), np.uint8)) == (300.0, 300.0)
    assert image.dpi_for(np.zeros((400, 800, 3), np.uint8)) == (1200.0, 1200.0)
    assert ImageData(pixels=np.zeros((4, 4, 3), np.uint8)).dpi_for(np.zeros((8, 8, 3), np.uint8)) is None


GAMA = struct.pack(">I", 45455)
CHRM = struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_gamma_srgb_and_chromaticity_chunks_are_kept(tmp_path: Path, rng: np.random.Generator, dtype: type) -> None:
    src = tmp_path / "src.png"
    chunks = {"gAMA": GAMA, "sRGB": b"\x00", "cHRM": CHRM}
    save_image(src, noise(rng, (5, 6, 3), dtype), color_chunks=chunks, dpi=(300, 300))
    with Image.open(src) as im:  # another reader sees them
        assert im.info["gamma"] == pytest.approx(0.45455) and im.info["srgb"] == 0
        assert im.info["chromaticity"][0] == pytest.approx(0.3127)
    loaded = load_image(src)
    assert loaded.color_chunks == chunks
    out = tmp_path / "out.png"
    save_image(out, loaded.pixels, color_chunks=loaded.color_chunks, dpi=loaded.dpi)
    payloads = png_chunk_payloads(out)
    assert payloads[b"gAMA"] == [GAMA] and payloads[b"sRGB"] == [b"\x00"] and payloads[b"cHRM"] == [CHRM]
    order = list(payloads)
    assert max(order.index(k) for k in (b"gAMA", b"sRGB", b"cHRM", b"pHYs")) < order.index(b"IDAT")
    # with an ICC profile the sRGB chunk is left out (the PNG standard: never both)
    save_image(out, loaded.pixels, color_chunks=loaded.color_chunks, icc_profile=SRGB)
    payloads = png_chunk_payloads(out)
    assert b"iCCP" in payloads and b"sRGB" not in payloads and payloads[b"gAMA"] == [GAMA]


def test_png_colour_chunks_from_elsewhere_and_odd_ones(tmp_path: Path, rng: np.random.Generator) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", GAMA)
    info.add(b"sRGB", b"\x01\x02")  # wrong size: dropped
    Image.fromarray(noise(rng, (4, 5, 3), np.uint8)).save(tmp_path / "a.png", pnginfo=info)
    assert load_image(tmp_path / "a.png").color_chunks == {"gAMA": GAMA}
    save_image(tmp_path / "plain.png", noise(rng, (4, 5, 3), np.uint8))
    assert load_image(tmp_path / "plain.png").color_chunks is None
    # colour chunks are for PNG only; other formats ignore them
    save_image(tmp_path / "x.jpg", noise(rng, (4, 5, 3), np.uint8), color_chunks={"gAMA": GAMA})
    save_image(tmp_path / "x.tif", noise(rng, (4, 5, 3), np.uint8), color_chunks={"gAMA": GAMA})
    assert load_image(tmp_path / "x.tif").color_chunks is None


def test_a_nul_in_a_file_name_is_a_one_line_error(tmp_path: Path, rng: np.random.Generator) -> None:
    with pytest.raises(ImageError, match="NUL"):
        save_image(tmp_path / "a\0b.png", noise(rng, (4, 4, 3), np.uint8))
    with pytest.raises(ImageError, match="NUL"):
        load_image(tmp_path / "a\0b.png")
    assert list(tmp_path.iterdir()) == []
