"""Detect damage: the detector's probability map, cut at a threshold, becomes the damage mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

TASKS = ("detect-scratches",)


@dataclass(frozen=True)
class DetectParams:
    threshold: float | None = None  # probability cut 0–1; None: the model card's
    model: str | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise RecipeError("the threshold must be between 0 and 1")


def describe(mask: np.ndarray) -> tuple[str, dict]:
    """"Marked 163 spots, 1.2 % of the photo" and the same as numbers."""
    from restorer_gui.inference.pipelines import _components

    marked = mask > 0
    share = float(marked.mean()) * 100 if marked.size else 0.0
    spots = len(_components(marked)) if marked.any() else 0
    if not spots:
        return "No damage found.", {"spots": 0, "percent": 0.0}
    text = f"Marked {spots} {'area' if spots == 1 else 'areas'}, {share:.1f} % of the photo."
    return text, {"spots": spots, "percent": round(share, 2)}


def run(ctx: OpContext, p: DetectParams) -> OpResult:
    from restorer_gui.inference import pipelines

    model = ctx.models.get(TASKS, p.model, ctx.progress)
    threshold = p.threshold if p.threshold is not None else pipelines.card_threshold(model.info.card)
    prob = pipelines.detect_probability(ctx.image, model, tile=ctx.tile, progress=ctx.progress, cancel=ctx.cancel)
    mask = pipelines.threshold_probability(prob, threshold)
    text, info = describe(mask)
    ctx.progress(1.0, "done")
    return OpResult(mask=mask, label="Detect damage", info={**info, "summary": text, "threshold": threshold,
                                                            "model": model.id}, extras={"probability": prob})


OPERATION = Operation(
    name="detect-scratches", title="Detect Scratches", help="write a mask of scratches and dust (white = damage)",
    params=DetectParams, run=run, models={"model": TASKS}, returns="mask", mask="none",
)
