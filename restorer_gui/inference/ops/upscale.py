"""Upscale: a super-resolution model makes a larger picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from restorer_gui.inference import engine
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

if TYPE_CHECKING:
    from restorer_gui.inference.loader import LoadedModel

TASKS = ("upscale",)


@dataclass(frozen=True)
class UpscaleParams:
    model: str | None = None


def upscale(
    image: np.ndarray,
    model: LoadedModel,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Run a super-resolution model: the result is ``model.scale`` times larger; alpha is
    enlarged by pixel repetition."""
    engine.require_task(model, *TASKS)
    parts = engine.split_channels(image)
    s = model.scale
    h, w, c = parts.pixels.shape
    prog = Progress.wrap(progress)
    out = np.empty((h * s, w * s, c), dtype=image.dtype)
    engine.run_tiled(model, lambda t: model(t, cancel=cancel), parts.colour_view(parts.pixels), out=parts.colour_view(out),
                     tile=tile, overlap=overlap, progress=prog.sub(0, 0.97), cancel=cancel)
    if c > parts.colour:
        for r in range(0, h, engine.ROW_CHUNK):
            alpha = parts.pixels[r : r + engine.ROW_CHUNK, :, parts.colour :]
            out[r * s : (r + alpha.shape[0]) * s, :, parts.colour :] = alpha.repeat(s, axis=0).repeat(s, axis=1)
    prog(1.0, "done")
    return parts.restore_shape(out)


def run(ctx: OpContext, p: UpscaleParams) -> OpResult:
    model = ctx.models.get(TASKS, p.model, ctx.progress)
    out = upscale(ctx.image, model, tile=ctx.tile, progress=ctx.progress, cancel=ctx.cancel)
    return OpResult(image=out, label=f"Upscale ×{model.scale}", info={"model": model.id, "scale": model.scale})


OPERATION = Operation(name="upscale", title="Upscale", help="enlarge with a super-resolution model",
                      params=UpscaleParams, run=run, models={"model": TASKS}, returns="image", mask="none")
