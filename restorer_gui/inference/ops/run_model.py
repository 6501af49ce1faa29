"""Run model: any model the loader recognises, applied by the operation that serves its task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from restorer_gui.core.errors import RestorerError
from restorer_gui.inference.engine import EngineError
from restorer_gui.inference.jobs import CancelToken, ProgressFn
from restorer_gui.inference.ops import denoise, detect, face, inpaint, upscale
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

if TYPE_CHECKING:
    from restorer_gui.inference.loader import LoadedModel


@dataclass(frozen=True)
class RunModelParams:
    model: str = ""  # id or path (required)
    strength: float | None = None  # noise level, for denoisers that take one

    def __post_init__(self) -> None:
        if not self.model:
            raise RestorerError("run-model needs a model (id or file)")
        if self.strength is not None and not 0 <= self.strength <= 255:
            raise RestorerError("the strength must be between 0 and 255")


def run_model(
    image: np.ndarray,
    model: LoadedModel,
    *,
    mask: np.ndarray | None = None,
    sigma: float | None = None,
    tile: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Apply any loaded model according to its task (upscalers return a larger image,
    scratch detectors a H×W mask; inpainters need *mask*)."""
    if model.task in denoise.TASKS:
        return denoise.denoise(image, model, sigma=sigma, mask=mask, tile=tile, progress=progress, cancel=cancel)
    if model.task in upscale.TASKS:
        return upscale.upscale(image, model, tile=tile, progress=progress, cancel=cancel)
    if model.task in face.TASKS:
        return face.restore_face(image, model, progress=progress, cancel=cancel)
    if model.task in inpaint.TASKS:
        if mask is None:
            raise EngineError(f"model {model.id!r} is an inpainting model: it needs a mask")
        return inpaint.inpaint(image, mask, model, progress=progress, cancel=cancel)
    if model.task in detect.TASKS:
        return detect.detect_scratches(image, model, tile=tile, progress=progress, cancel=cancel)
    raise EngineError(f"model {model.id!r} has an unknown task {model.task!r}")


def served_by(models, ref: str):
    """(model info, the operation that runs it) for any model file or id; a file whose task the card
    does not say is loaded (once, kept in ``models``) to find out."""
    from restorer_gui.inference import ops, registry
    from restorer_gui.inference.registry import TASKS

    info = registry.find_model(ref)
    task = info.task or models.get(TASKS, ref).task
    op = ops.for_model_task(task)
    if task == "noise-estimate":
        raise RestorerError(f"{info.label} is a noise estimator: it makes no picture; Denoise's Auto uses it")
    if op is None:
        raise RestorerError(f"model {info.id!r} has an unknown task {task!r}")
    return info, op


def run(ctx: OpContext, p: RunModelParams) -> OpResult:
    from restorer_gui.inference import ops

    info, op = served_by(ctx.models, p.model)
    if op.mask == "required" and (ctx.mask is None or not ctx.mask.any()):
        raise RestorerError(f"{info.label} is an inpainting model: paint over the damage first (or pass --mask)")
    values = {"model": p.model}
    if op.name == "denoise":
        values.update(strength=p.strength, inside_mask=ctx.mask is not None and bool(ctx.mask.any()))
    result = op.run(ctx, op.parse(values))
    result.label = info.label
    result.info["operation"] = op.name
    return result


OPERATION = Operation(name="run-model", title="Run Model", help="apply any model the loader recognises (upscalers enlarge)",
                      params=RunModelParams, run=run, models={}, returns="image+mask", mask="optional")
