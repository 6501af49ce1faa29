"""Seeded synthetic damage for old photos (numpy + Pillow only).

Used to make the sample photo and to generate training pairs for the denoiser, inpainter and scratch
detector. Conventions:

* Images are float32 arrays H×W×3 (also H×W×1 or H×W) with values in [0, 1]; uint8/uint16 input is
  scaled to [0, 1]. Every image function returns float32 with the input's shape.
* Masks are float32 H×W with 1 = damage. Damage masks (scratch, dust, crease, tear, stain) have soft,
  anti-aliased edges (drawn at 2–4× supersampling); inpainting training masks are exactly 0/1.
* Every random function takes an explicit ``np.random.Generator`` and is deterministic for it.
* Lengths and widths are in pixels unless stated otherwise.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

FloatArray = npt.NDArray[np.float32]

__all__ = [
    "COLOR_CASTS",
    "DAMAGE_MODES",
    "MEDIUM_HOLE_RANGE",
    "THIN_HOLE_RANGE",
    "WIDE_HOLE_RANGE",
    "add_film_grain",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "age_photo",
    "apply_damage",
    "color_cast",
    "crease_mask",
    "degrade_for_denoising",
    "dust_mask",
    "fade",
    "gaussian_blur",
    "jpeg_compress",
    "medium_mask",
    "mild_blur",
    "quantize_8bit",
    "scratch_mask",
    "stain_mask",
    "tear_mask",
    "thin_mask",
    "to_float",
    "wide_mask",
]

#: Hole fraction (share of masked pixels) of the inpainting training masks; always within these bounds.
THIN_HOLE_RANGE: tuple[float, float] = (0.01, 0.06)
MEDIUM_HOLE_RANGE: tuple[float, float] = (0.06, 0.20)
WIDE_HOLE_RANGE: tuple[float, float] = (0.20, 0.40)

_LUMA = (0.299, 0.587, 0.114)

# ---------------------------------------------------------------------------------------------------------
# helpers


def to_float(img: npt.ArrayLike) -> FloatArray:
    """Return ``img`` as float32 in [0, 1] scale (uint8 / 255, uint16 / 65535, floats unchanged)."""
    a = np.asarray(img)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535)
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    return a.astype(np.float32, copy=False)


def _prep(img: npt.ArrayLike) -> tuple[FloatArray, tuple[int, ...]]:
    """float32 H×W×C view of ``img`` plus its original shape (never modify the result in place)."""
    a = to_float(img)
    shape = a.shape
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"expected an H×W, H×W×1 or H×W×3 image, got shape {shape}")
    return a, shape


def _done(a: np.ndarray, shape: tuple[int, ...]) -> FloatArray:
    return np.ascontiguousarray(a, dtype=np.float32).reshape(shape)


def _luma(a: FloatArray) -> FloatArray:
    if a.shape[2] == 1:
        return a[:, :, 0]
    return _LUMA[0] * a[:, :, 0] + _LUMA[1] * a[:, :, 1] + _LUMA[2] * a[:, :, 2]


def _fit_channels(rgb: np.ndarray, channels: int) -> np.ndarray:
    """A colour (…×3) reduced to the image's channel count (mean for mono)."""
    rgb = np.asarray(rgb, dtype=np.float32)
    return rgb if channels == 3 else rgb.mean(axis=-1, keepdims=True)


def _gauss_kernel(sigma: float) -> FloatArray:
    r = max(1, math.ceil(3.0 * sigma))
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _convolve_axis(a: FloatArray, k: FloatArray, axis: int) -> FloatArray:
    """Symmetric 1-D convolution along ``axis`` with reflected borders."""
    r = len(k) // 2
    n = a.shape[axis]
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r, r)
    p = np.pad(a, pad, mode="reflect" if n > 1 else "edge")

    def sl(start: int) -> np.ndarray:
        idx: list[slice] = [slice(None)] * a.ndim
        idx[axis] = slice(start, start + n)
        return p[tuple(idx)]

    out = k[r] * sl(r)
    for i in range(1, r + 1):
        out += k[r + i] * (sl(r - i) + sl(r + i))
    return out.astype(np.float32, copy=False)


def gaussian_blur(img: npt.ArrayLike, sigma: float) -> FloatArray:
    """Separable Gaussian blur of an image (H×W, H×W×C) with reflected borders; ``sigma`` in pixels."""
    a = to_float(img)
    if sigma < 0.15:
        return a.copy()
    k = _gauss_kernel(sigma)
    return _convolve_axis(_convolve_axis(a, k, 0), k, 1)


def _smooth_noise_1d(n: int, rng: np.random.Generator, corr: float) -> FloatArray:
    """Stationary smooth noise of length ``n`` with unit std; correlation length ``corr`` samples."""
    if corr < 0.15:
        return rng.standard_normal(n).astype(np.float32)
    k = _gauss_kernel(corr)
    z = rng.standard_normal(n + len(k) - 1).astype(np.float32)
    return (np.convolve(z, k, mode="valid") / np.sqrt(np.sum(k.astype(np.float64) ** 2))).astype(np.float32)


def _smooth_field(h: int, w: int, rng: np.random.Generator, cell: float) -> FloatArray:
    """Smooth random field (bicubic upsampling of a coarse grid), normalised to zero mean and unit std."""
    cell = max(float(cell), 1.0)
    gh, gw = math.ceil(h / cell) + 3, math.ceil(w / cell) + 3
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    up = Image.fromarray(grid).resize((round(gw * cell), round(gh * cell)), Image.Resampling.BICUBIC)
    off = round(cell)
    f = np.asarray(up, dtype=np.float32)[off : off + h, off : off + w]
    return (f - f.mean()) / max(float(f.std()), 1e-6)


def _ss_factor(h: int, w: int) -> int:
    """Supersampling factor for anti-aliased mask drawing."""
    return 4 if h * w <= 1_100_000 else 2


class _Canvas:
    """A supersampled greyscale canvas; ``result()`` returns the box-downsampled coverage in [0, 1]."""

    def __init__(self, h: int, w: int, ss: int | None = None) -> None:
        self.h, self.w = h, w
        self.ss = _ss_factor(h, w) if ss is None else ss
        self.im = Image.new("L", (w * self.ss, h * self.ss), 0)
        self.draw = ImageDraw.Draw(self.im)

    def polygon(self, pts: np.ndarray) -> None:
        if len(pts) >= 3:
            self.draw.polygon((np.asarray(pts, dtype=np.float64) * self.ss).ravel().tolist(), fill=255)

    def stroke(self, pts: np.ndarray, half_width: np.ndarray) -> None:
        """Draw a centreline with per-point half-widths; zero-width stretches become gaps."""
        on = half_width > 1e-3
        if not on.any():
            return
        edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
        for s, e in zip(edges[::2], edges[1::2], strict=True):
            if e - s >= 2:
                self.polygon(_stroke_polygon(pts[s:e], half_width[s:e]))

    def result(self) -> FloatArray:
        im = self.im.reduce(self.ss) if self.ss > 1 else self.im
        return np.asarray(im, dtype=np.float32) / np.float32(255)


def _stroke_polygon(pts: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    d = np.gradient(pts, axis=0)
    d /= np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)[:, None]
    nrm = np.stack([-d[:, 1], d[:, 0]], axis=1) * half_width[:, None]
    return np.concatenate([pts + nrm, (pts - nrm)[::-1]])


def _curve(
    rng: np.random.Generator,
    start: tuple[float, float],
    heading: float,
    length: float,
    step: float,
    curvature: float,
    corr: float,
) -> np.ndarray:
    """Smooth random curve (n×2, x/y): heading integrates a smooth random curvature (rad/px)."""
    n = max(3, int(length / step) + 1)
    k = curvature * _smooth_noise_1d(n, rng, corr)
    theta = heading + np.cumsum(k) * step
    d = step * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    return np.asarray(start, dtype=np.float64) + np.concatenate([[[0.0, 0.0]], np.cumsum(d[:-1], axis=0)])


def _taper(n: int, ends: float) -> np.ndarray:
    """Width profile 0→1→0 with tapered ends (``ends`` = share of the length used by each taper)."""
    t = np.linspace(0.0, 1.0, n)
    return np.sqrt(np.clip(np.minimum(t, 1.0 - t) / max(ends, 1e-3), 0.0, 1.0))


def _edge_point(side: int, pos: float, h: int, w: int, out: float = 2.0) -> tuple[float, float]:
    """A point just outside an image side (0 top, 1 right, 2 bottom, 3 left); ``pos`` in [0, 1] along it."""
    if side == 0:
        return pos * w, -out
    if side == 1:
        return w + out, pos * h
    if side == 2:
        return pos * w, h + out
    return -out, pos * h


def _ragged_path(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, levels: int, rough: float) -> np.ndarray:
    """Jagged path from ``a`` to ``b`` by midpoint displacement (offsets ∝ segment length)."""
    pts = np.array([a, b], dtype=np.float64)
    for _ in range(levels):
        seg = pts[1:] - pts[:-1]
        ln = np.maximum(np.hypot(seg[:, 0], seg[:, 1]), 1e-9)
        nrm = np.stack([-seg[:, 1], seg[:, 0]], axis=1) / ln[:, None]
        mid = (pts[1:] + pts[:-1]) / 2 + nrm * (rng.standard_normal(len(seg)) * rough * ln)[:, None]
        new = np.empty((2 * len(pts) - 1, 2))
        new[0::2], new[1::2] = pts, mid
        pts = new
    return pts


# ---------------------------------------------------------------------------------------------------------
# noise, grain, compression, blur, tone


def add_gaussian_noise(img: npt.ArrayLike, sigma: float, rng: np.random.Generator, clip: bool = False) -> FloatArray:
    """Add i.i.d. Gaussian noise with std ``sigma`` (0–1 scale, e.g. 25/255); unclipped unless ``clip``."""
    a, shape = _prep(img)
    out = a + np.float32(sigma) * rng.standard_normal(a.shape, dtype=np.float32)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return _done(out, shape)


def add_poisson_gaussian_noise(
    img: npt.ArrayLike, rng: np.random.Generator, peak: float, sigma: float, clip: bool = False
) -> FloatArray:
    """Shot noise (Poisson with ``peak`` photons at intensity 1) plus Gaussian read noise ``sigma``.

    The variance at intensity x is x / peak + sigma².
    """
    a, shape = _prep(img)
    lam = np.clip(a, 0.0, 1.0) * np.float32(peak)
    shot = rng.poisson(lam).astype(np.float32) / np.float32(peak)
    out = shot + np.float32(sigma) * rng.standard_normal(a.shape, dtype=np.float32)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return _done(out, shape)


def add_film_grain(
    img: npt.ArrayLike,
    rng: np.random.Generator,
    strength: float = 0.04,
    grain_size: float = 1.0,
    chroma: float = 0.15,
    clip: bool = False,
) -> FloatArray:
    """Spatially correlated, luminance-dependent film grain.

    ``strength`` is the std of the monochrome grain at mid-grey (0–1 scale); it falls to 40 % in deep
    shadows and highlights. ``grain_size`` is the Gaussian correlation length in pixels. Colour images get
    an extra, slightly coarser, per-channel grain of relative std ``chroma``.
    """
    a, shape = _prep(img)
    h, w, c = a.shape

    def grain(size: float, chans: int) -> FloatArray:
        g = rng.standard_normal((h, w, chans), dtype=np.float32)
        if size < 0.15:
            return g
        k = _gauss_kernel(size)
        return gaussian_blur(g, size) / np.float32(np.sum(k.astype(np.float64) ** 2))

    lum = np.clip(_luma(a), 0.0, 1.0)
    amp = (np.float32(strength) * (0.4 + 2.4 * lum * (1.0 - lum)))[:, :, None]
    noise = grain(grain_size, 1)
    if c == 3 and chroma > 0:
        noise = noise + np.float32(chroma) * grain(grain_size * 1.5, 3)
    out = a + amp * noise
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
    return _done(out, shape)


def jpeg_compress(
    img: npt.ArrayLike,
    rng: np.random.Generator | None = None,
    quality_range: tuple[int, int] = (30, 95),
    *,
    quality: int | None = None,
) -> FloatArray:
    """Round-trip through an in-memory JPEG (Pillow). The image is clipped and quantised to 8 bits.

    With ``quality`` given it is used as is (``rng`` may be None). Otherwise the quality is drawn
    uniformly from ``quality_range`` (inclusive) and chroma subsampling from {4:2:0 (70 %), 4:4:4}.
    """
    a, shape = _prep(img)
    subsampling = -1
    if quality is None:
        if rng is None:
            raise ValueError("jpeg_compress needs rng or quality")
        quality = int(rng.integers(quality_range[0], quality_range[1] + 1))
        subsampling = 2 if rng.random() < 0.7 else 0
    u8 = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    pil = Image.fromarray(u8[:, :, 0] if a.shape[2] == 1 else u8)
    buf = io.BytesIO()
    kwargs = {"subsampling": subsampling} if subsampling >= 0 and a.shape[2] == 3 else {}
    pil.save(buf, format="JPEG", quality=int(quality), **kwargs)
    buf.seek(0)
    with Image.open(buf) as dec:
        out = np.asarray(dec.convert(pil.mode), dtype=np.float32) / np.float32(255)
    return _done(out, shape)


def mild_blur(
    img: npt.ArrayLike, rng: np.random.Generator, max_sigma: float = 1.0, min_sigma: float = 0.3
) -> FloatArray:
    """Gaussian blur with sigma drawn uniformly from [min_sigma, max_sigma] pixels."""
    a, shape = _prep(img)
    sigma = float(rng.uniform(min(min_sigma, max_sigma), max_sigma))
    return _done(gaussian_blur(a, sigma), shape)


def fade(img: npt.ArrayLike, rng: np.random.Generator, amount: float = 0.5) -> FloatArray:
    """Fade like an old print: lifted (slightly uneven) blacks, dimmer whites, lower contrast and saturation.

    ``amount`` in [0, 1]; 0 returns the (clipped) input.
    """
    a, shape = _prep(img)
    h, w, c = a.shape
    amount = float(np.clip(amount, 0.0, 1.0))
    desat = amount * rng.uniform(0.2, 0.7)
    gamma = 1.0 - amount * rng.uniform(0.0, 0.3)
    black = amount * rng.uniform(0.06, 0.2)
    white = 1.0 - amount * rng.uniform(0.0, 0.1)
    uneven = amount * rng.uniform(0.0, 0.06)
    field = _smooth_field(h, w, rng, max(h, w) / 3.0)
    x = np.clip(a, 0.0, 1.0)
    if c == 3:
        lum = _luma(x)[:, :, None]
        x = x + np.float32(desat) * (lum - x)
    x = x ** np.float32(gamma)
    lift = np.clip(black + uneven * field, 0.0, 0.5)[:, :, None].astype(np.float32)
    return _done(lift + (np.float32(white) - lift) * x, shape)


#: colour casts: per-channel gains and lifts at full strength (sepia is a tone mapping, see ``color_cast``).
COLOR_CASTS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "yellow": ((1.0, 0.96, 0.78), (0.04, 0.03, 0.0)),
    "magenta": ((1.04, 0.84, 0.98), (0.05, 0.0, 0.04)),
    "red": ((1.06, 0.87, 0.80), (0.05, 0.01, 0.0)),
    "cyan": ((0.86, 0.99, 1.02), (0.0, 0.03, 0.04)),
    "sepia": ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)),
}
_CAST_P = {"sepia": 0.3, "yellow": 0.3, "magenta": 0.2, "red": 0.12, "cyan": 0.08}


def color_cast(
    img: npt.ArrayLike, rng: np.random.Generator, strength: float = 0.5, kind: str | None = None
) -> FloatArray:
    """Colour cast of an aged print; ``kind`` in COLOR_CASTS (random if None), ``strength`` in [0, 1].

    "sepia" tones the luminance brown (dark brown shadows, cream highlights); the others apply
    per-channel gains and lifts (yellowed paper, magenta/red from faded cyan dye, rare cyan).
    Mono images get the channel-mean gain. The result is clipped to [0, 1].
    """
    a, shape = _prep(img)
    if kind is None:
        names = list(_CAST_P)
        kind = names[int(rng.choice(len(names), p=list(_CAST_P.values())))]
    if kind not in COLOR_CASTS:
        raise ValueError(f"unknown colour cast {kind!r}")
    s = np.float32(np.clip(strength, 0.0, 1.0))
    jitter = rng.uniform(0.75, 1.25, 3)
    if kind == "sepia":
        lum = np.clip(_luma(a), 0.0, 1.0)[:, :, None]
        expo = np.array([0.85, 1.0, 1.3]) * np.array([1.0, 1.0, jitter[2]])
        cream = np.array([1.0, 0.96, 0.86])
        toned = (_fit_channels(cream, 3) * lum ** expo.astype(np.float32)).astype(np.float32)
        toned = toned if a.shape[2] == 3 else toned.mean(axis=2, keepdims=True)
        return _done(np.clip(a + s * (toned - a), 0.0, 1.0), shape)
    gains, lifts = (np.asarray(v, dtype=np.float64) for v in COLOR_CASTS[kind])
    g = _fit_channels(1.0 + s * (gains - 1.0) * jitter, a.shape[2])
    b = _fit_channels(s * lifts * jitter, a.shape[2])
    return _done(np.clip(a * g + b, 0.0, 1.0), shape)


def quantize_8bit(img: npt.ArrayLike) -> FloatArray:
    """Clip to [0, 1] and round to 1/255 steps, as an 8-bit file would."""
    a, shape = _prep(img)
    return _done(np.round(np.clip(a, 0.0, 1.0) * 255.0) / np.float32(255), shape)


# ---------------------------------------------------------------------------------------------------------
# damage masks (soft, anti-aliased)


def scratch_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    count: int,
    width_range: tuple[float, float] = (1.0, 6.0),
    vertical_fraction: float = 0.7,
) -> FloatArray:
    """``count`` thin smooth curves: long, nearly vertical film scratches and some arbitrary ones.

    Each scratch's nominal width is drawn log-uniformly from ``width_range`` (pixels, favouring thin ones);
    its width varies along the curve (never above nominal) and tapers at the ends; a quarter of them are intermittent.
    """
    cv = _Canvas(h, w)
    diag = math.hypot(h, w)
    for _ in range(int(count)):
        lo, hi = width_range
        width = lo * (hi / lo) ** rng.random() if lo > 0 else rng.uniform(lo, hi)
        if rng.random() < vertical_fraction:
            length = rng.uniform(0.3, 1.2) * h
            start = (rng.uniform(0, w), rng.uniform(-0.15 * h, max(h - 0.5 * length, 0.0)))
            heading = math.pi / 2 + rng.normal(0.0, 0.03)
            curv, corr = rng.uniform(2e-5, 2e-4), 60.0
        else:
            length = rng.uniform(0.1, 0.6) * diag
            start = (rng.uniform(0, w), rng.uniform(0, h))
            heading = rng.uniform(0, 2 * math.pi)
            curv, corr = rng.uniform(3e-4, 4e-3), 25.0
        pts = _curve(rng, start, heading, length, 2.0, curv, corr)
        n = len(pts)
        hw = 0.5 * width * _taper(n, rng.uniform(0.03, 0.25))
        hw *= np.clip(0.8 + 0.2 * _smooth_noise_1d(n, rng, 15.0), 0.55, 1.0)
        if rng.random() < 0.25:
            hw *= _smooth_noise_1d(n, rng, 6.0) > rng.uniform(-1.0, 0.3)
        cv.stroke(pts, hw)
    return cv.result()


def dust_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    count: int,
    size_range: tuple[float, float] = (1.0, 5.0),
    hair_fraction: float = 0.15,
) -> FloatArray:
    """``count`` dust particles: irregular specks (diameter log-uniform in ``size_range``) and short hairs."""
    cv = _Canvas(h, w)
    lo, hi = size_range
    for _ in range(int(count)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if rng.random() < hair_fraction:
            length = rng.uniform(4.0, 12.0) * hi
            pts = _curve(rng, (cx, cy), rng.uniform(0, 2 * math.pi), length, 0.75, rng.uniform(0.05, 0.2), 4.0)
            cv.stroke(pts, 0.5 * rng.uniform(0.6, 1.3) * max(lo, 0.7) * _taper(len(pts), 0.2))
        else:
            d = lo * (hi / lo) ** rng.random()
            k = int(rng.integers(6, 11))
            ang = np.sort(rng.uniform(0, 2 * math.pi, k))
            rad = 0.5 * d * np.clip(1.0 + 0.3 * rng.standard_normal(k), 0.4, 1.6)
            cv.polygon(np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1))
    return cv.result()


def crease_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    count: int = 1,
    width_range: tuple[float, float] = (1.5, 5.0),
    branches: bool = True,
) -> FloatArray:
    """``count`` folds/cracks: long jagged lines from one image side to another with varying width,
    plus short hair-line cracks branching off."""
    cv = _Canvas(h, w)
    for _ in range(int(count)):
        side_a = int(rng.integers(4))
        side_b = (side_a + int(rng.choice([1, 2, 3], p=[0.25, 0.5, 0.25]))) % 4
        a = np.array(_edge_point(side_a, rng.uniform(0.05, 0.95), h, w))
        b = np.array(_edge_point(side_b, rng.uniform(0.05, 0.95), h, w))
        length = float(np.hypot(*(b - a)))
        n = max(8, int(length / 1.5))
        t = np.linspace(0.0, 1.0, n)[:, None]
        direction = (b - a) / max(length, 1e-9)
        nrm = np.array([-direction[1], direction[0]])
        bend = _smooth_noise_1d(n, rng, n / 6.0) * length * rng.uniform(0.003, 0.012)
        jag = _smooth_noise_1d(n, rng, 1.0) * rng.uniform(0.3, 1.0)
        pts = a + t * (b - a) + nrm * (bend + jag)[:, None]
        width = rng.uniform(*width_range)
        hw = 0.5 * width * np.clip(0.6 + 0.35 * _smooth_noise_1d(n, rng, 8.0), 0.15, 1.0)
        cv.stroke(pts, hw)
        if not branches:
            continue
        base_heading = math.atan2(direction[1], direction[0])
        for _ in range(int(rng.poisson(length / 80.0))):
            i = int(rng.integers(n))
            heading = base_heading + rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.3) + rng.choice([0.0, math.pi])
            br = _curve(rng, tuple(pts[i]), heading, rng.uniform(4.0, 12.0) * width, 1.0, 0.06, 2.0)
            cv.stroke(br, 0.5 * width * rng.uniform(0.3, 0.6) * (1.0 - np.linspace(0.0, 1.0, len(br))) + 0.05)
    return cv.result()


def tear_mask(h: int, w: int, rng: np.random.Generator, count: int = 1, max_depth: float = 0.2) -> FloatArray:
    """``count`` ragged torn-off regions: a missing corner (60 %) or a notch torn out of a side.

    ``max_depth`` is the largest extent into the image as a fraction of the image size.
    """
    cv = _Canvas(h, w)
    for _ in range(int(count)):
        if rng.random() < 0.6:
            dx, dy = rng.uniform(0.04, max_depth) * w, rng.uniform(0.04, max_depth) * h
            path = _ragged_path(rng, np.array([dx, -1.0]), np.array([-1.0, dy]), 7, 0.18)
            local = np.concatenate([[[-3.0, -3.0]], path])
            flip_x, flip_y = rng.random() < 0.5, rng.random() < 0.5
            x = w - local[:, 0] if flip_x else local[:, 0]
            y = h - local[:, 1] if flip_y else local[:, 1]
            cv.polygon(np.stack([x, y], axis=1))
        else:
            side = int(rng.integers(4))
            along, across = (w, h) if side in (0, 2) else (h, w)
            span = rng.uniform(0.08, 0.3) * along
            s0 = rng.uniform(0.0, along - span)
            depth = rng.uniform(0.03, max_depth) * across
            apex = np.array([s0 + rng.uniform(0.3, 0.7) * span, depth])
            p1 = _ragged_path(rng, np.array([s0, -1.0]), apex, 6, 0.2)
            p2 = _ragged_path(rng, apex, np.array([s0 + span, -1.0]), 6, 0.2)
            local = np.concatenate([p1, p2[1:], [[s0 + span, -3.0], [s0, -3.0]]])
            u, v = local[:, 0], local[:, 1]
            xy = {0: (u, v), 2: (u, h - v), 3: (v, u), 1: (w - v, u)}[side]
            cv.polygon(np.stack(xy, axis=1))
    return cv.result()


def stain_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    count: int = 1,
    size_range: tuple[float, float] = (0.05, 0.25),
) -> FloatArray:
    """Soft, irregular stains as an opacity map in [0, 1] (water/foxing marks: mottled body, darker rim).

    ``size_range`` is the stain radius as a fraction of min(h, w).
    """
    out = np.zeros((h, w), dtype=np.float32)
    for _ in range(int(count)):
        r0 = rng.uniform(*size_range) * min(h, w)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        harm = np.arange(1, 7)
        amps = rng.standard_normal(6) * 0.12 / harm
        phases = rng.uniform(0, 2 * math.pi, 6)
        body, rim, opacity = rng.uniform(0.15, 0.6), rng.uniform(0.3, 1.0), rng.uniform(0.3, 0.9)
        rim_w, soft = rng.uniform(0.02, 0.08), rng.uniform(0.05, 0.3)
        reach = r0 * (1.0 + np.abs(amps).sum() + 0.3)
        x0, x1 = max(int(cx - reach), 0), min(int(cx + reach) + 1, w)
        y0, y1 = max(int(cy - reach), 0), min(int(cy + reach) + 1, h)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = xx - np.float32(cx), yy - np.float32(cy)
        theta = np.arctan2(dy, dx)
        wobble = np.sum(amps[:, None, None] * np.cos(harm[:, None, None] * theta + phases[:, None, None]), 0)
        radius = r0 * np.maximum(1.0 + wobble, 0.3)
        field = _smooth_field(y1 - y0, x1 - x0, rng, max(r0 / 6.0, 2.0))
        rn = np.hypot(dx, dy) / radius.astype(np.float32) + np.float32(0.04) * field
        inside = np.clip((1.0 - rn) / soft, 0.0, 1.0)
        op = body * inside * np.clip(0.75 + 0.25 * field, 0.3, 1.0) + rim * np.exp(-(((rn - 1.0) / rim_w) ** 2))
        out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], np.clip(opacity * op, 0.0, 1.0))
    return out


# ---------------------------------------------------------------------------------------------------------
# applying damage

DAMAGE_MODES = ("light", "dark", "stain", "tear")


def apply_damage(img: npt.ArrayLike, mask: npt.ArrayLike, rng: np.random.Generator, mode: str = "light") -> FloatArray:
    """Paint damage through ``mask`` (H×W in [0, 1]); pixels where mask == 0 are returned bit-identical.

    Modes: "light" (near-white scratches/dust with slight variation), "dark" (near-black), "stain"
    (multiplicative brownish tint, ``mask`` is the opacity), "tear" (missing paper: cream paper or a dark
    scanner backing).
    """
    a, shape = _prep(img)
    h, w, c = a.shape
    m = to_float(mask)
    if m.shape != (h, w):
        raise ValueError(f"mask shape {m.shape} does not match image {(h, w)}")
    if mode not in DAMAGE_MODES:
        raise ValueError(f"unknown damage mode {mode!r}")
    ys, xs = np.nonzero(m > 0)
    out = a.copy()
    if len(ys) == 0:
        return _done(out, shape)
    y0, x0 = int(ys.min()), int(xs.min())
    bh, bw = int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1
    sub, mv = a[ys, xs], m[ys, xs][:, None]
    if mode == "stain":
        tint = np.array([rng.uniform(0.75, 0.92), rng.uniform(0.55, 0.72), rng.uniform(0.3, 0.5)])
        out[ys, xs] = sub * (1.0 - mv * (1.0 - _fit_channels(tint, c)))
        return _done(out, shape)
    fine = _smooth_field(bh, bw, rng, 3.0)[ys - y0, xs - x0][:, None]
    coarse = _smooth_field(bh, bw, rng, max(h, w) / 12.0)[ys - y0, xs - x0][:, None]
    if mode == "light":
        level = rng.uniform(0.85, 0.97)
        colour = level * np.array([1.0, 1.0 - rng.uniform(0, 0.03), 1.0 - rng.uniform(0, 0.07)])
        spread, opacity = 0.035, rng.uniform(0.75, 1.0)
    elif mode == "dark":
        level = rng.uniform(0.03, 0.18)
        colour = level * np.array([1.0, 0.95, 0.88])
        spread, opacity = 0.03, rng.uniform(0.7, 1.0)
    else:
        paper = rng.random() < 0.7
        level = rng.uniform(0.85, 0.95) if paper else rng.uniform(0.02, 0.1)
        colour = level * (np.array([1.0, 0.96, 0.86]) if paper else np.ones(3))
        spread, opacity = 0.02, 1.0
    target = _fit_channels(colour, c) + np.float32(spread) * fine
    var = 1.0 if mode == "tear" else np.clip(1.0 - 0.25 * np.abs(coarse), 0.4, 1.0)
    out[ys, xs] = sub + (mv * np.float32(opacity) * var) * (target - sub)
    return _done(out, shape)


# ---------------------------------------------------------------------------------------------------------
# inpainting training masks (binary, hole fraction guaranteed within the documented range)


def _fill_to_fraction(
    h: int,
    w: int,
    rng: np.random.Generator,
    hole_range: tuple[float, float],
    draw_one: Callable[[ImageDraw.ImageDraw, float], None],
    max_tries: int = 400,
) -> FloatArray:
    """Add shapes until a target fraction drawn from ``hole_range`` is reached; shapes that would exceed
    the upper bound are undone and retried smaller (``draw_one`` gets a shrinking scale factor)."""
    lo, hi = hole_range
    target = rng.uniform(lo, hi)
    total = h * w
    im = Image.new("L", (w, h), 0)
    holes, scale = 0, 1.0
    for _ in range(max_tries):
        if holes >= target * total:
            break
        before = im.copy()
        draw_one(ImageDraw.Draw(im), scale)
        new = total - im.histogram()[0]
        if new > hi * total:
            im, scale = before, max(scale * 0.75, 0.05)
        else:
            holes = new
    return (np.asarray(im) > 0).astype(np.float32)


def thin_mask(
    h: int, w: int, rng: np.random.Generator, hole_range: tuple[float, float] = THIN_HOLE_RANGE
) -> FloatArray:
    """Scratch-like strokes 1–6 px wide (smooth curves, mostly long and vertical); see THIN_HOLE_RANGE."""
    diag = math.hypot(h, w)

    def draw(d: ImageDraw.ImageDraw, scale: float) -> None:
        width = int(rng.integers(1, 7))
        if rng.random() < 0.5:
            pts = _curve(
                rng,
                (rng.uniform(0, w), rng.uniform(-0.1 * h, 0.8 * h)),
                math.pi / 2 + rng.normal(0, 0.05),
                rng.uniform(0.2, 1.0) * h * scale,
                2.0,
                rng.uniform(2e-5, 3e-4),
                40.0,
            )
        else:
            pts = _curve(
                rng,
                (rng.uniform(0, w), rng.uniform(0, h)),
                rng.uniform(0, 2 * math.pi),
                rng.uniform(0.1, 0.6) * diag * scale,
                2.0,
                rng.uniform(1e-4, 4e-3),
                20.0,
            )
        d.line(pts.ravel().tolist(), fill=255, width=width, joint="curve")

    return _fill_to_fraction(h, w, rng, hole_range, draw)


def _brush(
    d: ImageDraw.ImageDraw, rng: np.random.Generator, h: int, w: int, width: float, seg_len: float, vertices: int
) -> None:
    """Free-form brush stroke (DeepFill/LaMa style): a polyline with random turns and round joints/caps."""
    x, y = rng.uniform(0, w), rng.uniform(0, h)
    angle = rng.uniform(0, 2 * math.pi)
    pts = [(x, y)]
    for _ in range(vertices):
        angle += rng.uniform(-1.2, 1.2) + (math.pi if rng.random() < 0.15 else 0.0)
        ln = rng.uniform(0.3, 1.0) * seg_len
        x = float(np.clip(x + ln * math.cos(angle), 0, w - 1))
        y = float(np.clip(y + ln * math.sin(angle), 0, h - 1))
        pts.append((x, y))
    wi = max(round(width), 1)
    d.line(pts, fill=255, width=wi, joint="curve")
    r = wi / 2.0
    for px, py in (pts[0], pts[-1]):
        d.ellipse((px - r, py - r, px + r, py + r), fill=255)


def medium_mask(
    h: int, w: int, rng: np.random.Generator, hole_range: tuple[float, float] = MEDIUM_HOLE_RANGE
) -> FloatArray:
    """Free-form brush strokes 8–20 px wide; see MEDIUM_HOLE_RANGE."""
    side = min(h, w)

    def draw(d: ImageDraw.ImageDraw, scale: float) -> None:
        width = rng.uniform(8, 20) * min(1.0, scale * 2)
        _brush(d, rng, h, w, width, rng.uniform(0.08, 0.3) * side * scale + 4, int(rng.integers(2, 9)))

    return _fill_to_fraction(h, w, rng, hole_range, draw)


def wide_mask(
    h: int, w: int, rng: np.random.Generator, hole_range: tuple[float, float] = WIDE_HOLE_RANGE
) -> FloatArray:
    """Large brush strokes 25–60 px wide plus rectangles; see WIDE_HOLE_RANGE. On small images the
    widths shrink when a stroke would overshoot the range."""
    side = min(h, w)

    def draw(d: ImageDraw.ImageDraw, scale: float) -> None:
        if rng.random() < 0.3:
            bw, bh = rng.uniform(0.1, 0.45) * w * scale + 2, rng.uniform(0.1, 0.45) * h * scale + 2
            x0, y0 = rng.uniform(-0.1 * bw, w - 0.9 * bw), rng.uniform(-0.1 * bh, h - 0.9 * bh)
            d.rectangle((x0, y0, x0 + bw, y0 + bh), fill=255)
        else:
            width = rng.uniform(25, 60) * min(1.0, scale * 1.5)
            _brush(d, rng, h, w, width, rng.uniform(0.1, 0.35) * side * scale + 4, int(rng.integers(1, 6)))

    return _fill_to_fraction(h, w, rng, hole_range, draw)


# ---------------------------------------------------------------------------------------------------------
# recipes


def age_photo(img: npt.ArrayLike, rng: np.random.Generator, strength: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """Make a clean photo look like an old damaged print.

    Fading, colour cast, slight blur, film grain, sometimes a stain, light and dark scratches, light and
    dark dust, sometimes a crease or (rarely) a torn corner, then faint scan noise; clipped to [0, 1].
    Returns (aged image, damage mask H×W in [0, 1] of the scratches, dust, creases and tears; stains,
    grain and tone changes are not in the mask). Damage counts and widths scale with the image size
    (reference 512 px); ``strength`` (0–2) scales everything.
    """
    a, shape = _prep(img)
    h, w, _ = a.shape
    s = float(np.clip(strength, 0.0, 2.0))
    lin = max(h, w) / 512.0
    area = h * w / 512.0**2
    out = fade(a, rng, min(1.0, s * rng.uniform(0.3, 0.8)))
    out = color_cast(out, rng, min(1.0, s * rng.uniform(0.3, 0.9)))
    if rng.random() < 0.8:
        out = mild_blur(out, rng, max_sigma=0.4 + 0.5 * s * max(lin, 0.5), min_sigma=0.2)
    out = add_film_grain(out, rng, s * rng.uniform(0.012, 0.04), rng.uniform(0.6, 1.4) * max(lin, 0.5) ** 0.5)
    if rng.random() < 0.25 * s:
        out = apply_damage(out, stain_mask(h, w, rng, int(rng.integers(1, 3))), rng, "stain")
    wide = (1.0, float(np.clip(3.5 * lin, 1.5, 8.0)))
    masks = []
    for mode, n in (("light", rng.poisson(3.0 * s * lin)), ("dark", rng.poisson(1.5 * s * lin))):
        m = scratch_mask(h, w, rng, int(n), wide)
        out = apply_damage(out, m, rng, mode)
        masks.append(m)
    dust_size = (1.0, float(np.clip(4.0 * lin, 2.0, 10.0)))
    for mode, n in (("light", rng.poisson(25.0 * s * area)), ("dark", rng.poisson(15.0 * s * area))):
        m = dust_mask(h, w, rng, int(n), dust_size)
        out = apply_damage(out, m, rng, mode)
        masks.append(m)
    if rng.random() < 0.3 * s:
        m = crease_mask(h, w, rng, 1, (1.0, float(np.clip(3.5 * lin, 1.5, 8.0))))
        out = apply_damage(out, m, rng, "light")
        masks.append(m)
    if rng.random() < 0.05 * s:
        m = tear_mask(h, w, rng, 1, 0.12)
        out = apply_damage(out, m, rng, "tear")
        masks.append(m)
    out = add_gaussian_noise(out, rng.uniform(0.002, 0.01), rng, clip=True)
    mask = np.maximum.reduce(masks) if masks else np.zeros((h, w), np.float32)
    return _done(out, shape), mask.astype(np.float32)


_NOISE_KINDS = ("gaussian", "poisson_gaussian", "grain")


def degrade_for_denoising(
    img: npt.ArrayLike, rng: np.random.Generator, sigma_range: tuple[float, float] = (0.0, 50.0)
) -> tuple[FloatArray, float]:
    """Noisy version of a clean image for denoiser training; returns (noisy, nominal sigma on 0–255 scale).

    σ is drawn uniformly from ``sigma_range`` (0–255 scale). Noise: Gaussian (50 %), Poisson–Gaussian with
    std σ at mid-grey (30 %), or film grain of std σ at mid-grey (20 %). Then 20 %: JPEG q60–95,
    30 %: 8-bit quantisation, else 50/50 clipped or unclipped.
    """
    a, shape = _prep(img)
    sigma255 = float(rng.uniform(*sigma_range))
    s = sigma255 / 255.0
    kind = _NOISE_KINDS[int(rng.choice(3, p=[0.5, 0.3, 0.2]))]
    if kind == "gaussian" or s == 0.0:
        out = add_gaussian_noise(a, s, rng)
    elif kind == "poisson_gaussian":
        rho = rng.uniform(0.3, 1.0)
        peak = 0.5 / (rho * s * s)
        out = add_poisson_gaussian_noise(a, rng, peak, math.sqrt(1.0 - rho) * s)
    else:
        out = add_film_grain(a, rng, s, rng.uniform(0.5, 1.5), chroma=rng.uniform(0.0, 0.2))
    post = rng.random()
    if post < 0.2:
        out = jpeg_compress(out, rng, (60, 95))
    elif post < 0.5:
        out = quantize_8bit(out)
    elif post < 0.75:
        out = np.clip(out, 0.0, 1.0)
    return _done(out, shape), sigma255
