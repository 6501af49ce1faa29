"""Seeded fading of old prints (numpy only): training pairs for the enhancement model.

An old print loses its dyes at different rates (cyan first, leaving red and magenta casts; sometimes another), its paper
yellows, its blacks lift and its whites dull, its colours wash out, and it fades unevenly (towards an
edge, in a vignette, along a gradient); light stains tint it. A black-and-white print goes warm (sepia,
or just yellowed paper) and flat. `fade_print` makes (faded, target) pairs: the target of a colour print
is the clean photo, the target of a B&W print its neutral gray (keeping a warm tone is the user's choice).

Reuses `core.degradations` for what it already has: the lifted-black/dulled-white `fade`, the sepia and
paper casts of `color_cast`, the smooth random fields, stains and scan noise. Conventions as there:
float32 H×W×3 in [0, 1], an explicit ``np.random.Generator``, deterministic for it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from restorer_gui.core import degradations as deg

FloatArray = npt.NDArray[np.float32]

__all__ = ["DYES", "dye_fade", "fade_print", "neutral_gray", "uneven_field", "veil", "yellow_paper"]

#: the colour of aged photographic paper at full yellowing (multiplies the print)
OLD_PAPER = (1.0, 0.93, 0.72)


def _rgb(img: npt.ArrayLike) -> FloatArray:
    a = deg.to_float(img)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise ValueError(f"expected an H×W or H×W×3 image, got shape {a.shape}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def neutral_gray(img: npt.ArrayLike) -> FloatArray:
    """The photo's luminance (Rec. 601 weights) in all three channels: a B&W print's target."""
    a = _rgb(img)
    lum = 0.299 * a[:, :, 0] + 0.587 * a[:, :, 1] + 0.114 * a[:, :, 2]
    return np.repeat(lum[:, :, None], 3, axis=2).astype(np.float32)


DYES = ("cyan", "magenta", "yellow")  # each absorbs one channel: red, green, blue


def dye_fade(img: npt.ArrayLike, rng: np.random.Generator, amount: float = 0.5, first: str | None = None) -> FloatArray:
    """Each dye loses density at its own rate; the dye that fades ``first`` loses most: cyan (absorbs red)
    usually, which turns shadows and mid-tones red/magenta; magenta (a green cast) or yellow (a blue one)
    sometimes (None: cyan 70 % of the time, else one of the others). A channel's transmittance T = 10^-D
    becomes T^(1-f) for a density loss f; ``amount`` in [0, 1] scales the losses (the first up to about 0.6)."""
    a = _rgb(img)
    s = float(np.clip(amount, 0.0, 1.0))
    if first is None:
        first = "cyan" if rng.random() < 0.7 else str(rng.choice(["magenta", "yellow"]))
    if first not in DYES:
        raise ValueError(f"unknown dye {first!r} (one of {', '.join(DYES)})")
    most = s * rng.uniform(0.25, 0.6)
    loss = {d: most * rng.uniform(0.0, 0.6) for d in DYES}
    loss[first] = most
    keep = np.array([1 - loss[d] for d in DYES], np.float32)
    return np.power(np.maximum(a, 1e-4), keep).astype(np.float32)


def yellow_paper(img: npt.ArrayLike, rng: np.random.Generator, amount: float = 0.5) -> FloatArray:
    """The paper (and its gelatin) yellows: the print is seen through a yellow-brown filter, strongest in the
    highlights where nothing else absorbs."""
    a = _rgb(img)
    s = float(np.clip(amount, 0.0, 1.0))
    tint = 1.0 + s * (np.asarray(OLD_PAPER) - 1.0) * rng.uniform(0.6, 1.2, 3)
    return np.clip(a * tint.astype(np.float32), 0.0, 1.0).astype(np.float32)


def uneven_field(h: int, w: int, rng: np.random.Generator) -> FloatArray:
    """Where a print faded more (H×W in [0, 1]): a mix of a linear gradient, a vignette (stronger corners),
    one stronger edge (the side that lay in the light) and smooth blotches."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = (yy + 0.5) / h, (xx + 0.5) / w
    theta = rng.uniform(0, 2 * math.pi)
    grad = (math.cos(theta) * (xx - 0.5) + math.sin(theta) * (yy - 0.5)) * math.sqrt(2) + 0.5
    vignette = np.clip(np.hypot(xx - 0.5, yy - 0.5) / math.sqrt(0.5), 0, 1) ** rng.uniform(1.5, 3.0)
    side = int(rng.integers(4))
    dist = (xx, 1 - xx, yy, 1 - yy)[side]
    edge = np.exp(-dist / rng.uniform(0.05, 0.25))
    blotch = 0.5 + 0.5 * np.tanh(deg._smooth_field(h, w, rng, max(h, w) / rng.uniform(1.5, 4.0)))
    weights = rng.dirichlet(np.ones(4)) * (rng.random(4) < 0.7)
    if not weights.any():
        weights[int(rng.integers(4))] = 1.0
    field = sum(float(wt) * f for wt, f in zip(weights, (grad, vignette, edge, blotch), strict=True))
    field = field - field.min()
    return (field / max(float(field.max()), 1e-6)).astype(np.float32)


def veil(img: npt.ArrayLike, field: npt.ArrayLike, amount: float,
         paper: npt.ArrayLike = (1.0, 1.0, 1.0)) -> FloatArray:
    """Fade towards the paper's colour where ``field`` (H×W in [0, 1]) is high:
    out = img + amount·field·(paper − img)."""
    a = _rgb(img)
    f = np.asarray(field, np.float32)[:, :, None] * np.float32(np.clip(amount, 0.0, 1.0))
    p = np.asarray(paper, np.float32).reshape(1, 1, 3)
    return (a + f * (p - a)).astype(np.float32)


def _saturate_loss(a: FloatArray, amount: float) -> FloatArray:
    lum = neutral_gray(a)
    return (a + np.float32(amount) * (lum - a)).astype(np.float32)


def fade_print(
    img: npt.ArrayLike, rng: np.random.Generator, strength: float = 1.0, bw: bool | None = None, p_bw: float = 0.3
) -> tuple[FloatArray, FloatArray]:
    """An old faded print of a clean photo; returns (faded, target), both float32 H×W×3.

    Colour prints: per-dye fading, saturation loss, lifted blacks / dulled whites (`degradations.fade`),
    yellowed paper, uneven fading towards the paper, sometimes a light stain, faint scan noise. B&W prints
    (``bw``; drawn with probability ``p_bw`` when None): the neutral gray goes sepia or yellows, then fades
    and lifts the same way; the target is the neutral gray. ``strength`` (0–1.5) scales everything; 0 gives
    the target back (plus nothing)."""
    clean = _rgb(img)
    h, w, _ = clean.shape
    s = float(np.clip(strength, 0.0, 1.5))
    if bw is None:
        bw = bool(rng.random() < p_bw)
    target = neutral_gray(clean) if bw else clean
    if s == 0.0:
        return target.copy(), target
    out = target
    if bw:
        if rng.random() < 0.6:
            out = deg.color_cast(out, rng, min(1.0, s * rng.uniform(0.4, 1.0)), "sepia")
        out = yellow_paper(out, rng, min(1.0, s * rng.uniform(0.1, 0.7)))
    else:
        out = dye_fade(out, rng, min(1.0, s * rng.uniform(0.2, 1.0)))
        out = _saturate_loss(out, min(0.9, s * rng.uniform(0.0, 0.6)))
        if rng.random() < 0.25:  # a magenta or red cast from the same dye loss, as the older recipe has it
            out = deg.color_cast(out, rng, min(1.0, s * rng.uniform(0.1, 0.5)), str(rng.choice(["magenta", "red"])))
        out = yellow_paper(out, rng, min(1.0, s * rng.uniform(0.0, 0.6)))
    out = deg.fade(out, rng, min(1.0, s * rng.uniform(0.2, 0.8)))
    if rng.random() < 0.75:
        paper = np.asarray(OLD_PAPER, np.float32) ** np.float32(rng.uniform(0.0, 1.0))
        out = veil(out, uneven_field(h, w, rng), min(1.0, s * rng.uniform(0.1, 0.55)), paper)
    if rng.random() < 0.25:
        stain = deg.stain_mask(h, w, rng, int(rng.integers(1, 3)), (0.1, 0.35)) * np.float32(rng.uniform(0.2, 0.5))
        out = deg.apply_damage(out, stain, rng, "stain")
    out = deg.add_gaussian_noise(out, float(rng.uniform(0.0, 0.012)), rng, clip=True)
    return deg.quantize_8bit(out), target
