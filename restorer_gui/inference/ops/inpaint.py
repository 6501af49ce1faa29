"""Inpaint: fill the masked damage from its surroundings, then give the fill the local grain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restorer_gui.core.errors import RestorerError
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

TASKS = ("inpaint",)


@dataclass(frozen=True)
class InpaintParams:
    model: str | None = None
    grain: bool = False  # lay the neighbourhood's grain into the fill (see core.grain)


def fill(image: np.ndarray, mask: np.ndarray, model, *, grain: bool, progress, cancel) -> np.ndarray:
    """The network's fill of ``mask`` (uint8, 255 = damage), with the local grain laid in when asked."""
    from restorer_gui.core.grain import transfer_grain
    from restorer_gui.inference import pipelines

    out = pipelines.inpaint(image, mask, model, progress=progress.sub(0, 0.9 if grain else 1.0), cancel=cancel)
    if grain:
        progress(0.92, "matching the grain")
        colour = out if out.ndim == 2 else out[..., : min(3, out.shape[2])]
        src = image if image.ndim == 2 else image[..., : colour.shape[2]]
        grained = transfer_grain(np.ascontiguousarray(colour), np.ascontiguousarray(src), np.asarray(mask))
        if out.ndim == 2:
            out = grained
        else:
            out = out.copy()
            out[..., : colour.shape[2]] = grained
    progress(1.0, "done")
    return out


def run(ctx: OpContext, p: InpaintParams) -> OpResult:
    if ctx.mask is None or not ctx.mask.any():
        raise RestorerError("nothing to inpaint: paint over the damage first (the mask is empty)")
    model = ctx.models.get(TASKS, p.model, ctx.progress)
    out = fill(ctx.image, ctx.mask, model, grain=p.grain, progress=ctx.progress, cancel=ctx.cancel)
    return OpResult(image=out, label="Inpaint", info={"model": model.id})


OPERATION = Operation(
    name="inpaint", title="Inpaint", help="fill masked damage (mask: white = damage)", params=InpaintParams,
    run=run, models={"model": TASKS}, returns="image", mask="required",
)
