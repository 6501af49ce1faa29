"""Generated folders of scans for the batch tests (core, inference, CLI and Qt)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

from restorer_gui.core import imageio

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_block(description: str = "wedding 1931") -> bytes:
    exif = Image.Exif()
    exif[270] = description
    return exif.tobytes()


def _pixels(h: int, w: int, c: int, dtype: type, seed: int) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, (h, w, c), dtype=dtype, endpoint=True)


def mixed_folder(root: Path) -> dict[str, np.ndarray]:
    """Nested PNG/JPEG/TIFF, 8/16-bit, gray/RGB/RGBA, plus a corrupt and a non-image file.

    Returns the pixels of the good ones by relative path.
    """
    good = {
        "a.png": _pixels(24, 32, 3, np.uint8, 1),
        "b.jpg": _pixels(20, 28, 3, np.uint8, 2),
        "sub/c.tif": _pixels(18, 22, 1, np.uint16, 3),
        "sub/d.png": _pixels(16, 20, 4, np.uint16, 4),
        "sub/deep/e.png": _pixels(12, 14, 1, np.uint8, 5),
    }
    for rel, pixels in good.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"icc_profile": SRGB, "exif": exif_block()} if rel == "a.png" else {}
        imageio.save_image(path, pixels, **meta)
    data = (root / "b.jpg").read_bytes()
    (root / "sub" / "broken.jpg").write_bytes(data[: len(data) // 3])  # truncated
    (root / "sub" / "deep" / "notes.png").write_text("not a picture")
    return good


def flat_folder(root: Path, count: int, size: tuple[int, int] = (24, 32)) -> list[Path]:
    """*count* small RGB PNGs named p00.png, p01.png, …"""
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        p = root / f"p{i:02d}.png"
        imageio.save_image(p, _pixels(*size, 3, np.uint8, 100 + i))
        paths.append(p)
    return paths


def digests(root: Path) -> dict[str, str]:
    """sha256 of every file under *root* (hidden ones too), by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def temp_files(root: Path) -> list[Path]:
    """Left-over temporaries of atomic writes."""
    return sorted(p for p in root.rglob("*.tmp"))
