"""Restore face: a face restorer on a face crop (the photo or the selection)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from restorer_gui.inference import engine
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn, check_cancel
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

if TYPE_CHECKING:
    from restorer_gui.inference.loader import LoadedModel

TASKS = ("face",)


@dataclass(frozen=True)
class FaceParams:
    model: str | None = None


def restore_face(
    image: np.ndarray,
    model: LoadedModel,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Run a face restorer on a face crop: padded to a square, resized to the model's
    working size (512 px), restored, and resized back to the crop."""
    import torch
    import torch.nn.functional as F

    from restorer_gui.inference.loader import FACE_SIZE

    engine.require_task(model, *TASKS)
    parts = engine.split_channels(image)
    prog = Progress.wrap(progress)
    check_cancel(cancel)
    colour = parts.colour_view(parts.pixels)
    h, w = colour.shape[:2]
    side = max(h, w)
    top = float(np.iinfo(image.dtype).max)
    x = torch.from_numpy(colour.astype(np.float32) / top).permute(2, 0, 1)[None]
    x = F.pad(x, (0, side - w, 0, side - h), mode="replicate")
    work = max(FACE_SIZE, model.min_size)
    x = F.interpolate(x, size=(work, work), mode="bicubic", antialias=True, align_corners=False).clamp_(0, 1)
    prog(0.1, "restoring the face")
    y = model(x, cancel=cancel, progress=lambda f, _m: prog(0.1 + 0.8 * f, "restoring the face")).cpu()
    check_cancel(cancel)
    y = F.interpolate(
        y, size=(side * model.scale, side * model.scale), mode="bicubic", antialias=True, align_corners=False
    )
    y = y[..., : h * model.scale, : w * model.scale].clamp_(0, 1)[0].permute(1, 2, 0).numpy()
    out = np.empty((h * model.scale, w * model.scale, parts.pixels.shape[2]), image.dtype)
    out[..., : parts.colour] = np.rint(y * top).astype(image.dtype)
    if parts.pixels.shape[2] > parts.colour:
        s = model.scale
        out[..., parts.colour :] = parts.pixels[..., parts.colour :].repeat(s, axis=0).repeat(s, axis=1)
    prog(1.0, "done")
    return parts.restore_shape(out)


def run(ctx: OpContext, p: FaceParams) -> OpResult:
    model = ctx.models.get(TASKS, p.model, ctx.progress)
    out = restore_face(ctx.image, model, progress=ctx.progress, cancel=ctx.cancel)
    return OpResult(image=out, label="Restore face", info={"model": model.id})


OPERATION = Operation(name="face", title="Restore Face", help="restore a face crop with a face model",
                      params=FaceParams, run=run, models={"model": TASKS}, returns="image", mask="none")
