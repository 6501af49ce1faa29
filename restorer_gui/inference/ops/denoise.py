"""Denoise: remove noise and grain, on the whole photo or inside the mask. The noise-level policy lives here.

Auto reads the noise level with the installed noise estimator (`inference.noise_level`, a learned model that
sees correlated, signal-dependent film grain) and falls back to the Laplacian estimator below when none is
installed. "Keep grain" lays a share of what the denoiser removed back (retouchers leave a little grain so a
scan still looks like a photograph): 0 % is the denoiser's result, 100 % the photo as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from restorer_gui.core.mask_ops import mask_bbox
from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference import engine
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation
from restorer_gui.inference.regions import grow_box

if TYPE_CHECKING:
    from restorer_gui.inference.loader import LoadedModel
    from restorer_gui.inference.ops.base import ModelSet

TASKS = ("denoise", "restore")


@dataclass(frozen=True)
class DenoiseParams:
    strength: float | None = None  # σ on the 0–255 scale; None with auto False: the model's blind mode
    auto: bool = False  # estimate σ from the photo
    inside_mask: bool = False  # only where the mask is painted, blended by its value
    model: str | None = None  # id or path; None: the chosen or default denoiser
    keep_grain: float = 0.0  # % of the removed grain laid back: 0 the denoised photo, 100 the photo as it was

    def __post_init__(self) -> None:
        if self.strength is not None and not 0 <= self.strength <= 255:
            raise RecipeError("denoise: the strength must be between 0 and 255")
        if not 0 <= self.keep_grain <= 100:
            raise RecipeError("denoise: keep grain must be between 0 and 100 (%)")


def noise_level(image, model, params: DenoiseParams, models: ModelSet | None = None) -> tuple[float | None, bool]:
    """(σ to use, whether it was estimated): the one noise-level policy of every front end. Auto estimates;
    a strength is used as given; neither leaves blind models blind and estimates for those that need σ.
    With ``models``, the estimate comes from the installed noise estimator when there is one."""
    if params.auto or (params.strength is None and model.needs_sigma):
        return auto_sigma(image, models)[0], True
    return params.strength, False


def auto_sigma(image: np.ndarray, models: ModelSet | None = None,
               cancel: CancelToken | None = None) -> tuple[float, str]:
    """(Auto's σ on the 0–255 scale, what estimated it: the noise estimator's id or "laplacian")."""
    from restorer_gui.inference import noise_level as learned

    estimator = learned.find_estimator(models) if models is not None else None
    if estimator is None:
        return estimate_noise_sigma(image), "laplacian"
    return learned.learned_sigma(image, estimator, cancel=cancel), estimator.id


def keep_grain(original: np.ndarray, denoised: np.ndarray, percent: float) -> np.ndarray:
    """``denoised`` with ``percent`` % of what the denoiser removed laid back (the same dtype and shape):
    0 returns ``denoised``, 100 ``original``, pixel for pixel."""
    if original.shape != denoised.shape or original.dtype != denoised.dtype:
        raise ValueError("keep grain needs the photo and its denoised version at the same size and type")
    k = float(percent) / 100.0
    if k <= 0.0:
        return denoised
    if k >= 1.0:
        return original.copy()
    top = float(np.iinfo(original.dtype).max)
    out = np.empty_like(denoised)
    for r in range(0, out.shape[0], engine.ROW_CHUNK):
        d = denoised[r : r + engine.ROW_CHUNK].astype(np.float32)
        mixed = d + np.float32(k) * (original[r : r + engine.ROW_CHUNK].astype(np.float32) - d)
        out[r : r + engine.ROW_CHUNK] = np.clip(np.rint(mixed), 0, top)
    return out


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Gaussian noise level on the 0–255 scale (Immerkær's Laplacian-difference estimator per
    colour channel), the median over up to 16 blocks of 256 px so texture and edges weigh little."""
    parts = engine.split_channels(image)
    top = float(np.iinfo(image.dtype).max)
    h, w = parts.pixels.shape[:2]
    size = min(256, h, w)
    if size < 3:
        return 0.0
    ny = min(4, max(1, h // size))
    nx = min(4, max(1, w // size))
    levels = []
    for by in np.linspace(0, h - size, ny).astype(int):
        for bx in np.linspace(0, w - size, nx).astype(int):
            b = parts.colour_view(parts.pixels)[by : by + size, bx : bx + size].astype(np.float32)
            lap = (
                b[:-2, :-2] - 2 * b[:-2, 1:-1] + b[:-2, 2:]
                - 2 * b[1:-1, :-2] + 4 * b[1:-1, 1:-1] - 2 * b[1:-1, 2:]
                + b[2:, :-2] - 2 * b[2:, 1:-1] + b[2:, 2:]
            )  # fmt: skip
            levels.append(math.sqrt(math.pi / 2) * float(np.abs(lap).mean()) / 6.0)
    return float(np.median(levels)) * 255.0 / top


def denoise(
    image: np.ndarray,
    model: LoadedModel,
    *,
    sigma: float | None = None,
    mask: np.ndarray | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Denoise/restore *image* (H×W×C or H×W, uint8/uint16; same out) with a same-size model.

    *sigma*: noise level on the 0–255 scale, or None (blind; models that need a level get an
    estimate).  *mask* (H×W, 255 = apply): only the masked area changes, blended by the mask's
    value; the model runs on the mask's bounding box plus context only.
    """
    engine.require_task(model, *TASKS)
    parts = engine.split_channels(image)
    if sigma is None and model.needs_sigma:
        sigma = estimate_noise_sigma(image)
    prog = Progress.wrap(progress)
    out = parts.pixels.copy()
    box = (0, 0, out.shape[1], out.shape[0])
    weights = None
    if mask is not None:
        weights = engine.mask_weights(mask, out.shape[:2])
        found = mask_bbox(weights)
        if found is None:
            prog(1.0, "nothing to do: the mask is empty")
            return parts.restore_shape(out)
        margin = (overlap or engine.DEFAULT_OVERLAP) * 2
        box = grow_box(found, margin, out.shape[1], out.shape[0])
    x0, y0, x1, y1 = box
    src = parts.colour_view(parts.pixels)[y0:y1, x0:x1]

    def fn(t):
        return model(t, sigma=sigma, cancel=cancel)

    tiles = {"tile": tile, "overlap": overlap, "progress": prog.sub(0, 0.97), "cancel": cancel}
    if weights is None:
        engine.run_tiled(model, fn, src, out=parts.colour_view(out), **tiles)
    else:
        result = engine.run_tiled(model, fn, src, **tiles)
        engine.blend_into(parts.colour_view(out)[y0:y1, x0:x1], result, weights[y0:y1, x0:x1])
    prog(1.0, "done")
    return parts.restore_shape(out)


def run(ctx: OpContext, p: DenoiseParams) -> OpResult:
    model = ctx.models.get(TASKS, p.model, ctx.progress)
    estimator = None
    if p.auto or (p.strength is None and model.needs_sigma):
        sigma, estimator = auto_sigma(ctx.image, ctx.models, ctx.cancel)
        estimated = True
    else:
        sigma, estimated = p.strength, False
    mask = ctx.mask if p.inside_mask else None
    if p.inside_mask and mask is None:
        mask = np.zeros(ctx.image.shape[:2], np.uint8)  # nothing painted: nothing changes (as the engine says)
    out = denoise(ctx.image, model, sigma=sigma, mask=mask, tile=ctx.tile, progress=ctx.progress,
                  cancel=ctx.cancel)
    out = keep_grain(ctx.image, out, p.keep_grain)
    if sigma is None:
        label = "Denoise (blind)"
    elif estimated:
        label = f"Denoise (auto, σ≈{sigma:.1f})"
    else:
        label = f"Denoise σ {sigma:.0f}"
    if p.keep_grain:
        label += f", {p.keep_grain:g} % grain kept"
    if p.inside_mask:
        label += " in mask"
    info = {"sigma": None if sigma is None else round(float(sigma), 2), "auto": estimated, "model": model.id,
            "inside_mask": p.inside_mask, "keep_grain": p.keep_grain}
    if estimator is not None:
        info["estimator"] = estimator
    return OpResult(image=out, label=label, info=info)


OPERATION = Operation(
    name="denoise", title="Denoise", help="remove noise and grain from photos", params=DenoiseParams, run=run,
    models={"model": TASKS}, returns="image", mask="optional",
)
