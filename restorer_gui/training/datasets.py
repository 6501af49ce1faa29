"""Training data: image banks read from folders, seeded random patches, and per-task batch makers.

Every batch is a pure function of (seed, step), so a resumed run sees exactly the batches it would have
seen without the interruption. Images stay uint8 in memory; degradations come from
`restorer_gui.core.degradations`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from restorer_gui.core import degradations as deg

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageBank",
    "PatchBank",
    "augment",
    "denoise_batch",
    "enhance_batch",
    "inpaint_batch",
    "list_images",
    "load_rgb",
    "noise_estimate_batch",
    "random_inpaint_mask",
    "scratch_batch",
    "synth_damage",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def list_images(folders: Iterable[str | Path]) -> list[Path]:
    """All image files under ``folders`` (recursive), sorted for reproducibility."""
    out: list[Path] = []
    for folder in folders:
        out.extend(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return sorted(out)


def load_rgb(path: str | Path) -> np.ndarray:
    """An image file as uint8 H×W×3 (16-bit files are reduced to 8 bits)."""
    with Image.open(path) as im:
        if im.mode in ("I;16", "I;16B", "I;16L", "I"):
            a = np.asarray(im, dtype=np.float32)
            scale = 65535.0 if a.max() > 255 else 255.0
            return np.repeat((a / scale * 255 + 0.5).clip(0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random horizontal flip and rotation by a multiple of 90°."""
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    return np.ascontiguousarray(np.rot90(patch, int(rng.integers(4))))


def held_out(count: int, val_every: int = 20) -> np.ndarray:
    """Which of ``count`` images (sorted by name) the trainers hold out for validation."""
    return np.arange(count) % val_every == val_every // 2


def held_out_paths(folders: Iterable[str | Path], val_every: int = 20) -> list[Path]:
    """The held-out training images (never trained on), without decoding the others."""
    paths = list_images(folders)
    keep = held_out(len(paths), val_every)
    return [p for p, k in zip(paths, keep, strict=True) if k]


class ImageBank:
    """Decoded uint8 images held in memory; random augmented crops."""

    def __init__(self, images: Sequence[np.ndarray], names: Sequence[str] | None = None) -> None:
        if not images:
            raise ValueError("no training images")
        self.images = list(images)
        self.names = list(names) if names is not None else [str(i) for i in range(len(images))]

    @classmethod
    def from_folders(cls, folders: Iterable[str | Path]) -> ImageBank:
        paths = list_images(folders)
        if not paths:
            raise FileNotFoundError(f"no images under {list(folders)}")
        return cls([load_rgb(p) for p in paths], [p.name for p in paths])

    def split(self, val_every: int = 20) -> tuple[ImageBank, ImageBank]:
        """(train, held-out) split: every ``val_every``-th image (by sorted name) is held out."""
        idx = np.arange(len(self.images))
        val = held_out(len(self.images), val_every)
        if val.all() or not val.any():
            return self, self
        pick = lambda keep: ([self.images[i] for i in idx[keep]], [self.names[i] for i in idx[keep]])  # noqa: E731
        return ImageBank(*pick(~val)), ImageBank(*pick(val))

    def random_patch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """An augmented size×size uint8 crop from a random image (images smaller than ``size`` are
        reflect-padded)."""
        img = self.images[int(rng.integers(len(self.images)))]
        h, w = img.shape[:2]
        if h < size or w < size:
            img = np.pad(img, ((0, max(size - h, 0)), (0, max(size - w, 0)), (0, 0)), mode="reflect")
            h, w = img.shape[:2]
        y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        return augment(img[y : y + size, x : x + size], rng)


def write_patch_cache(folders: Iterable[str | Path], path: str | Path, count: int, size: int, seed: int = 0) -> Path:
    """A compact N×size×size×3 uint8 ``.npy`` of random augmented crops to carry to another machine
    (``train --patch-cache``). The first `PatchBank.held_out_count` crops come from the held-out images
    and the rest from the training images, which is where `PatchBank.split` draws the line, so
    validation stays on images the run never trains on. Written to a temporary
    name first: an interrupted run leaves no partial cache."""
    if count < 2 or size < 8:
        raise ValueError("a patch cache needs at least 2 crops of at least 8 px")
    train, val = ImageBank.from_folders(folders).split()
    rng = np.random.default_rng(seed)
    k = PatchBank.held_out_count(count)
    arr = np.stack([val.random_patch(rng, size) for _ in range(k)] + [train.random_patch(rng, size) for _ in range(count - k)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part.npy")
    try:
        np.save(tmp, arr)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


class PatchBank:
    """Random augmented crops from a pre-extracted N×P×P×3 uint8 patch array (see `write_patch_cache`)."""

    def __init__(self, patches: np.ndarray) -> None:
        if patches.ndim != 4 or patches.shape[3] != 3 or patches.dtype != np.uint8:
            raise ValueError("expected an N×P×P×3 uint8 array")
        self.patches = patches

    @classmethod
    def load(cls, path: str | Path) -> PatchBank:
        return cls(np.load(path, mmap_mode="r"))

    @staticmethod
    def held_out_count(n: int) -> int:
        """How many of a cache's ``n`` patches, at its start, are held out for validation."""
        return max(1, n // 20)

    def split(self) -> tuple[PatchBank, PatchBank]:
        """(train, held-out): the first `held_out_count` patches validate (`write_patch_cache` puts the
        held-out images' crops there)."""
        k = self.held_out_count(len(self.patches))
        return PatchBank(self.patches[k:]), PatchBank(self.patches[:k])

    def random_patch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        p = self.patches[int(rng.integers(len(self.patches)))]
        n = p.shape[0]
        if size > n:
            raise ValueError(f"patch cache holds {n}px patches, {size}px requested")
        y, x = int(rng.integers(n - size + 1)), int(rng.integers(n - size + 1))
        return augment(np.asarray(p[y : y + size, x : x + size]), rng)


Bank = ImageBank | PatchBank


def _rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(step)])


def _clean(bank: Bank, rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return np.stack([bank.random_patch(rng, size) for _ in range(n)]).astype(np.float32) / np.float32(255)


def denoise_batch(
    bank: Bank, seed: int, step: int, n: int, size: int, sigma_max: float = 55.0, p_awgn: float = 0.5
) -> dict[str, np.ndarray]:
    """Noisy/clean pairs, NHWC float32, and the nominal σ (0–1 scale) per sample.

    A share ``p_awgn`` gets plain unclipped Gaussian noise with σ ~ U(0, sigma_max)/255 (the benchmark
    condition); the rest goes through `degrade_for_denoising` (Gaussian, Poisson–Gaussian or grain, then
    JPEG, 8-bit quantisation or clipping), σ up to 50.
    """
    rng = _rng(seed, step)
    clean = _clean(bank, rng, n, size)
    noisy = np.empty_like(clean)
    sigma = np.empty(n, np.float32)
    for i in range(n):
        if rng.random() < p_awgn:
            s = rng.uniform(0.0, sigma_max)
            noisy[i] = deg.add_gaussian_noise(clean[i], s / 255.0, rng)
        else:
            noisy[i], s = deg.degrade_for_denoising(clean[i], rng, (0.0, 50.0))
        sigma[i] = s / 255.0
    return {"noisy": noisy, "clean": clean, "sigma": sigma}


def noise_estimate_batch(bank: Bank, seed: int, step: int, n: int, size: int,
                         sigma_range: tuple[float, float] = (0.0, 60.0)) -> dict[str, np.ndarray]:
    """Noisy scans (NHWC float32) from `core.scan_noise.degrade_scan` (white, Poisson–Gaussian, correlated
    and film grain, scanner blur, JPEG / 8-bit / clipping; σ at mid-grey ~ U(sigma_range) on the 0–255 scale)
    and the noise's std at each pixel (N×H×W, 0–1 scale): what the noise estimator learns to predict."""
    from restorer_gui.core.scan_noise import degrade_scan

    rng = _rng(seed, step)
    clean = _clean(bank, rng, n, size)
    noisy = np.empty_like(clean)
    level = np.empty(clean.shape[:3], np.float32)
    for i in range(n):
        scan = degrade_scan(clean[i], rng, sigma_range)
        noisy[i] = scan.noisy
        level[i] = scan.sigma_map / np.float32(255)
    return {"noisy": noisy, "sigma_map": level}


_MASKERS = (deg.thin_mask, deg.medium_mask, deg.wide_mask)


def random_inpaint_mask(h: int, w: int, rng: np.random.Generator, kind: int | None = None) -> tuple[np.ndarray, int]:
    """A binary hole mask and its kind (0 thin, 1 medium, 2 wide): a kind drawn in equal thirds, or *kind*."""
    p = np.full(3, 1 / 3) if kind is None else np.eye(3)[kind]
    drawn = int(rng.choice(3, p=p))
    return _MASKERS[drawn](h, w, rng), drawn


def inpaint_batch(bank: Bank, seed: int, step: int, n: int, size: int, kind: int | None = None) -> dict[str, np.ndarray]:
    """Clean patches (NHWC), binary hole masks (N×H×W, 1 = hole) and each mask's kind (0 thin,
    1 medium, 2 wide): mixed in equal thirds, or all of one *kind*."""
    rng = _rng(seed, step)
    clean = _clean(bank, rng, n, size)
    masks, kinds = zip(*(random_inpaint_mask(size, size, rng, kind) for _ in range(n)), strict=True)
    return {"clean": clean, "mask": np.stack(masks).astype(np.float32), "kind": np.asarray(kinds, np.int64)}


def synth_damage(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Old-print look plus dense scratches, dust and creases at photo scale, independent of the crop size
    (`age_photo` scales damage with the image, which leaves small patches nearly clean).
    Returns (damaged image, soft damage mask)."""
    h, w = img.shape[:2]
    out = img
    if rng.random() < 0.6:
        out = deg.fade(out, rng, float(rng.uniform(0.0, 0.7)))
    if rng.random() < 0.6:
        out = deg.color_cast(out, rng, float(rng.uniform(0.0, 0.9)))
    if rng.random() < 0.6:
        out = deg.mild_blur(out, rng, max_sigma=1.0, min_sigma=0.2)
    out = deg.add_film_grain(out, rng, float(rng.uniform(0.0, 0.045)), float(rng.uniform(0.6, 1.4)))
    if rng.random() < 0.2:
        out = deg.apply_damage(out, deg.stain_mask(h, w, rng, 1), rng, "stain")
    masks = []
    scale = max(h, w) / 128.0
    layers = (
        ("light", lambda: deg.scratch_mask(h, w, rng, int(rng.poisson(1.2 * scale)), (1.0, 4.0))),
        ("dark", lambda: deg.scratch_mask(h, w, rng, int(rng.poisson(0.6 * scale)), (1.0, 4.0))),
        ("light", lambda: deg.dust_mask(h, w, rng, int(rng.poisson(4.0 * scale * scale)), (1.0, 4.5))),
        ("dark", lambda: deg.dust_mask(h, w, rng, int(rng.poisson(2.5 * scale * scale)), (1.0, 4.5))),
    )
    for mode, make in layers:
        m = make()
        out = deg.apply_damage(out, m, rng, mode)
        masks.append(m)
    if rng.random() < 0.25:
        m = deg.crease_mask(h, w, rng, 1, (1.0, 4.0))
        out = deg.apply_damage(out, m, rng, "light")
        masks.append(m)
    out = deg.add_gaussian_noise(out, float(rng.uniform(0.002, 0.01)), rng, clip=True)
    return out, np.maximum.reduce(masks).astype(np.float32)


def scratch_batch(
    bank: Bank, seed: int, step: int, n: int, size: int, p_age: float = 0.1, p_print: float = 0.6,
    p_clean: float = 0.05,
) -> dict[str, np.ndarray]:
    """Damaged patches and their soft damage masks (N×H×W in [0, 1]).

    A share ``p_print`` gets `print_damage.damage_print` (crack webs, craquelure, creases, tears, flaking,
    foxing, lint, dust, film scratches, with rims; aged and scanned), ``p_age`` the full `age_photo` recipe,
    ``p_clean`` no damage at all (only ageing and scan noise, an empty mask: a detector must leave clean
    photos alone), the rest `synth_damage`; those two are JPEG-compressed a third of the time.
    """
    from restorer_gui.core import print_damage as pdmg

    rng = _rng(seed, step)
    clean = _clean(bank, rng, n, size)
    images = np.empty_like(clean)
    masks = np.empty(clean.shape[:3], np.float32)
    for i in range(n):
        u = rng.random()
        if u < p_print:
            images[i], masks[i] = pdmg.damage_print(clean[i], rng, float(rng.uniform(0.5, 1.5)),
                                                    float(rng.uniform(0.5, 1.8)))
            continue
        if u < p_print + p_clean:
            images[i] = pdmg.damage_print(clean[i], rng, 0.0, 1.0, kinds=())[0]
            masks[i] = 0.0
            continue
        if u < p_print + p_clean + p_age:
            images[i], masks[i] = deg.age_photo(clean[i], rng, float(rng.uniform(1.0, 2.0)))
        else:
            images[i], masks[i] = synth_damage(clean[i], rng)
        if rng.random() < 0.33:
            images[i] = deg.jpeg_compress(images[i], rng, (50, 95))
    return {"image": images, "mask": masks}


def enhance_batch(bank: Bank, seed: int, step: int, n: int, size: int, p_clean: float = 0.1) -> dict[str, np.ndarray]:
    """Faded prints and their targets (NHWC float32) from `core.fading.fade_print`, strength 0.3–1.3; a share
    ``p_clean`` is left as it is (an enhancer must leave a good photo alone)."""
    from restorer_gui.core import fading

    rng = _rng(seed, step)
    clean = _clean(bank, rng, n, size)
    faded, target = np.empty_like(clean), np.empty_like(clean)
    for i in range(n):
        strength = 0.0 if rng.random() < p_clean else float(rng.uniform(0.3, 1.3))
        faded[i], target[i] = fading.fade_print(clean[i], rng, strength)
    return {"faded": faded, "target": target}
