"""Detect damage: the detector's probability map, cut at a threshold, becomes the damage mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

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


def detect_probability(
    image: np.ndarray,
    model: LoadedModel,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """H×W uint8 map of the detector's damage probability (0–255), tile by tile."""
    engine.require_task(model, *TASKS)
    parts = engine.split_channels(image)
    h, w = parts.pixels.shape[:2]
    prob = np.empty((h, w, 1), np.uint8)
    engine.run_tiled(model, lambda t: model(t, cancel=cancel), parts.colour_view(parts.pixels), out=prob, tile=tile,
                     overlap=overlap, progress=Progress.wrap(progress).sub(0, 0.97), cancel=cancel)
    return prob[..., 0]


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
