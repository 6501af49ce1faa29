"""Load and save photos as numpy arrays without losing bit depth, ICC profile or EXIF.

Pillow decodes most files.  Pillow cuts 16-bit colour PNG and 16-bit TIFF down to
8 bits, so those are decoded with ``imagecodecs`` (libpng) and ``tifffile``
instead; without ``imagecodecs`` they fall back to Pillow's 8 bits (with a
warning in the log).  PNG files are written by this module (numpy Paeth filter,
zlib in parallel blocks), JPEG by Pillow, TIFF by ``tifffile`` (EXIF is added
afterwards, see :func:`_append_tiff_exif`).  Pillow's own decompression-bomb check
is switched off while we read: ``max_pixels`` is the limit that counts.

Scan resolution (DPI) is read from PNG ``pHYs``, JPEG JFIF density (else the EXIF resolution
tags), TIFF ``XResolution``/``YResolution``/``ResolutionUnit`` and BMP headers, and written to
PNG, JPEG and TIFF; a PNG's ``gAMA``/``sRGB``/``cHRM`` chunks are carried to PNG outputs as they
are.  A file without a resolution gives ``dpi=None`` and is written without one.

Every failure is reported as :class:`~restorer_gui.core.errors.ImageError` whose
message is one line for the user; the library error is chained as its cause.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import importlib
import io
import logging
import math
import os
import secrets
import stat
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

import numpy as np
from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from .errors import ImageError

if TYPE_CHECKING:
    from tifffile import TiffPage

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "OPEN_FILTER_SUFFIXES",
    "PNG_COLOR_CHUNKS",
    "SUPPORTED_SAVE_SUFFIXES",
    "ImageData",
    "ImageError",
    "load_image",
    "read_image_size",
    "save_image",
    "valid_color_chunks",
    "valid_dpi",
]

DEFAULT_MAX_PIXELS = 300_000_000
SUPPORTED_SAVE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
OPEN_FILTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_PREFIX = b"Exif\x00\x00"
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_IMAGE_MAGIC = (_PNG_SIGNATURE, b"\xff\xd8\xff", b"BM", b"GIF8", *_TIFF_MAGIC)
# zlib levels for 8/16-bit PNG: the noisy low bytes of 16-bit photos gain nothing above 4.
_PNG_LEVEL = {8: 6, 16: 4}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_JPEG_MAX_EXIF = 65533 - len(_EXIF_PREFIX)  # one APP1 segment
_TAG_ORIENTATION = 274
_SUB_IFDS = (0x8769, 0x8825)  # Exif IFD, GPS IFD
_INTEROP_IFD = 0xA005
# IFD0 tags of a TIFF that are photo metadata (copied into the EXIF block on load).
_TIFF_EXIF_TAGS = frozenset(
    {270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 316, 18246, 18249, 33432}
    | set(range(0x9C9B, 0x9CA0))  # Windows XP title, comment, author, keywords, subject
)
# Tags describing a TIFF's pixel layout: tifffile writes these, EXIF never overrides them.
_TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320}
    | {322, 323, 324, 325, 330, 338, 339, 347, 513, 514, 529, 530, 531, 532, 34675}
)
_RESOLUTION_TAGS = frozenset({282, 283, 296})
_METRE_PER_INCH = 0.0254
_MAX_DPI = 1_000_000.0
# PNG colour chunks carried as they are, with their required payload sizes.
PNG_COLOR_CHUNKS = {"cHRM": 32, "gAMA": 4, "sRGB": 1}
# TIFF compressions tifffile decodes without imagecodecs.
_TIFFFILE_OWN_CODECS = frozenset({1, 8, 32773, 32946, 34925})

_OS_REASONS = {
    code: text
    for name, text in (
        ("ENOSPC", "no space left on device"),
        ("EDQUOT", "disk quota exceeded"),
        ("EACCES", "permission denied"),
        ("EPERM", "permission denied"),
        ("ENOENT", "the folder does not exist"),
        ("EROFS", "the disk is read-only"),
        ("EISDIR", "a folder with that name exists"),
        ("ENAMETOOLONG", "the file name is too long"),
    )
    if (code := getattr(errno, name, None)) is not None
}


@dataclass(eq=False)
class ImageData:
    """Decoded pixels plus the metadata worth carrying to the saved file.

    ``pixels`` is H x W x C (C in 1, 3, 4), uint8 or uint16, C-contiguous and
    writable, with the EXIF orientation already applied.  ``exif`` is the raw
    EXIF block in TIFF-header form (no ``Exif\\0\\0`` prefix) with its orientation
    tag reset to 1.  ``dpi`` is the scan resolution (horizontal, vertical) in dots per inch, or
    None when the file gives none.  ``color_chunks`` holds a PNG's ``gAMA``, ``sRGB`` and ``cHRM``
    payloads (raw bytes, by chunk name), or None.
    """

    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    source_format: str = ""
    path: Path | None = None
    dpi: tuple[float, float] | None = None
    color_chunks: dict[str, bytes] | None = None

    def dpi_for(self, pixels: np.ndarray) -> tuple[float, float] | None:
        """The resolution that keeps the print size when *pixels* (say, an upscaled copy) replace
        this image's pixels: ``dpi`` scaled by the change in width and height."""
        if self.dpi is None or pixels.ndim < 2:
            return self.dpi
        h, w = int(pixels.shape[0]), int(pixels.shape[1])
        if (h, w) == (self.height, self.width):
            return self.dpi
        return valid_dpi((self.dpi[0] * w / self.width, self.dpi[1] * h / self.height))

    @property
    def bit_depth(self) -> int:
        """8 or 16 bits per channel."""
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])


# --------------------------------------------------------------------------- public API


def load_image(
    path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> ImageData:
    """Decode the image at *path* (the format is found from the content, not the name).

    The pixel count is checked against *max_pixels* (``None``: no limit) from the
    header, before any pixel is decoded.  Raises :class:`ImageError`.
    """
    p = Path(path)
    return _guarded(p, lambda: _load(p, max_pixels))


def read_image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Return ``(width, height)`` as :func:`load_image` would, from the header only."""
    p = Path(path)
    return _guarded(p, lambda: _read_size(p))


def save_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
    fmt: str | None = None,
    dpi: float | tuple[float, float] | None = None,
    color_chunks: dict[str, bytes] | None = None,
) -> None:
    """Write *pixels* (H x W [x 1|3|4], uint8 or uint16) atomically to *path*.

    The format comes from *fmt* ("PNG", "JPEG", "TIFF") or else the suffix.  PNG and
    TIFF keep 16 bits; JPEG is 8-bit (16-bit values are rounded, alpha is
    composited onto white).  EXIF and the ICC profile (unless its colour space does
    not fit the pixels, e.g. an RGB profile for gray) are written in every format.
    *dpi* (one number, or horizontal and vertical) is written in every format (PNG ``pHYs``,
    JPEG JFIF density, TIFF resolution tags); *color_chunks* (``ImageData.color_chunks``) only
    to PNG (``sRGB`` is left out when an ICC profile is written, as the PNG standard asks).
    Raises :class:`ImageError`; on failure an existing file at *path* is untouched.
    """
    p = Path(path)
    name = p.name
    try:
        if "\0" in str(p):
            raise ImageError(f"cannot save {name!r}: a file name cannot contain a NUL character")
        writer = _WRITERS[_save_kind(p, fmt)]
        arr = _validated(name, pixels)
        if writer is _write_jpeg and not 1 <= quality <= 100:
            raise ImageError(f"cannot save {name}: JPEG quality must be between 1 and 100")
        icc = _matching_icc(icc_profile, arr.shape[2])
        exif_block = _clean_exif(exif)
        extras = _Extras(valid_dpi(dpi), valid_color_chunks(color_chunks))
        _atomic_write(p, lambda f: writer(f, arr, icc, exif_block, quality, extras))
    except ImageError:
        raise
    except OSError as exc:
        reason = _OS_REASONS.get(exc.errno or 0) or exc.strerror or str(exc)
        raise ImageError(f"cannot write {name}: {reason}") from exc
    except MemoryError as exc:
        raise ImageError(f"cannot save {name}: not enough memory") from exc
    except Exception as exc:
        raise ImageError(f"cannot save {name}: the image could not be encoded ({exc})") from exc


# --------------------------------------------------------------------------- loading


def _guarded(p: Path, action: Callable[[], _T]) -> _T:
    """Run a read *action* with Pillow's own bomb check off; map failures to ImageError."""
    try:
        with _pillow_limit_off():
            return action()
    except ImageError:
        raise
    except MemoryError as exc:
        raise ImageError(f"{p.name}: not enough memory to open this image") from exc
    except Exception as exc:
        raise ImageError(f"{p.name}: the file is truncated or corrupt") from exc


_pil_guard = threading.Lock()
_pil_users = 0
_pil_saved_limit: int | None = None


@contextlib.contextmanager
def _pillow_limit_off() -> Iterator[None]:
    """Switch off Pillow's decompression-bomb check (ours applies); thread-safe, nestable."""
    global _pil_users, _pil_saved_limit
    with _pil_guard:
        if _pil_users == 0:
            _pil_saved_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _pil_users += 1
    try:
        yield
    finally:
        with _pil_guard:
            _pil_users -= 1
            if _pil_users == 0:
                Image.MAX_IMAGE_PIXELS = _pil_saved_limit


def _check_file(p: Path) -> bytes:
    """Fail clearly for missing, empty or unreadable files; return the first bytes."""
    if "\0" in str(p):
        raise ImageError(f"{p.name!r}: a file name cannot contain a NUL character")
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise ImageError(f"{p.name}: this is a folder, not an image file")
        if st.st_size == 0:
            raise ImageError(f"{p.name}: the file is empty")
        with p.open("rb") as f:
            return f.read(16)
    except FileNotFoundError as exc:
        raise ImageError(f"{p.name}: the file does not exist") from exc
    except PermissionError as exc:
        raise ImageError(f"{p.name}: permission denied") from exc
    except OSError as exc:
        raise ImageError(f"{p.name}: cannot read the file ({exc.strerror or exc})") from exc


def _open(p: Path) -> tuple[Image.Image | None, bytes]:
    """Open the header with Pillow; ``None`` for a TIFF that only tifffile can read."""
    head = _check_file(p)
    try:
        return Image.open(p), head
    except UnidentifiedImageError as exc:
        if head[:4] in _TIFF_MAGIC:
            return None, head
        known = head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        reason = (
            "the file is truncated or corrupt"
            if known
            else "not an image file (or an unsupported format)"
        )
        raise ImageError(f"{p.name}: {reason}") from exc


def _check_limit(name: str, width: int, height: int, max_pixels: int | None) -> None:
    """Raise when the header announces more pixels than allowed."""
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: the file is truncated or corrupt")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageError(
            f"{name}: {_megapixels(width * height)} megapixels is more than the limit of "
            f"{_megapixels(max_pixels)} megapixels (change it in Preferences)"
        )


def _megapixels(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:.0f}" if mp >= 100 else f"{mp:.3g}"


def _read_size(p: Path) -> tuple[int, int]:
    im, _ = _open(p)
    if im is None:
        tifffile = _tifffile()
        with tifffile.TiffFile(p) as tif:
            page = tif.pages.first
            w, h = int(page.imagewidth), int(page.imagelength)
            orientation = int(page.tags.valueof(_TAG_ORIENTATION, 1))
    else:
        with im:
            w, h = im.size
            if isinstance(im, TiffImagePlugin.TiffImageFile):  # im.size may be swapped already
                w, h = int(im.tag_v2.get(256, w)), int(im.tag_v2.get(257, h))
                orientation = int(im.tag_v2.get(_TAG_ORIENTATION, 1))
            else:
                orientation = _take_orientation(_clean_exif(im.info.get("exif")))[0]
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _load(p: Path, max_pixels: int | None) -> ImageData:
    im, _ = _open(p)
    if im is None:
        return _load_tiff_only(p, max_pixels)
    with im:
        _check_limit(p.name, *im.size, max_pixels)
        fmt = "JPEG" if im.format == "MPO" else (im.format or "")
        oriented = False  # True when the decoder already applied the orientation
        color: dict[str, bytes] | None = None
        if fmt == "PNG":
            pixels, icc, exif, dpi, color = _decode_png(p, im)
        elif fmt == "TIFF":
            tiff = cast(TiffImagePlugin.TiffImageFile, im)
            dpi = _resolution_dpi(tiff.tag_v2.get(282), tiff.tag_v2.get(283), tiff.tag_v2.get(296))
            turned = tiff.tag_v2.get(_TAG_ORIENTATION) in (5, 6, 7, 8)
            pixels, icc, exif, oriented = _decode_tiff(p, tiff)
            if oriented and turned and dpi is not None:  # Pillow turned the pixels already
                dpi = (dpi[1], dpi[0])
        else:
            pixels, icc, exif = _decode_pillow(im)
            dpi = _jpeg_dpi(im.info, exif) if fmt == "JPEG" else _info_dpi(im.info.get("dpi"))
    orientation, exif = _take_orientation(exif)
    return _finish(pixels, icc, exif, fmt, p, 1 if oriented else orientation, dpi, color)


def _finish(
    pixels: np.ndarray, icc: bytes | None, exif: bytes | None, fmt: str, p: Path, orientation: int,
    dpi: tuple[float, float] | None = None, color: dict[str, bytes] | None = None,
) -> ImageData:
    pixels = _ORIENT[orientation](pixels) if orientation in _ORIENT else pixels
    if not (pixels.flags.c_contiguous and pixels.flags.writeable):
        pixels = pixels.copy()
    if dpi is not None and orientation in (5, 6, 7, 8):  # turned a quarter: the axes swap
        dpi = (dpi[1], dpi[0])
    return ImageData(pixels, icc or None, exif, fmt, p, dpi, color or None)


def _decode_pillow(im: Image.Image) -> tuple[np.ndarray, bytes | None, bytes | None]:
    icc = im.info.get("icc_profile") or None
    exif = _clean_exif(im.info.get("exif"))
    if im.mode == "CMYK":
        im, icc = _cmyk_to_rgb(im, icc)
    return _pil_pixels(im), icc, exif


def _pil_pixels(im: Image.Image) -> np.ndarray:
    """Pillow image -> H x W x C uint8/uint16 (gray, RGB or RGBA)."""
    if im.mode.startswith("I;16"):
        a = np.array(im).astype(np.uint16)[..., None]
        key = im.info.get("transparency")
        return _key_to_alpha(a, key) if isinstance(key, int) else a
    if im.mode in ("I", "F"):
        return _to_uint16(np.array(im))[..., None]
    target = "RGBA" if im.has_transparency_data else ("L" if im.mode in ("1", "L") else "RGB")
    if im.mode != target:
        im = im.convert(target)
    a = np.array(im)
    return a[..., None] if a.ndim == 2 else a


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """Convert CMYK to RGB through its ICC profile when it has one (the profile becomes sRGB)."""
    if icc:
        try:
            from PIL import ImageCms

            srgb = ImageCms.createProfile("sRGB")
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(im, src, srgb, outputMode="RGB")
            if out is not None:
                return out, ImageCms.ImageCmsProfile(srgb).tobytes()
        except Exception as exc:  # a broken profile: fall back to the plain formula
            _log.warning("CMYK colour conversion with the ICC profile failed: %s", exc)
    return im.convert("RGB"), None


def _to_uint16(a: np.ndarray) -> np.ndarray:
    """Integer or float samples -> uint16 (floats in [0, 1] are scaled to 0..65535)."""
    if a.dtype.kind == "f":
        a = np.nan_to_num(a.astype(np.float32))
        if a.size and float(a.max()) <= 1.0:
            a = a * 65535.0
        return np.clip(np.rint(a), 0, 65535).astype(np.uint16)
    return np.clip(a, 0, 65535).astype(np.uint16)


def _key_to_alpha(a: np.ndarray, key: int | tuple[int, ...]) -> np.ndarray:
    """Turn a tRNS colour key into an alpha channel: gray/RGB -> RGBA."""
    top = np.iinfo(a.dtype).max
    alpha = np.where(np.all(a == np.asarray(key, a.dtype), axis=-1, keepdims=True), 0, top)
    rgb = np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a
    return np.concatenate([rgb, alpha.astype(a.dtype)], axis=2)


def _with_channels(a: np.ndarray) -> np.ndarray:
    """H x W, H x W x 1..4 -> H x W x (1|3|4); gray+alpha becomes RGBA."""
    if a.ndim == 2:
        return a[..., None]
    if a.shape[2] == 2:
        return np.concatenate([np.repeat(a[..., :1], 3, axis=2), a[..., 1:]], axis=2)
    return a


# ------------------------------------------------------------------ PNG


def _decode_png(
    p: Path, im: Image.Image
) -> tuple[np.ndarray, bytes | None, bytes | None, tuple[float, float] | None, dict[str, bytes]]:
    data = p.read_bytes()
    chunks = _png_chunks(data)
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    # zlib cannot expand more than ~1032:1, so a tiny file cannot hold a huge image.
    row = 1 + (width * _PNG_CHANNELS.get(colour, 4) * depth + 7) // 8
    if height * row > 1100 * len(data) + (1 << 20):
        raise ImageError(f"{p.name}: the file is truncated or corrupt")
    icc = im.info.get("icc_profile") or None
    exif = _clean_exif(chunks.get(b"eXIf"))
    dpi = _png_dpi(chunks.get(b"pHYs"))
    color = {name: chunks[kind] for name in PNG_COLOR_CHUNKS if (kind := name.encode("ascii")) in chunks}
    color = valid_color_chunks(color) or {}
    codecs = _imagecodecs()
    if depth == 16 and codecs is not None:
        return _with_channels(codecs.png_decode(data)), icc, exif, dpi, color
    if depth == 16 and colour != 0:
        _log.warning("imagecodecs is not installed: %s is loaded with 8 bits per channel", p.name)
    return _pil_pixels(im), icc, exif, dpi, color


_PNG_BEFORE_IDAT = frozenset({b"pHYs", b"gAMA", b"sRGB", b"cHRM"})


def _png_chunks(data: bytes) -> dict[bytes, bytes]:
    """First IHDR and eXIf chunk payloads of a PNG file, and the pHYs and colour chunks that come
    before the image data (where the standard puts them)."""
    found: dict[bytes, bytes] = {}
    pos = len(_PNG_SIGNATURE)
    seen_idat = False
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IEND":
            break
        seen_idat = seen_idat or kind == b"IDAT"
        wanted = kind in (b"IHDR", b"eXIf") or (kind in _PNG_BEFORE_IDAT and not seen_idat)
        if wanted and kind not in found:
            found[kind] = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    if len(found.get(b"IHDR", b"")) < 13:
        raise ImageError("PNG header missing")
    return found


def _write_png(
    f: IO[bytes], a: np.ndarray, icc: bytes | None, exif: bytes | None, _q: int, extras: _Extras
) -> None:
    """Gray/RGB/RGBA PNG with 8 or 16 bits, Paeth-filtered.

    Blocks of rows are filtered and deflated in parallel; each block ends with a
    sync flush so that together they form one zlib stream (adler32 combined here).
    """
    height, width, channels = a.shape
    depth = 8 * a.dtype.itemsize
    bpp = channels * a.dtype.itemsize
    row_bytes = width * bpp
    big_endian = ">u2" if depth == 16 else "u1"
    step = max(1, (1 << 20) // row_bytes)

    def scanlines(lo: int, hi: int) -> np.ndarray:
        return a[lo:hi].astype(big_endian, copy=False).reshape(hi - lo, -1).view(np.uint8)

    def deflate_block(start: int) -> tuple[bytes, int, int]:
        stop = min(start + step, height)
        above = scanlines(start - 1, start)[0] if start else np.zeros(row_bytes, np.uint8)
        filtered = _paeth_filter(scanlines(start, stop), above, bpp)
        compressor = zlib.compressobj(_PNG_LEVEL[depth], zlib.DEFLATED, -15)
        last = stop == height
        packed = compressor.compress(filtered) + compressor.flush(
            zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH
        )
        return packed, zlib.adler32(filtered), len(filtered)

    f.write(_PNG_SIGNATURE)
    colour = {1: 0, 3: 2, 4: 6}[channels]
    _png_chunk(f, b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    chunks = extras.color_chunks or {}
    for name in ("cHRM", "gAMA"):
        if name in chunks:
            _png_chunk(f, name.encode("ascii"), chunks[name])
    if icc:
        _png_chunk(f, b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    elif "sRGB" in chunks:  # never both: an ICC profile takes precedence
        _png_chunk(f, b"sRGB", chunks["sRGB"])
    if extras.dpi is not None:
        ppm = [min(0x7FFFFFFF, max(1, round(v / _METRE_PER_INCH))) for v in extras.dpi]
        _png_chunk(f, b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    if exif:
        _png_chunk(f, b"eXIf", exif)
    checksum = 1
    prefix = b"\x78\x9c"  # zlib header: deflate, 32 KiB window
    pool = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
    try:
        for packed, adler, length in pool.map(deflate_block, range(0, height, step)):
            checksum = _adler32_combine(checksum, adler, length)
            _png_chunk(f, b"IDAT", prefix + packed)
            prefix = b""
    finally:
        pool.shutdown(cancel_futures=True)
    _png_chunk(f, b"IDAT", struct.pack(">I", checksum))
    _png_chunk(f, b"IEND", b"")


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """Adler-32 of two concatenated pieces from the checksums of each."""
    s1 = ((first & 0xFFFF) + (second & 0xFFFF) - 1) % 65521
    s2 = ((first >> 16) + (second >> 16) + second_length * ((first & 0xFFFF) - 1)) % 65521
    return (s2 << 16) | s1


def _paeth_filter(rows: np.ndarray, previous: np.ndarray, bpp: int) -> bytes:
    """PNG filter type 4 for a block of scanlines (*previous*: the scanline above)."""
    x = rows.astype(np.int16)
    up = np.empty_like(x)
    up[0] = previous
    up[1:] = x[:-1]
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    corner = np.zeros_like(x)
    corner[:, bpp:] = up[:, :-bpp]
    d_up = up - corner
    d_left = left - corner
    pa, pb, pc = np.abs(d_up), np.abs(d_left), np.abs(d_up + d_left)
    predicted = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, corner))
    out = np.empty((x.shape[0], x.shape[1] + 1), np.uint8)
    out[:, 0] = 4
    out[:, 1:] = (x - predicted).astype(np.uint8)
    return out.tobytes()


def _png_chunk(f: IO[bytes], kind: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)))
    f.write(kind)
    f.write(data)
    f.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


# ------------------------------------------------------------------ TIFF


def _decode_tiff(
    p: Path, im: TiffImagePlugin.TiffImageFile
) -> tuple[np.ndarray, bytes | None, bytes | None, bool]:
    """Pixels, ICC, EXIF and whether the pixels are already oriented (Pillow >= 12 does that)."""
    icc = im.info.get("icc_profile") or None
    try:
        exif = _tiff_exif(im)
    except Exception as exc:  # damaged metadata must not stop the photo from loading
        _log.warning("%s: unreadable EXIF ignored (%s)", p.name, exc)
        exif = None
    bits = im.tag_v2.get(258, 8)
    if max(bits if isinstance(bits, tuple) else (bits,)) > 8:  # Pillow would drop bits
        pixels = _tifffile_decode(p)
        if pixels is not None:
            return pixels, icc, exif, False
    had_orientation = _TAG_ORIENTATION in im.tag_v2
    rgb: Image.Image = im
    if im.mode == "CMYK":
        rgb, icc = _cmyk_to_rgb(im, icc)
    pixels = _pil_pixels(rgb)
    # Pillow (>= 12) transposes TIFFs while loading and then drops the tag.
    return pixels, icc, exif, had_orientation and _TAG_ORIENTATION not in im.tag_v2


def _tifffile_decode(p: Path) -> np.ndarray | None:
    """First page via tifffile, or ``None`` when Pillow should decode it instead."""
    tifffile = _tifffile()
    with tifffile.TiffFile(p) as tif:
        page = tif.pages.first
        if int(page.compression) not in _TIFFFILE_OWN_CODECS and _imagecodecs() is None:
            _log.warning(
                "imagecodecs is not installed: %s is loaded with 8 bits per channel", p.name
            )
            return None
        return _tifffile_pixels(page)


def _load_tiff_only(p: Path, max_pixels: int | None) -> ImageData:
    """A TIFF that Pillow cannot open (e.g. float samples): tifffile only, no EXIF."""
    tifffile = _tifffile()
    with tifffile.TiffFile(p) as tif:
        page = tif.pages.first
        _check_limit(p.name, int(page.imagewidth), int(page.imagelength), max_pixels)
        pixels = _tifffile_pixels(page)
        if pixels is None:
            raise ImageError(f"{p.name}: this kind of TIFF file is not supported")
        icc = page.iccprofile
        orientation = int(page.tags.valueof(_TAG_ORIENTATION, 1))
        tags = page.tags
        dpi = _resolution_dpi(tags.valueof(282), tags.valueof(283), tags.valueof(296))
    return _finish(pixels, icc, None, "TIFF", p, orientation, dpi)


def _tifffile_pixels(page: TiffPage) -> np.ndarray | None:
    """Decode a gray or RGB tifffile page to H x W x C uint8/uint16 (None: not gray/RGB)."""
    photometric = int(page.photometric)
    if photometric not in (0, 1, 2):  # min-is-white, min-is-black, RGB
        return None
    a = np.asarray(page.asarray())
    if int(page.planarconfig) == 2 and a.ndim == 3:
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        return None
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * 255
    elif a.dtype.kind == "u" and a.dtype.itemsize <= 2:
        a = a.astype(np.uint8 if a.dtype.itemsize == 1 else np.uint16)
        bits = int(page.bitspersample)
        if a.dtype == np.uint16 and 8 < bits < 16:  # e.g. 12-bit scans: stretch to 16 bits
            a = (a.astype(np.uint32) * 65535 // ((1 << bits) - 1)).astype(np.uint16)
    else:
        a = _to_uint16(a)
    if photometric == 0:
        a = np.iinfo(a.dtype).max - a
    base = 1 if photometric < 2 else 3
    if a.shape[2] < base:
        return None
    extras = tuple(int(e) for e in (page.extrasamples or ()))
    if a.shape[2] > base and extras and extras[0] in (1, 2):  # associated/unassociated alpha
        return _with_channels(a[..., : base + 1]) if base == 1 else a[..., :4]
    return a[..., :base]


def _tiff_exif(im: Image.Image) -> bytes | None:
    """Photo metadata of a TIFF's first IFD (plus Exif/GPS IFDs) as an EXIF block."""
    src = im.getexif()
    out = Image.Exif()
    for tag in _TIFF_EXIF_TAGS & set(src.keys()):
        out[tag] = src[tag]
    for tag in _SUB_IFDS:
        if tag in src:
            sub = {k: v for k, v in src.get_ifd(tag).items() if k != _INTEROP_IFD}
            if sub:
                out[tag] = sub
    return _clean_exif(out.tobytes()) if len(out) else None


def _write_tiff(
    f: IO[bytes], a: np.ndarray, icc: bytes | None, exif: bytes | None, _q: int, extras: _Extras
) -> None:
    tifffile = _tifffile()
    channels = a.shape[2]
    resolution: dict[str, Any] = {}
    if extras.dpi is not None:
        resolution = {"resolution": extras.dpi, "resolutionunit": "INCH"}
    tifffile.imwrite(
        f,
        a[..., 0] if channels == 1 else a,
        photometric="minisblack" if channels == 1 else "rgb",
        extrasamples=("unassalpha",) if channels == 4 else None,
        compression="zlib",
        compressionargs={"level": 6},
        predictor=True,
        iccprofile=icc,
        metadata=None,
        software=False,
        byteorder="<",
        maxworkers=os.cpu_count() or 1,
        **resolution,
    )
    if exif:
        _append_tiff_exif(f, exif, keep_resolution=extras.dpi is not None)


def _append_tiff_exif(f: IO[bytes], exif: bytes, keep_resolution: bool = False) -> None:
    """Add EXIF tags to the first IFD of a little-endian TIFF that tifffile just wrote.

    tifffile cannot write Exif/GPS sub-IFDs, so Pillow serialises the EXIF tags as an
    IFD appended to the file; a new first IFD merging tifffile's entries with those
    is appended after it and the header is pointed at it.  The EXIF resolution tags replace
    tifffile's placeholder (1 pixel per unit, no unit) unless *keep_resolution*: then the
    resolution written from ``dpi`` stays.
    """
    f.seek(0)
    head = f.read(8)
    if head[:4] != b"II*\x00":
        _log.warning("EXIF not written: the TIFF file is too large for it (BigTIFF)")
        return
    end = f.seek(0, os.SEEK_END)
    end += end % 2
    try:
        blob = _exif_as_ifd(exif, end)
    except Exception as exc:  # odd EXIF values must not stop the photo from being saved
        _log.warning("EXIF not written to TIFF: %s", exc)
        return
    if blob is None:
        return
    (ifd0,) = struct.unpack("<I", head[4:])
    f.seek(ifd0)
    (count,) = struct.unpack("<H", f.read(2))
    raw = f.read(12 * count)
    next_ifd = f.read(4)
    entries = {
        struct.unpack_from("<H", raw, 12 * i)[0]: raw[12 * i : 12 * i + 12] for i in range(count)
    }
    (extra_count,) = struct.unpack_from("<H", blob)
    for i in range(extra_count):
        entry = blob[2 + 12 * i : 14 + 12 * i]
        (tag,) = struct.unpack_from("<H", entry)
        if tag not in entries or (tag in _RESOLUTION_TAGS and not keep_resolution):
            entries[tag] = entry
    new_ifd = end + len(blob) + (end + len(blob)) % 2
    f.seek(end)
    f.write(blob.ljust(new_ifd - end, b"\x00"))
    f.write(
        struct.pack("<H", len(entries)) + b"".join(entries[t] for t in sorted(entries)) + next_ifd
    )
    f.seek(4)
    f.write(struct.pack("<I", new_ifd))


def _exif_as_ifd(exif: bytes, offset: int) -> bytes | None:
    """EXIF block -> little-endian IFD (with its sub-IFDs) laid out to start at *offset*."""
    src = Image.Exif()
    src.load(exif)
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in src.items():
        if tag not in _TIFF_LAYOUT_TAGS and tag not in _SUB_IFDS:
            ifd[tag] = value
    for tag in _SUB_IFDS:
        if tag in src:
            sub = {k: v for k, v in src.get_ifd(tag).items() if k != _INTEROP_IFD}
            if sub:
                ifd[tag] = sub
    return ifd.tobytes(offset) if len(ifd) else None


# ------------------------------------------------------------------ EXIF and orientation

_ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def _clean_exif(raw: bytes | None) -> bytes | None:
    """The TIFF-header form of an EXIF block, or None when it is missing or not EXIF."""
    if not raw:
        return None
    raw = bytes(raw)
    if raw.startswith(_EXIF_PREFIX):
        raw = raw[len(_EXIF_PREFIX) :]
    return raw if raw[:4] in (b"II*\x00", b"MM\x00*") else None


def _take_orientation(exif: bytes | None) -> tuple[int, bytes | None]:
    """The EXIF orientation (1..8) and the block with the tag reset to 1, patched in place."""
    if exif is None:
        return 1, None
    order = "<" if exif[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(order + "I", exif, 4)
        (count,) = struct.unpack_from(order + "H", exif, ifd)
        for i in range(count):
            pos = ifd + 2 + 12 * i
            tag, kind = struct.unpack_from(order + "HH", exif, pos)
            if tag == _TAG_ORIENTATION and kind in (3, 4):  # SHORT or LONG
                fmt = order + ("H" if kind == 3 else "I")
                (value,) = struct.unpack_from(fmt, exif, pos + 8)
                patched = bytearray(exif)
                struct.pack_into(fmt, patched, pos + 8, 1)
                return (value if 1 <= value <= 8 else 1), bytes(patched)
    except struct.error:
        pass
    return 1, exif


# ------------------------------------------------------------------ resolution and colour chunks


class _Extras(NamedTuple):
    """Metadata for the writers beyond ICC and EXIF."""

    dpi: tuple[float, float] | None
    color_chunks: dict[str, bytes] | None


def valid_dpi(dpi: Any) -> tuple[float, float] | None:
    """(x, y) dots per inch from one number or a pair; None (logged) when not a plausible resolution."""
    if dpi is None:
        return None
    try:
        if isinstance(dpi, (str, bytes, bool)):
            raise TypeError(dpi)
        pair = (dpi, dpi) if isinstance(dpi, (int, float)) else tuple(dpi)
        x, y = (float(v) for v in pair)
    except (TypeError, ValueError, OverflowError):
        _log.info("resolution %r ignored: not a number or a pair of numbers", dpi)
        return None
    if not all(math.isfinite(v) and 0 < v <= _MAX_DPI for v in (x, y)):
        _log.info("resolution %r ignored: out of range", dpi)
        return None
    return _snap(x), _snap(y)


def _snap(v: float) -> float:
    """A resolution read back from pixels per metre (300 dpi is stored as 11811, read as 299.9994)
    is the whole number it was written from."""
    whole = round(v)
    return float(whole) if whole and abs(v - whole) <= _METRE_PER_INCH / 2 + 1e-9 else round(v, 3)


def _resolution_dpi(x: Any, y: Any, unit: Any) -> tuple[float, float] | None:
    """DPI from TIFF/EXIF-style resolution values (rational or number) and unit (2 inch, 3 cm,
    missing = inch); None without an absolute unit, and for the 1×1 placeholder writers put in."""
    if x is None:
        return None
    try:
        fx = float(x[0]) / float(x[1]) if isinstance(x, tuple) else float(x)
        fy = fx if y is None else (float(y[0]) / float(y[1]) if isinstance(y, tuple) else float(y))
        unit = 2 if unit is None else int(unit)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if unit not in (2, 3) or (fx == 1 and fy == 1):
        return None
    scale = 2.54 if unit == 3 else 1.0
    return valid_dpi((fx * scale, fy * scale))


def _png_dpi(phys: bytes | None) -> tuple[float, float] | None:
    """DPI from a pHYs payload (pixels per metre); None when its unit is not the metre."""
    if phys is None or len(phys) != 9:
        return None
    x, y, unit = struct.unpack(">IIB", phys)
    if unit != 1 or not x or not y:
        return None
    return valid_dpi((x * _METRE_PER_INCH, y * _METRE_PER_INCH))


def _jpeg_dpi(info: dict[str, Any], exif: bytes | None) -> tuple[float, float] | None:
    """DPI from the JFIF density (unit 1 inch, 2 cm), else from the EXIF resolution tags."""
    unit, density = info.get("jfif_unit"), info.get("jfif_density")
    if unit in (1, 2) and isinstance(density, tuple) and len(density) == 2 and all(density):
        scale = 2.54 if unit == 2 else 1.0
        return valid_dpi((density[0] * scale, density[1] * scale))
    if exif is None:
        return None
    try:
        tags = Image.Exif()
        tags.load(exif)
        return _resolution_dpi(tags.get(282), tags.get(283), tags.get(296))
    except Exception:  # damaged EXIF: no resolution, the photo still loads
        return None


def _info_dpi(dpi: Any) -> tuple[float, float] | None:
    """DPI as Pillow reports it for other formats (BMP); None for 0 or nonsense."""
    return valid_dpi(dpi) if dpi else None


def valid_color_chunks(chunks: Any) -> dict[str, bytes] | None:
    """The gAMA/sRGB/cHRM payloads of the right size (others dropped, logged)."""
    if not chunks:
        return None
    kept: dict[str, bytes] = {}
    for name, data in dict(chunks).items():
        key = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        if key in PNG_COLOR_CHUNKS and isinstance(data, (bytes, bytearray)) and len(data) == PNG_COLOR_CHUNKS[key]:
            kept[key] = bytes(data)
        else:
            _log.info("PNG chunk %r ignored: not a colour chunk of the right size", name)
    return kept or None


# --------------------------------------------------------------------------- saving


def _save_kind(p: Path, fmt: str | None) -> str:
    key = (fmt or p.suffix).lstrip(".").upper()
    kind = {"PNG": "PNG", "JPG": "JPEG", "JPEG": "JPEG", "TIF": "TIFF", "TIFF": "TIFF"}.get(key)
    if kind is None:
        shown = fmt or p.suffix or "no extension"
        raise ImageError(
            f"cannot save {p.name}: unsupported format ({shown}); use PNG, JPEG or TIFF"
        )
    return kind


def _validated(name: str, pixels: Any) -> np.ndarray:
    """Check the array to save and return it as contiguous H x W x C uint8/uint16."""
    if not isinstance(pixels, np.ndarray):
        raise ImageError(f"cannot save {name}: the pixels are not an array")
    a = pixels[..., None] if pixels.ndim == 2 else pixels
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageError(f"cannot save {name}: unsupported pixel array shape {pixels.shape}")
    if a.dtype.kind != "u" or a.dtype.itemsize not in (1, 2):
        raise ImageError(f"cannot save {name}: pixels must be uint8 or uint16, not {pixels.dtype}")
    return np.ascontiguousarray(a, dtype=np.uint8 if a.dtype.itemsize == 1 else np.uint16)


def _matching_icc(icc: bytes | None, channels: int) -> bytes | None:
    """Drop an ICC profile whose colour space (gray/RGB) does not fit the pixels."""
    if not icc:
        return None
    space = bytes(icc[16:20])
    if space != (b"GRAY" if channels == 1 else b"RGB "):
        _log.info("ICC profile for %r not written with %d-channel pixels", space, channels)
        return None
    return bytes(icc)


def _to_pil(a: np.ndarray) -> Image.Image:
    """uint8 H x W x (1|3|4) -> Pillow image (L, RGB or RGBA)."""
    return Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 by rounding v / 257 (uint8 passes through)."""
    if a.dtype == np.uint8:
        return a
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _write_jpeg(
    f: IO[bytes], a: np.ndarray, icc: bytes | None, exif: bytes | None, quality: int, extras: _Extras
) -> None:
    if a.shape[2] == 4:  # composite onto white
        x = a.astype(np.float32) / float(np.iinfo(a.dtype).max)
        rgb = x[..., :3] * x[..., 3:] + (1.0 - x[..., 3:])
        a8 = np.rint(rgb * 255.0).astype(np.uint8)
    else:
        a8 = _to_uint8(a)
    extra: dict[str, Any] = {}
    if icc:
        extra["icc_profile"] = icc
    if exif and len(exif) > _JPEG_MAX_EXIF:
        _log.warning("EXIF not written: %d bytes do not fit in a JPEG file", len(exif))
    elif exif:
        extra["exif"] = _EXIF_PREFIX + exif
    if extras.dpi is not None:  # JFIF density: whole dots per inch
        extra["dpi"] = tuple(min(65535, max(1, round(v))) for v in extras.dpi)
    # 4:4:4 chroma at high quality: restored detail should not be smeared.
    subsampling = 0 if quality >= 90 else 2
    _to_pil(a8).save(f, "JPEG", quality=int(quality), subsampling=subsampling, **extra)


_Writer = Callable[[IO[bytes], np.ndarray, "bytes | None", "bytes | None", int, _Extras], None]
_WRITERS: dict[str, _Writer] = {"PNG": _write_png, "JPEG": _write_jpeg, "TIFF": _write_tiff}


def _atomic_write(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through ``.name.XXXX.tmp`` in the same folder, fsync, then rename over *target*."""
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None  # a new file gets 0o666 minus the umask
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            f = open(tmp, "x+b")  # noqa: SIM115 - O_EXCL; mode 0o666 minus the umask
            break
        except FileExistsError:
            continue
    else:
        raise OSError(errno.EEXIST, "cannot create a temporary file")
    try:
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); best effort."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- optional modules


@functools.cache
def _imagecodecs() -> ModuleType | None:
    """The imagecodecs module, or None when it is not installed."""
    try:
        return importlib.import_module("imagecodecs")
    except ImportError:
        return None


def _tifffile() -> ModuleType:
    """tifffile, imported on first use (it is slow to import)."""
    return importlib.import_module("tifffile")
