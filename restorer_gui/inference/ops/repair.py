"""Repair damage: find cracks, creases, tears, dust and spots, then fill them so they vanish.

Two stages, which the GUI runs apart so the user can review the mask in between (`detect_damage`, then
`fill_damage`); the command line and batch run both (`run`). The fill is the inpainter's structure with
the neighbourhood's grain laid in (core.grain), and the mask is grown by the detector's calibrated
margin first, so the break's rim does not survive as a ghost line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restorer_gui.core import mask_ops
from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference.ops import detect, inpaint
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

DEFAULT_GROW = 1  # px, when the detector's card gives no calibrated margin


@dataclass(frozen=True)
class RepairParams:
    threshold: float | None = None  # detector's probability cut (lower = more sensitive); None: the card's
    grow: int | None = None  # px the mask grows before filling; None: the detector card's "grow"
    grain: bool = True
    use_mask: bool = False  # also fill what is already painted in the mask
    detector: str | None = None
    inpainter: str | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0 <= self.threshold <= 1:
            raise RecipeError("the threshold must be between 0 and 1")
        if self.grow is not None and not 0 <= self.grow <= 32:
            raise RecipeError("grow must be between 0 and 32 pixels")


def card_grow(card: dict | None) -> int:
    value = card.get("grow") if isinstance(card, dict) else None
    return int(value) if isinstance(value, int) and 0 <= value <= 32 else DEFAULT_GROW


def detect_damage(ctx: OpContext, p: RepairParams) -> OpResult:
    """Stage 1: the damage mask (already grown by the margin) and the probability map behind it."""
    found = detect.run(ctx, detect.DetectParams(threshold=p.threshold, model=p.detector))
    model = ctx.models.get(detect.TASKS, p.detector)
    grow = p.grow if p.grow is not None else card_grow(model.info.card)
    mask = mask_ops.grow(found.mask, grow) if grow and found.mask.any() else found.mask
    if p.use_mask and ctx.mask is not None:
        mask = np.maximum(mask, ctx.mask)
    text, info = detect.describe(mask)
    return OpResult(mask=mask, label="Detect damage", info={**found.info, **info, "summary": text, "grow": grow},
                    extras=found.extras)


def fill_damage(ctx: OpContext, p: RepairParams) -> OpResult:
    """Stage 2: fill ``ctx.mask`` (the reviewed damage mask)."""
    if ctx.mask is None or not ctx.mask.any():
        return OpResult(image=ctx.image.copy(), label="Repair damage", info={"spots": 0, "summary": "No damage found."})
    model = ctx.models.get(inpaint.TASKS, p.inpainter, ctx.progress)
    out = inpaint.fill(ctx.image, ctx.mask, model, grain=p.grain, progress=ctx.progress, cancel=ctx.cancel)
    return OpResult(image=out, label="Repair damage", info={"model": model.id})


def run(ctx: OpContext, p: RepairParams) -> OpResult:
    found = detect_damage(OpContext(ctx.image, ctx.models, ctx.mask, ctx.tile, ctx.progress.sub(0, 0.3), ctx.cancel), p)
    filled = fill_damage(OpContext(ctx.image, ctx.models, found.mask, ctx.tile, ctx.progress.sub(0.3, 1.0), ctx.cancel), p)
    return OpResult(image=filled.image, mask=found.mask, label="Repair damage", info=found.info, extras=found.extras)


OPERATION = Operation(
    name="repair", title="Repair Damage", help="detect and fill real damage (cracks, creases, tears, dust)",
    params=RepairParams, run=run, models={"detector": detect.TASKS, "inpainter": inpaint.TASKS},
    returns="image+mask", mask="optional",
)
