"""Hostile image files made on the fly: ``bad_images`` must be refused with a one-line reason,
``odd_images`` are unusual but valid and must load; ``seed_images`` and ``project_members``
feed the fuzzers."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from restorer_gui.core.document import Document
from restorer_gui.core.imageio import ImageData
from restorer_gui.core.project import ProjectSnapshot, save_project
from restorer_gui.core.recipe import Step

W, H = 24, 16


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def hashes(paths: Iterable[Path]) -> dict[Path, str]:
    """Content hash of every file (folders and missing paths hash to "")."""
    return {Path(p): sha256(Path(p)) for p in paths}


def _picture(w: int = W, h: int = H, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(w * 1000 + h)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    rgb[:, : w // 2] = (240, 250, 245)  # a bright half, so the tiny detector finds "scratches"
    return Image.fromarray(rgb).convert(mode)


def encode(fmt: str, im: Image.Image | None = None, **opts) -> bytes:
    buf = io.BytesIO()
    (im or _picture()).save(buf, fmt, **opts)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_raw(w: int, h: int, idat: bytes, depth: int = 8, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _tiff_raw(w: int, h: int, strip_offset: int = 200, strip_bytes: int = 64, photometric: int = 1,
              spp: int = 1) -> bytes:
    entries = [(256, 4, w), (257, 4, h), (258, 3, 8), (259, 3, 1), (262, 3, photometric),
               (273, 4, strip_offset), (277, 3, spp), (278, 4, h), (279, 4, strip_bytes)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    return (b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4).ljust(strip_offset, b"\x00") + b"\x80" * 64


def _bmp_raw(w: int, h: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 64, 0, 0, 54) + info + b"\x00" * 64


def _gif_raw(w: int, h: int) -> bytes:
    screen = b"GIF89a" + struct.pack("<HHBBB", w, h, 0, 0, 0)
    image = b"," + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02\x02\x4c\x01\x00;"
    return screen + image


def _webp_vp8x(w: int, h: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _webp_vp8l(w: int, h: int) -> bytes:
    bits = (w - 1) | ((h - 1) << 14)
    body = b"\x2f" + struct.pack("<I", bits) + b"\x00" * 16
    chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def _jpeg_with_size(w: int, h: int) -> bytes:
    data = bytearray(encode("JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, h, w)
    return bytes(data)


def _exif_garbage() -> bytes:
    return b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x01\x12\x00\x03" * 3


def _with_broken_exif_orientation() -> bytes:
    e = Image.Exif()
    e[274] = 99  # no such orientation
    e[0x8769] = {36867: "garbage"}
    return encode("JPEG", exif=e.tobytes())


def _animated(fmt: str) -> bytes:
    frames = [_picture(), _picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=40, loop=0, **extra)
    return buf.getvalue()


def _palette_trns_png() -> bytes:
    im = _picture().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encode("PNG", im, transparency=0)


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: max(1, int(len(data) * fraction))]


def _bad_crc_png() -> bytes:
    data = bytearray(encode("PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF  # a payload byte: the CRC no longer matches
    return bytes(data)


def bad_images(folder: Path) -> list[Path]:
    """Files every entry point must refuse with a clear one-line message (no crash, no hang)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    png, jpg = encode("PNG"), encode("JPEG", quality=90)
    tif, webp, gif, bmp = encode("TIFF"), encode("WEBP", lossless=True), encode("GIF"), encode("BMP")
    files: dict[str, bytes | None] = {
        "zero-bytes.png": b"",
        "zero-bytes.jpg": b"",
        "text-named.jpg": b"these are not the pixels you are looking for\n",
        "html-named.png": b"<!doctype html><title>x</title>",
        "pdf-named.tif": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n",
        "zip-named.webp": b"PK\x03\x04" + bytes(60),
        "random-bytes.bmp": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes().replace(b"BM", b"bm"),
        "png-magic-then-noise.png": png[:8] + rng.integers(0, 256, 512, dtype=np.uint8).tobytes(),
        "header-only.png": png[:33],
        "zero-width.png": png_raw(0, 10, zlib.compress(b"")),
        "bit-depth-3.png": png_raw(8, 8, zlib.compress(bytes(200)), depth=3),
        "bad-crc.png": _bad_crc_png(),
        "garbage-idat.png": png_raw(W, H, b"\x78\x9c" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes()),
        "jpeg-soi-then-noise.jpg": b"\xff\xd8\xff\xe0" + rng.integers(0, 256, 600, dtype=np.uint8).tobytes(),
        "tiff-strip-beyond-eof.tif": _tiff_raw(64, 64, strip_offset=10_000_000),
        "tiff-separated-2-channels.tif": _tiff_raw(8, 8, photometric=5, spp=2),
        "huge-header.png": png_raw(100_000, 100_000, zlib.compress(bytes(1000))),
        "huge-under-limit.png": png_raw(16_000, 16_000, zlib.compress(bytes(1000))),
        "huge-header.jpg": _jpeg_with_size(65_500, 65_500),
        "huge-header.tif": _tiff_raw(200_000, 200_000),
        "huge-header.bmp": _bmp_raw(100_000, 100_000),
        "huge-header.gif": _gif_raw(65_535, 65_535),
        "huge-canvas.webp": _webp_vp8x(1 << 24, 1 << 24),
        "huge-under-limit.webp": _webp_vp8l(16_384, 16_384),
    }
    for name, data in (("png", png), ("jpg", jpg), ("tif", tif), ("webp", webp), ("gif", gif), ("bmp", bmp)):
        files[f"truncated-half.{name}"] = _cut(data, 0.5)
        files[f"truncated-header.{name}"] = data[:20]
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    (folder / "a-folder.png").mkdir(exist_ok=True)
    paths += [folder / "a-folder.png", folder / "does-not-exist.jpg"]
    return paths


def odd_images(folder: Path) -> list[Path]:
    """Unusual but valid files: each must load (and be restorable) like any photo."""
    folder.mkdir(parents=True, exist_ok=True)
    gray16 = Image.fromarray(np.arange(W * H, dtype=np.uint16).reshape(H, W) * 157)
    files = {
        "cmyk.jpg": encode("JPEG", _picture(mode="CMYK")),
        "cmyk.tif": encode("TIFF", _picture(mode="CMYK")),
        "cmyk-broken-icc.jpg": encode("JPEG", _picture(mode="CMYK"), icc_profile=b"not a profile" * 20),
        "one-bit.png": encode("PNG", _picture(mode="1")),
        "one-bit.tif": encode("TIFF", _picture(mode="1"), compression="group4"),
        "one-bit.bmp": encode("BMP", _picture(mode="1")),
        "gray16.png": encode("PNG", gray16),
        "gray16.tif": encode("TIFF", gray16),
        "gray-alpha.png": encode("PNG", _picture(mode="LA")),
        "palette-transparency.png": _palette_trns_png(),
        "palette-transparency.gif": encode("GIF", _picture().convert("P"), transparency=3),
        "broken-exif.jpg": encode("JPEG", exif=_exif_garbage()),
        "broken-exif.png": encode("PNG", exif=_exif_garbage()[6:]),
        "exif-orientation-99.jpg": _with_broken_exif_orientation(),
        "broken-icc.jpg": encode("JPEG", icc_profile=b"\x00" * 16 + b"RGB " + b"\xff" * 200),
        "broken-icc.png": encode("PNG", icc_profile=b"junk" * 50),
        "animated.gif": _animated("GIF"),
        "animated.webp": _animated("WEBP"),
        "png-named.jpg": encode("PNG"),
        "jpeg-named.png": encode("JPEG"),
        "tiff-named.bmp": encode("TIFF", compression="tiff_lzw"),
        "progressive.jpg": encode("JPEG", progressive=True),
        "lossy-alpha.webp": encode("WEBP", _picture(mode="RGBA"), quality=50),
        "one-pixel.png": encode("PNG", _picture(1, 1)),
        "rgb-colour-key.png": encode("PNG", transparency=(240, 250, 245)),
    }
    paths = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


def seed_images() -> dict[str, bytes]:
    """Small valid files of every readable format: the fuzzer mutates these."""
    small = _picture(12, 9)
    gray16 = Image.fromarray(np.arange(12 * 9, dtype=np.uint16).reshape(9, 12) * 601)
    return {
        "png": encode("PNG", small),
        "png16": encode("PNG", gray16),
        "jpg": encode("JPEG", small, quality=80),
        "tif": encode("TIFF", small, compression="tiff_deflate"),
        "tif16": encode("TIFF", gray16),
        "bmp": encode("BMP", small),
        "webp": encode("WEBP", small, lossless=True),
        "gif": encode("GIF", small.convert("P")),
    }


def project_members(tmp_path: Path) -> dict[str, bytes]:
    """The members of a small valid project (8×10 photo, a mask, one layer selected)."""
    doc = Document(ImageData(pixels=np.arange(8 * 10 * 3, dtype=np.uint8).reshape(8, 10, 3)))
    doc.mask[2:4, 3:6] = 255
    step = Step("denoise", {"strength": 3.0, "auto": False, "inside_mask": False, "model": None})  # fuzzed too
    doc.layers.append(doc.make_layer("result", np.full((8, 10, 3), 9, np.uint8), "denoise", step=step, sigma=3))
    save_project(tmp_path / "base.rgproj", ProjectSnapshot.of(doc, doc.layers[0].uid))
    with zipfile.ZipFile(tmp_path / "base.rgproj") as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_project(path: Path, members: dict[str, bytes], manifest: str | bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, manifest if name == "manifest.json" else data)
    return path
