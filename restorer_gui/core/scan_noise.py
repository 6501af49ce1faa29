"""Noise as real scans have it, with the noise level every pixel carries (numpy + Pillow only).

Real grain is not white: the film's grain is spatially correlated and strongest in the mid-tones, the
scanner's optics blur it together with the picture, the scanner's sensor adds white or shot noise after
that, and the file is 8-bit or JPEG. `degrade_scan` makes such a scan from a clean photo and returns,
besides the noisy picture, the clean reference (the same photo through the same blur, so a denoiser is
not asked to sharpen) and ``sigma_map``: the standard deviation of the noise at each pixel as it is in
the final picture (after the correlation and the scanner blur), on the 0–255 scale. That map is what a
noise-level estimator learns to predict; ``sigma`` (the std at mid-grey) is the level one number names.

Conventions as in `core.degradations`: float32 images in [0, 1], H×W×3 or H×W×1; every random function
takes an explicit ``np.random.Generator`` and is deterministic for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from restorer_gui.core import degradations as deg

FloatArray = npt.NDArray[np.float32]

__all__ = [
    "KINDS",
    "POSTS",
    "ScanNoise",
    "blurred_std_factor",
    "correlated_field",
    "degrade_scan",
    "grain_profile",
]

#: noise kinds: white Gaussian, Poisson–Gaussian (shot + read noise, white, after the scanner's blur),
#: spatially correlated signal-independent grain, and film grain (correlated and strongest in mid-tones);
#: the two grains are in the print, so the scanner's blur softens them.
KINDS = ("gaussian", "poisson_gaussian", "correlated", "film_grain")
_KIND_P = (0.25, 0.2, 0.25, 0.3)
#: what the file does last: JPEG, 8-bit quantisation, clipping only, or nothing (float)
POSTS = ("jpeg", "8bit", "clip", "none")
_POST_P = (0.25, 0.35, 0.2, 0.2)


@dataclass
class ScanNoise:
    """A degraded scan: ``noisy`` and ``clean`` are H×W×C float32; ``sigma_map`` is H×W float32, the noise's
    std at each pixel on the 0–255 scale (clipping and JPEG left out); ``sigma`` the std at mid-grey."""

    noisy: FloatArray
    clean: FloatArray
    sigma_map: FloatArray
    sigma: float
    kind: str
    grain_size: float  # the grain's correlation length in px (0: white noise)
    blur: float  # the scanner's Gaussian blur in px (0: none)
    post: str


def _kernel(sigma: float) -> np.ndarray:
    """The 1-D Gaussian kernel `degradations.gaussian_blur` uses (a unit impulse below its cut-off)."""
    if sigma < 0.15:
        return np.ones(1)
    r = max(1, math.ceil(3.0 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blurred_std_factor(grain_size: float, blur: float) -> float:
    """How much a Gaussian blur of ``blur`` px scales the std of a unit-std noise field whose correlation
    is a Gaussian of ``grain_size`` px (0: white): for separable kernels the 2-D variance is the square of
    the 1-D one, so the std ratio is ‖g∗b‖² / ‖g‖² with the 1-D kernels g and b."""
    g = _kernel(grain_size)
    gb = np.convolve(g, _kernel(blur))
    return float(np.sum(gb**2) / np.sum(g**2))


def correlated_field(shape: tuple[int, int, int], rng: np.random.Generator, grain_size: float) -> FloatArray:
    """Gaussian noise of unit std with a Gaussian correlation of ``grain_size`` px (0: white), H×W×C."""
    z = rng.standard_normal(shape, dtype=np.float32)
    if grain_size < 0.15:
        return z
    norm = np.float32(np.sum(_kernel(grain_size) ** 2))  # the blurred field's std (see blurred_std_factor)
    return deg.gaussian_blur(z, grain_size) / norm


def grain_profile(lum: np.ndarray, floor: float = 0.4) -> np.ndarray:
    """Film grain's relative strength at luminance ``lum``: 1 at mid-grey, ``floor`` in black and white
    (`degradations.add_film_grain` uses floor 0.4: 0.4 + 2.4·L·(1 − L))."""
    lum = np.clip(lum, 0.0, 1.0)
    return floor + (1.0 - floor) * 4.0 * lum * (1.0 - lum)


def _luma(a: np.ndarray) -> np.ndarray:
    return a[..., 0] if a.shape[2] == 1 else 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def degrade_scan(
    img: npt.ArrayLike,
    rng: np.random.Generator,
    sigma_range: tuple[float, float] = (0.0, 60.0),
    *,
    kind: str | None = None,
    sigma: float | None = None,
    grain_size: float | None = None,
    blur: float | None = None,
    post: str | None = None,
) -> ScanNoise:
    """A clean photo as a noisy scan (see the module docstring). Unless given: ``sigma`` (the std at
    mid-grey in the final picture, 0–255 scale) ~ U(sigma_range); ``kind`` from KINDS (25 / 20 / 25 / 30 %);
    ``grain_size`` ~ U(0.5, 1.5) px for the grains; the scanner's ``blur`` U(0.3, 1.0) px half of the time;
    film grain's floor (its strength in black and white) U(0.25, 0.55) and colour grain U(0, 0.2); a grain
    gets white sensor noise of up to 30 % of its level a third of the time; then ``post`` from POSTS
    (JPEG q50–95 25 %, 8-bit 35 %, clipped 20 %, as is 20 %)."""
    a = deg.to_float(img)
    shape = a.shape
    a = a[:, :, None] if a.ndim == 2 else a
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"expected an H×W, H×W×1 or H×W×3 image, got shape {shape}")
    h, w, c = a.shape
    kind = kind or KINDS[int(rng.choice(len(KINDS), p=_KIND_P))]
    if kind not in KINDS:
        raise ValueError(f"unknown noise kind {kind!r} (known: {', '.join(KINDS)})")
    s = (float(rng.uniform(*sigma_range)) if sigma is None else float(sigma)) / 255.0
    grainy = kind in ("correlated", "film_grain")
    size = (float(rng.uniform(0.5, 1.5)) if grain_size is None else float(grain_size)) if grainy else 0.0
    if blur is None:
        blur = float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else 0.0
    clean = deg.gaussian_blur(a, blur) if blur >= 0.15 else a.copy()
    if grainy:
        noisy, var = _grain(a, clean, rng, kind, s, size, blur)
        if rng.random() < 1 / 3:  # the scanner's own white noise on top of the print's grain
            extra = s * float(rng.uniform(0.0, 0.3))
            noisy = noisy + np.float32(extra) * rng.standard_normal(noisy.shape, dtype=np.float32)
            var = var + np.float32(extra**2)
    elif kind == "gaussian":
        noisy = clean + np.float32(s) * rng.standard_normal(clean.shape, dtype=np.float32)
        var = np.full((h, w), s * s, np.float32)
    else:
        noisy, var = _poisson_gaussian(clean, rng, s)
    post = post or POSTS[int(rng.choice(len(POSTS), p=_POST_P))]
    if post == "jpeg":
        noisy = deg.jpeg_compress(noisy, rng, (50, 95))
    elif post == "8bit":
        noisy = deg.quantize_8bit(noisy)
    elif post == "clip":
        noisy = np.clip(noisy, 0.0, 1.0)
    elif post != "none":
        raise ValueError(f"unknown post-processing {post!r} (known: {', '.join(POSTS)})")
    sigma_map = (np.sqrt(np.maximum(var, 0.0)) * 255.0).astype(np.float32)
    return ScanNoise(noisy.reshape(shape).astype(np.float32), clean.reshape(shape).astype(np.float32), sigma_map,
                     s * 255.0, kind, size, float(blur), post)


def _grain(a: np.ndarray, clean: np.ndarray, rng: np.random.Generator, kind: str, s: float, size: float,
           blur: float) -> tuple[np.ndarray, np.ndarray]:
    """Grain laid into the print (``a``), then the scanner's blur over both; (noisy, per-pixel variance)."""
    h, w, c = a.shape
    factor = blurred_std_factor(size, blur)
    level = s / factor  # the grain's std in the print, so that it is ``s`` at mid-grey after the blur
    if kind == "film_grain":
        amp = level * grain_profile(_luma(a), float(rng.uniform(0.25, 0.55)))
        chroma = float(rng.uniform(0.0, 0.2)) if c == 3 else 0.0
    else:
        amp = np.full((h, w), level)
        chroma = 0.0
    field = correlated_field((h, w, 1), rng, size)
    if chroma > 0:
        field = (field + np.float32(chroma) * correlated_field((h, w, 3), rng, size)) / np.float32(
            math.sqrt(1 + chroma**2))
    grain = amp.astype(np.float32)[:, :, None] * field
    noise = deg.gaussian_blur(grain, blur) if blur >= 0.15 else grain
    # the blurred grain's std: the blurred amplitude (it varies slowly against the grain) times the factor
    amp_after = deg.gaussian_blur(amp.astype(np.float32), blur) if blur >= 0.15 else amp
    return clean + noise, (amp_after * factor) ** 2


def _poisson_gaussian(clean: np.ndarray, rng: np.random.Generator, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Shot noise plus read noise with std ``s`` at mid-grey (a share ρ ~ U(0.3, 1) of its variance from
    shot noise); (noisy, per-pixel variance, the channels' mean)."""
    if s <= 0:
        return clean.copy(), np.zeros(clean.shape[:2], np.float32)
    rho = float(rng.uniform(0.3, 1.0))
    peak = 0.5 / (rho * s * s)
    read = math.sqrt(1.0 - rho) * s
    x = np.clip(clean, 0.0, 1.0)
    noisy = deg.add_poisson_gaussian_noise(clean, rng, peak, read)
    var = (x / peak + read * read).mean(axis=2)
    return noisy, var.astype(np.float32)
