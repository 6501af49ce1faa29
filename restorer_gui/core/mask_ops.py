"""Damage-mask editing on uint8 arrays (255 = damage), numpy and Pillow only.

Rectangles are (x0, y0, x1, y1) with exclusive ends, in image pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

Rect = tuple[int, int, int, int]
Point = tuple[float, float]


def clip_rect(rect: Rect, width: int, height: int) -> Rect | None:
    x0, y0, x1, y1 = rect
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None


def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def mask_bbox(mask: np.ndarray) -> Rect | None:
    """Bounding box of the non-zero pixels, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def diff_bbox(a: np.ndarray, b: np.ndarray) -> Rect | None:
    """Bounding box of the pixels where two same-sized masks differ."""
    return mask_bbox(a != b)


def stamp_segment(
    mask: np.ndarray, p0: Point, p1: Point, radius: float, hardness: float = 1.0, erase: bool = False
) -> Rect | None:
    """Paint (or erase) a round brush dragged from p0 to p1; returns the changed area.

    Coverage falls from 1 inside `hardness * radius` to 0 at `radius`; the mask keeps the
    strongest coverage seen (no build-up within a stroke), so repainting is idempotent.
    """
    h, w = mask.shape
    radius = max(float(radius), 0.5)
    pad = int(np.ceil(radius)) + 1
    rect = clip_rect(
        (
            int(np.floor(min(p0[0], p1[0]))) - pad,
            int(np.floor(min(p0[1], p1[1]))) - pad,
            int(np.ceil(max(p0[0], p1[0]))) + pad + 1,
            int(np.ceil(max(p0[1], p1[1]))) + pad + 1,
        ),
        w,
        h,
    )
    if rect is None:
        return None
    x0, y0, x1, y1 = rect
    cover = _segment_coverage(rect, p0, p1, radius, hardness)
    patch = mask[y0:y1, x0:x1]
    if erase:
        np.minimum(patch, 255 - cover, out=patch)
    else:
        np.maximum(patch, cover, out=patch)
    return rect


def _segment_coverage(rect: Rect, p0: Point, p1: Point, radius: float, hardness: float) -> np.ndarray:
    """uint8 coverage of a capsule around segment p0-p1, sampled at pixel centres."""
    x0, y0, x1, y1 = rect
    xs = np.arange(x0, x1, dtype=np.float32) + 0.5
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5
    ax, ay = float(p0[0]), float(p0[1])
    dx, dy = float(p1[0]) - ax, float(p1[1]) - ay
    length2 = dx * dx + dy * dy
    if length2 > 1e-12:
        t = ((xs - ax) * dx + (ys - ay) * dy) / length2
        np.clip(t, 0.0, 1.0, out=t)
        px = xs - (ax + t * dx)
        py = ys - (ay + t * dy)
    else:
        px = np.broadcast_to(xs - ax, (y1 - y0, x1 - x0))
        py = ys - ay
    dist = np.sqrt(px * px + py * py)
    hardness = float(np.clip(hardness, 0.0, 1.0))
    inner = radius * hardness
    if radius - inner < 0.75:  # hard brush: one pixel of antialiasing at the rim
        cover = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    else:
        cover = np.clip((radius - dist) / (radius - inner), 0.0, 1.0)
    return np.rint(cover * 255.0).astype(np.uint8)


def fill_rect(mask: np.ndarray, rect: Rect, value: int = 255) -> Rect | None:
    r = clip_rect(rect, mask.shape[1], mask.shape[0])
    if r is not None:
        mask[r[1] : r[3], r[0] : r[2]] = value
    return r


def fill_polygon(mask: np.ndarray, points: Sequence[Point], value: int = 255) -> Rect | None:
    """Fill a closed polygon (lasso); rasterised on its bounding box only."""
    if len(points) < 3:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    r = clip_rect(
        (int(np.floor(min(xs))), int(np.floor(min(ys))), int(np.ceil(max(xs))) + 1, int(np.ceil(max(ys))) + 1),
        mask.shape[1],
        mask.shape[0],
    )
    if r is None:
        return None
    x0, y0, x1, y1 = r
    shape = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(shape).polygon([(x - x0, y - y0) for x, y in points], fill=255, outline=255)
    inside = np.asarray(shape) > 0
    mask[y0:y1, x0:x1][inside] = value
    return r


def invert(mask: np.ndarray) -> np.ndarray:
    return 255 - mask


def _dilate_once(binary: np.ndarray, square: bool) -> np.ndarray:
    """One step of binary dilation with a 3×3 square or a plus-shaped element."""
    out = binary.copy()
    out[1:] |= binary[:-1]
    out[:-1] |= binary[1:]
    if square:
        horiz = out.copy()
        out[:, 1:] |= horiz[:, :-1]
        out[:, :-1] |= horiz[:, 1:]
    else:
        out[:, 1:] |= binary[:, :-1]
        out[:, :-1] |= binary[:, 1:]
    return out


def grow(mask: np.ndarray, pixels: int, threshold: int = 128) -> np.ndarray:
    """Grow the mask by `pixels` using an octagonal element (a close, fast stand-in for a disk).

    The result is binary (0/255). Only the mask's bounding box plus the margin is processed.
    """
    binary = mask >= threshold
    if pixels <= 0:
        return np.where(binary, 255, 0).astype(np.uint8)
    out = np.zeros_like(mask)
    box = mask_bbox(binary)
    if box is None:
        return out
    h, w = mask.shape
    x0, y0 = max(0, box[0] - pixels), max(0, box[1] - pixels)
    x1, y1 = min(w, box[2] + pixels), min(h, box[3] + pixels)
    region = binary[y0:y1, x0:x1]
    for step in range(pixels):
        region = _dilate_once(region, square=step % 2 == 1)
    out[y0:y1, x0:x1][region] = 255
    return out


def shrink(mask: np.ndarray, pixels: int, threshold: int = 128) -> np.ndarray:
    """Shrink the mask by `pixels` (erosion = dilation of the complement); result is binary."""
    if pixels <= 0:
        return grow(mask, 0, threshold)
    binary = mask >= threshold
    box = mask_bbox(binary)
    out = np.zeros_like(mask)
    if box is None:
        return out
    h, w = mask.shape
    x0, y0 = max(0, box[0] - 1), max(0, box[1] - 1)
    x1, y1 = min(w, box[2] + 1), min(h, box[3] + 1)
    # Edge padding: the image border itself does not erode the mask.
    region = binary[y0:y1, x0:x1]
    padded = np.pad(region, pixels, mode="edge")
    background = ~padded
    for step in range(pixels):
        background = _dilate_once(background, square=step % 2 == 1)
    kept = ~background[pixels:-pixels, pixels:-pixels]
    out[y0:y1, x0:x1][kept & region] = 255
    return out


def mask_from_image(pixels: np.ndarray, width: int | None = None, height: int | None = None) -> np.ndarray:
    """A picture read as a damage mask (255 = damage): the one rule of the GUI, the command line and batch.

    A picture with transparency and a flat colour is read by its alpha; otherwise the brightest colour
    channel decides (white, and any bright paint such as a pure red stroke, is damage; black is not);
    16-bit is reduced to 8. With ``width`` and ``height`` it is resized (nearest neighbour) to that size.
    """
    arr = pixels
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] in (2, 4) and arr[..., -1].min() < 255 and np.ptp(arr[..., :-1]) == 0:
        gray = arr[..., -1]
    elif arr.ndim == 3:
        gray = arr[..., : 3 if arr.shape[2] >= 3 else 1].max(axis=2)
    else:
        gray = arr.reshape(arr.shape[0], arr.shape[1])
    if width is not None and height is not None and gray.shape != (height, width):
        gray = np.asarray(Image.fromarray(np.ascontiguousarray(gray)).resize((width, height), Image.Resampling.NEAREST))
    return np.ascontiguousarray(gray, dtype=np.uint8)


def threshold_probability(prob: np.ndarray, threshold: float) -> np.ndarray:
    """A mask (255 = damage) where a probability map (uint8, 0–255) reaches *threshold* (0–1)."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("the threshold must be between 0 and 1")
    cut = max(int(round(threshold * 255)), 1)
    return np.where(prob >= cut, np.uint8(255), np.uint8(0))
