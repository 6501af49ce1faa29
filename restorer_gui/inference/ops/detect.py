"""Detect damage: the detector's probability map, cut at a threshold, becomes the damage mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from restorer_gui.core import mask_ops
from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference import engine
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation
from restorer_gui.inference.regions import components

if TYPE_CHECKING:
    from restorer_gui.inference.loader import LoadedModel

TASKS = ("detect-scratches",)


@dataclass(frozen=True)
class DetectParams:
    threshold: float | None = None  # probability cut 0–1; None: the model card's
    model: str | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise RecipeError("the threshold must be between 0 and 1")


def card_threshold(card: dict | None, default: float = 0.5) -> float:
    """The probability cut a detector's card recommends (chosen on held-out training images), else
    *default*; a card value outside 0–1 is ignored."""
    value = card.get("threshold") if isinstance(card, dict) else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if 0.0 <= value <= 1.0 else default


def card_scales(card: dict | None) -> tuple[float, ...]:
    """The scales the detector runs at (its card's ``scales``, each in (0, 1]; 1.0 = the photo as it is),
    default (1.0,). Real damage spans sizes a single receptive field cannot: a crack web or a flaked
    area several times the network's view is found on a downscaled copy, a dust speck only at full size.
    See `detect_probability` for how the maps are combined."""
    raw = card.get("scales") if isinstance(card, dict) else None
    if not isinstance(raw, list | tuple):
        return (1.0,)
    scales = []
    for v in raw:
        if isinstance(v, int | float) and not isinstance(v, bool) and 0.05 <= float(v) <= 1.0:
            scales.append(float(v))
    return tuple(dict.fromkeys(scales)) or (1.0,)


MIN_SCALED_SIDE = 48  # px: a scale that would leave less than this is skipped


def _resize(arr: np.ndarray, width: int, height: int, resample: Image.Resampling) -> np.ndarray:
    """H×W×C uint8/uint16 *arr* resized channel by channel, same dtype."""
    planes = []
    for c in range(arr.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(arr[..., c]).astype(np.float32), mode="F")
        planes.append(np.asarray(plane.resize((width, height), resample)))
    top = np.iinfo(arr.dtype).max
    return np.clip(np.rint(np.stack(planes, -1)), 0, top).astype(arr.dtype)


def detect_probability(
    image: np.ndarray,
    model: LoadedModel,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    scales: tuple[float, ...] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """H×W uint8 map of the detector's damage probability (0–255), tile by tile, over *scales* (default:
    the model card's, see `card_scales`): the full-size map, or where higher the mean of the downscaled
    ones brought back to full size. Full size speaks for thin damage (dust, hairlines), which a
    downscaled copy blurs away; the coarse scales together speak for crack webs and flaked areas wider
    than the network's view, and need to agree, since each alone also marks smooth skin or sky."""
    engine.require_task(model, *TASKS)
    parts = engine.split_channels(image)
    colour = parts.colour_view(parts.pixels)
    h, w = colour.shape[:2]
    if scales is None:
        scales = card_scales(model.info.card)
    runs = [(s, round(w * s), round(h * s)) for s in scales if s == 1.0 or min(h, w) * s >= MIN_SCALED_SIDE]
    runs = runs or [(1.0, w, h)]
    costs = np.array([sw * sh for _, sw, sh in runs], np.float64)
    edges = np.concatenate([[0.0], np.cumsum(costs) / costs.sum() * 0.97])
    prog = Progress.wrap(progress)
    full: np.ndarray | None = None
    coarse = np.zeros((h, w), np.float32)
    for i, (s, sw, sh) in enumerate(runs):
        src = colour if s == 1.0 else _resize(colour, sw, sh, Image.Resampling.LANCZOS)
        prob = np.empty((sh, sw, 1), np.uint8)
        engine.run_tiled(model, lambda t: model(t, cancel=cancel), src, out=prob, tile=tile, overlap=overlap,
                         progress=prog.sub(edges[i], edges[i + 1]), cancel=cancel)
        if s == 1.0:
            full = prob[..., 0]
        else:
            coarse += _resize(prob, w, h, Image.Resampling.BILINEAR)[..., 0]
    n_coarse = len(runs) - (full is not None)
    if not n_coarse:
        return full
    coarse = np.clip(np.rint(coarse / n_coarse), 0, 255).astype(np.uint8)
    return coarse if full is None else np.maximum(full, coarse)


def threshold_probability(prob: np.ndarray, threshold: float) -> np.ndarray:
    """255 where a probability map (uint8, 0–255) reaches *threshold* (0–1), else 0."""
    if not 0.0 <= threshold <= 1.0:
        raise engine.EngineError("the threshold must be between 0 and 1")
    return mask_ops.threshold_probability(prob, threshold)


def detect_scratches(
    image: np.ndarray,
    model: LoadedModel,
    *,
    threshold: float | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """H×W uint8 mask, 255 where the model's scratch probability is at least *threshold*
    (default: the threshold in the model's card, else 0.5)."""
    engine.require_task(model, *TASKS)
    if threshold is None:
        threshold = card_threshold(model.info.card)
    if not 0.0 <= threshold <= 1.0:
        raise engine.EngineError("the threshold must be between 0 and 1")
    prog = Progress.wrap(progress)
    prob = detect_probability(image, model, tile=tile, overlap=overlap, progress=prog, cancel=cancel)
    mask = threshold_probability(prob, threshold)
    prog(1.0, "done")
    return mask


def describe(mask: np.ndarray) -> tuple[str, dict]:
    """"Marked 163 spots, 1.2 % of the photo" and the same as numbers."""
    marked = mask > 0
    share = float(marked.mean()) * 100 if marked.size else 0.0
    spots = len(components(marked)) if marked.any() else 0
    if not spots:
        return "No damage found.", {"spots": 0, "percent": 0.0}
    text = f"Marked {spots} {'area' if spots == 1 else 'areas'}, {share:.1f} % of the photo."
    return text, {"spots": spots, "percent": round(share, 2)}


def run(ctx: OpContext, p: DetectParams) -> OpResult:
    model = ctx.models.get(TASKS, p.model, ctx.progress)
    threshold = p.threshold if p.threshold is not None else card_threshold(model.info.card)
    prob = detect_probability(ctx.image, model, tile=ctx.tile, progress=ctx.progress, cancel=ctx.cancel)
    mask = threshold_probability(prob, threshold)
    text, info = describe(mask)
    ctx.progress(1.0, "done")
    return OpResult(mask=mask, label="Detect damage", info={**info, "summary": text, "threshold": threshold,
                                                            "model": model.id}, extras={"probability": prob})


OPERATION = Operation(
    name="detect-scratches", title="Detect Scratches", help="write a mask of scratches and dust (white = damage)",
    params=DetectParams, run=run, models={"model": TASKS}, returns="mask", mask="none",
)
