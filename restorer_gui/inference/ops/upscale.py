"""Upscale: a super-resolution model makes a larger picture."""

from __future__ import annotations

from dataclasses import dataclass

from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

TASKS = ("upscale",)


@dataclass(frozen=True)
class UpscaleParams:
    model: str | None = None


def run(ctx: OpContext, p: UpscaleParams) -> OpResult:
    from restorer_gui.inference import pipelines

    model = ctx.models.get(TASKS, p.model, ctx.progress)
    out = pipelines.upscale(ctx.image, model, tile=ctx.tile, progress=ctx.progress, cancel=ctx.cancel)
    return OpResult(image=out, label=f"Upscale ×{model.scale}", info={"model": model.id, "scale": model.scale})


OPERATION = Operation(name="upscale", title="Upscale", help="enlarge with a super-resolution model",
                      params=UpscaleParams, run=run, models={"model": TASKS}, returns="image", mask="none")
