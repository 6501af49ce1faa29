"""Denoise ▸ Auto's noise level from a learned noise estimator (a `noise-estimate` model).

The estimator predicts a smooth map of the noise's std (`archs.noise_estimator`). Auto needs one number,
the strength the denoiser is run at: the denoiser was trained with the std at mid-grey as its level, and
film grain is strongest in the mid-tones, so Auto takes a high quantile of the map (the level where the
photo's grain is strongest) times a scale, both from the estimator's card (``"auto": {"quantile": q,
"scale": s}``, calibrated by ``restorer eval noise-estimate --calibrate`` so that Auto lands on the best
fixed strength of a sweep). Like the Laplacian estimator it reads up to 16 blocks of 256 px spread over
the photo, so Auto costs the same on any photo size. No Qt here; torch loads when a model runs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from restorer_gui.inference import engine
from restorer_gui.inference.jobs import CancelToken, ProgressFn

if TYPE_CHECKING:
    from restorer_gui.inference.loader import LoadedModel
    from restorer_gui.inference.ops.base import ModelSet

__all__ = ["TASK", "auto_settings", "block_origins", "find_estimator", "learned_sigma", "noise_map"]

TASK = "noise-estimate"
DEFAULT_QUANTILE = 0.9
DEFAULT_SCALE = 1.0
BLOCK = 256
MARGIN = 8  # px of each block's map left out: the network sees padding there


def auto_settings(card: Any) -> tuple[float, float]:
    """(quantile, scale) from a card's ``auto`` entry; missing or hostile values fall back to the defaults."""
    auto = card.get("auto") if isinstance(card, dict) else None
    auto = auto if isinstance(auto, dict) else {}

    def number(key: str, default: float, lo: float, hi: float) -> float:
        value = auto.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return default
        return float(value) if lo <= value <= hi else default

    return number("quantile", DEFAULT_QUANTILE, 0.0, 1.0), number("scale", DEFAULT_SCALE, 0.05, 20.0)


def find_estimator(models: ModelSet) -> LoadedModel | None:
    """The installed noise estimator (trained ones only; loaded once in ``models``), or None."""
    from restorer_gui.inference import registry

    info = registry.default_model(TASK)
    if info is None or info.untrained:
        return None
    return models.get((TASK,), info.id)


def block_origins(h: int, w: int, size: int = BLOCK, per_side: int = 4) -> list[tuple[int, int]]:
    """Top-left corners of up to per_side² blocks of ``size`` px spread evenly over an h×w photo."""
    size = min(size, h, w)
    ny = min(per_side, max(1, h // size))
    nx = min(per_side, max(1, w // size))
    return [(int(y), int(x)) for y in np.linspace(0, h - size, ny).astype(int)
            for x in np.linspace(0, w - size, nx).astype(int)]


def _tensor(pixels: np.ndarray, colour: int) -> Any:
    import torch

    top = float(np.iinfo(pixels.dtype).max)
    t = torch.from_numpy(np.ascontiguousarray(pixels[..., :colour], dtype=np.float32) / np.float32(top))
    return t.permute(0, 3, 1, 2) if t.ndim == 4 else t.permute(2, 0, 1)[None]


def learned_sigma(image: np.ndarray, estimator: LoadedModel, *, cancel: CancelToken | None = None) -> float:
    """Auto's strength (σ, 0–255 scale) for ``image`` (uint8/uint16 H×W×C or H×W) from the estimator's map
    over up to 16 blocks of the photo: the card's quantile of the map, times the card's scale."""
    values = block_levels(image, estimator, cancel=cancel)
    if values.size == 0:
        return 0.0
    quantile, scale = auto_settings(estimator.info.card)
    return float(np.quantile(values, quantile)) * scale


def block_levels(image: np.ndarray, estimator: LoadedModel, *, cancel: CancelToken | None = None) -> np.ndarray:
    """The estimator's map (σ on the 0–255 scale) inside up to 16 blocks of the photo, flattened
    (each block's outer ``MARGIN`` px left out when the block is large enough)."""
    import torch

    engine.require_task(estimator, TASK)
    parts = engine.split_channels(image)
    pixels = parts.pixels
    h, w = pixels.shape[:2]
    size = min(BLOCK, h, w)
    origins = block_origins(h, w)
    batch = np.stack([pixels[y : y + size, x : x + size] for y, x in origins])
    levels = []
    for i in range(0, len(batch), 4):  # four blocks a pass: ~0.25 MP
        m = estimator(_tensor(batch[i : i + 4], parts.colour), cancel=cancel)
        levels.append(m[:, 0].to("cpu", torch.float32).numpy())
    maps = np.concatenate(levels) * 255.0
    cut = MARGIN if size > 4 * MARGIN else 0
    return maps[:, cut : size - cut, cut : size - cut].reshape(-1)


def noise_map(
    image: np.ndarray,
    estimator: LoadedModel,
    *,
    tile: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """The estimator's map over the whole photo: H×W float32, the noise's std on the 0–255 scale
    (in overlapping tiles, like every network; for looking at it and for measuring)."""
    engine.require_task(estimator, TASK)
    parts = engine.split_channels(image)
    src = parts.colour_view(parts.pixels)
    out = np.empty((*src.shape[:2], 1), np.float32)
    engine.run_tiled(estimator, lambda t: estimator(t, cancel=cancel), src, out=out, tile=tile, progress=progress,
                     cancel=cancel)
    return out[..., 0] * np.float32(255.0)
