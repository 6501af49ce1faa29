"""Result layers and how they combine with the original (numpy only)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from restorer_gui.core.recipe import Recipe, Step

_ids = itertools.count(1)


@dataclass(eq=False)
class Layer:
    """A full-size image over the original: a model result or an imported picture. ``operation`` and
    ``params`` describe it for people (the noise level used, …); ``step`` is the recipe step that made it
    (None for imported pictures and layers from older projects)."""

    name: str
    pixels: np.ndarray
    operation: str = "import"
    params: dict[str, Any] = field(default_factory=dict)
    visible: bool = True
    opacity: float = 1.0
    uid: int = field(default_factory=lambda: next(_ids))
    step: Step | None = None

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)


def recipe_of(layers: list[Layer]) -> Recipe | None:
    """The recipe of the visible result: the steps of the shown layers that an operation made, bottom to
    top (hidden layers are not part of it); None when no shown layer came from an operation."""
    steps = [layer.step for layer in layers if layer.step is not None and layer.visible and layer.opacity > 0]
    return Recipe(tuple(steps)) if steps else None


def match_layout(pixels: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Convert `pixels` to the channel count and dtype of `like` (same width and height required)."""
    if pixels.shape[:2] != like.shape[:2]:
        raise ValueError(
            f"layer is {pixels.shape[1]}×{pixels.shape[0]} but the photo is {like.shape[1]}×{like.shape[0]}"
        )
    out = _convert_depth(pixels, like.dtype)
    return _convert_channels(out, like.shape[2])


def _convert_depth(pixels: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if pixels.dtype == dtype:
        return pixels
    if pixels.dtype == np.uint8 and dtype == np.uint16:
        return pixels.astype(np.uint16) * 257
    if pixels.dtype == np.uint16 and dtype == np.uint8:
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    raise ValueError(f"unsupported layer dtype {pixels.dtype}")


def _convert_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    have = pixels.shape[2]
    if have == channels:
        return pixels
    opaque = np.iinfo(pixels.dtype).max
    if channels == 1:
        rgb = pixels[..., :3].astype(np.float32)
        gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32) if have >= 3 else rgb[..., 0]
        return np.rint(gray).astype(pixels.dtype)[..., None]
    rgb = np.repeat(pixels[..., :1], 3, axis=2) if have < 3 else pixels[..., :3]
    if channels == 3:
        return np.ascontiguousarray(rgb)
    alpha = pixels[..., 3:4] if have == 4 else np.full(pixels.shape[:2] + (1,), opaque, pixels.dtype)
    return np.concatenate([rgb, alpha], axis=2)


def composite(original: np.ndarray, layers: list[Layer], rows_per_chunk: int = 512) -> np.ndarray:
    """Blend visible layers (bottom to top) over the original at full bit depth.

    Works in horizontal strips so a 100-megapixel photo needs little extra memory.
    """
    visible = [layer for layer in layers if layer.visible and layer.opacity > 0]
    if not visible:
        return original.copy()
    top_opaque = max((i for i, layer in enumerate(visible) if layer.opacity >= 1.0), default=-1)
    if top_opaque == len(visible) - 1:
        return visible[-1].pixels.copy()
    base_pixels = visible[top_opaque].pixels if top_opaque >= 0 else original
    blended = visible[top_opaque + 1 :]
    out = np.empty_like(original)
    maxval = np.iinfo(original.dtype).max
    for y0 in range(0, original.shape[0], rows_per_chunk):
        y1 = min(y0 + rows_per_chunk, original.shape[0])
        acc = base_pixels[y0:y1].astype(np.float32)
        for layer in blended:
            a = float(layer.opacity)
            acc *= 1.0 - a
            acc += a * layer.pixels[y0:y1].astype(np.float32)
        np.clip(np.rint(acc), 0, maxval, out=acc)
        out[y0:y1] = acc.astype(original.dtype)
    return out
