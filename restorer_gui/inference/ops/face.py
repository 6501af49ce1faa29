"""Restore face: a face restorer on a face crop (the photo or the selection)."""

from __future__ import annotations

from dataclasses import dataclass

from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

TASKS = ("face",)


@dataclass(frozen=True)
class FaceParams:
    model: str | None = None


def run(ctx: OpContext, p: FaceParams) -> OpResult:
    from restorer_gui.inference import pipelines

    model = ctx.models.get(TASKS, p.model, ctx.progress)
    out = pipelines.restore_face(ctx.image, model, progress=ctx.progress, cancel=ctx.cancel)
    return OpResult(image=out, label="Restore face", info={"model": model.id})


OPERATION = Operation(name="face", title="Restore Face", help="restore a face crop with a face model",
                      params=FaceParams, run=run, models={"model": TASKS}, returns="image", mask="none")
