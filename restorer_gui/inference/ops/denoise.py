"""Denoise: remove noise and grain, on the whole photo or inside the mask. The noise-level policy lives here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

TASKS = ("denoise", "restore")


@dataclass(frozen=True)
class DenoiseParams:
    strength: float | None = None  # σ on the 0–255 scale; None with auto False: the model's blind mode
    auto: bool = False  # estimate σ from the photo
    inside_mask: bool = False  # only where the mask is painted, blended by its value
    model: str | None = None  # id or path; None: the chosen or default denoiser

    def __post_init__(self) -> None:
        if self.strength is not None and not 0 <= self.strength <= 255:
            raise RecipeError("denoise: the strength must be between 0 and 255")


def noise_level(image, model, params: DenoiseParams) -> tuple[float | None, bool]:
    """(σ to use, whether it was estimated): the one noise-level policy of every front end. Auto estimates;
    a strength is used as given; neither leaves blind models blind and estimates for those that need σ."""
    from restorer_gui.inference import pipelines

    if params.auto or (params.strength is None and model.needs_sigma):
        return pipelines.estimate_noise_sigma(image), True
    return params.strength, False


def run(ctx: OpContext, p: DenoiseParams) -> OpResult:
    from restorer_gui.inference import pipelines

    model = ctx.models.get(TASKS, p.model, ctx.progress)
    sigma, estimated = noise_level(ctx.image, model, p)
    mask = ctx.mask if p.inside_mask else None
    if p.inside_mask and mask is None:
        mask = np.zeros(ctx.image.shape[:2], np.uint8)  # nothing painted: nothing changes (as the engine says)
    out = pipelines.denoise(ctx.image, model, sigma=sigma, mask=mask, tile=ctx.tile, progress=ctx.progress,
                            cancel=ctx.cancel)
    if sigma is None:
        label = "Denoise (blind)"
    elif estimated:
        label = f"Denoise (auto, σ≈{sigma:.1f})"
    else:
        label = f"Denoise σ {sigma:.0f}"
    if p.inside_mask:
        label += " in mask"
    info = {"sigma": None if sigma is None else round(float(sigma), 2), "auto": estimated, "model": model.id,
            "inside_mask": p.inside_mask}
    return OpResult(image=out, label=label, info=info)


OPERATION = Operation(
    name="denoise", title="Denoise", help="remove noise and grain from photos", params=DenoiseParams, run=run,
    models={"model": TASKS}, returns="image", mask="optional",
)
