"""Regenerate resources/sample_photo.jpg and resources/sample_photo_mask.png.

Ages scikit-image's public-domain astronaut photograph (NASA, Eileen Collins; see resources/SAMPLE_PHOTO.md)
with restorer_gui.core.degradations. Seeded: re-running gives identical files (for the same numpy,
Pillow and scikit-image versions). scikit-image is needed only here, not by the app:

    .venv/bin/pip install scikit-image
    .venv/bin/python tools/make_sample_photo.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from restorer_gui.core import degradations as D  # noqa: E402

SEED = 6
JPEG_QUALITY = 92


def source_image() -> np.ndarray:
    """The clean source photo as float32 H×W×3 in [0, 1]."""
    from skimage import data

    return D.to_float(data.astronaut())


def make(img: np.ndarray, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Age ``img`` into a faded, scratched, dusty, creased print; returns (image, soft damage mask)."""
    rng = np.random.default_rng(seed)
    h, w = img.shape[:2]
    out = D.fade(img, rng, 0.8)
    out = D.color_cast(out, rng, 0.4, "sepia")
    out = D.color_cast(out, rng, 0.5, "yellow")
    out = D.mild_blur(out, rng, max_sigma=0.8, min_sigma=0.8)
    out = D.add_film_grain(out, rng, strength=0.035, grain_size=0.9, clip=True)
    out = D.apply_damage(out, D.stain_mask(h, w, rng, 1, (0.1, 0.16)), rng, "stain")
    masks = []
    for mode, mask in (
        ("light", D.scratch_mask(h, w, rng, 5, (1.5, 3.5), vertical_fraction=0.6)),
        ("dark", D.scratch_mask(h, w, rng, 2, (1.0, 2.5), vertical_fraction=0.5)),
        ("light", D.dust_mask(h, w, rng, 45, (1.5, 5.0))),
        ("dark", D.dust_mask(h, w, rng, 30, (1.5, 4.5))),
        ("light", D.crease_mask(h, w, rng, 1, (2.0, 3.5))),
    ):
        out = D.apply_damage(out, mask, rng, mode)
        masks.append(mask)
    out = D.add_gaussian_noise(out, 0.006, rng, clip=True)
    return out, np.maximum.reduce(masks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "resources")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    aged, mask = make(source_image(), args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    photo = args.out_dir / "sample_photo.jpg"
    u8 = (np.clip(aged, 0, 1) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(u8).save(photo, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    # binary inpainting mask: the visible damage, grown by one pixel to cover the soft edges
    binary = Image.fromarray(((mask > 0.2) * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(3))
    binary.save(args.out_dir / "sample_photo_mask.png", format="PNG", optimize=True)
    print(f"wrote {photo} ({photo.stat().st_size // 1024} KB), damage {np.mean(np.asarray(binary) > 0):.1%}")


if __name__ == "__main__":
    main()
