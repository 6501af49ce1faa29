"""Fix fading and colour: an enhancement model (task "enhance") corrects faded tones, casts and uneven
fading; a strength 0–100 % blends its result with the photo, on the whole photo or inside the mask.

The model predicts its correction from a thumbnail of the whole photo and applies it at full resolution in
row strips (progress and cancel between strips); a region (the GUI's preview) is corrected exactly as it
would be inside the whole photo.

The prediction is global by design (a small, fixed-size thumbnail of the whole photo: nothing to tile), so a
tile size (``--tile N``, Preferences ▸ tile size, a chain's or a batch's tile) applies to the full-resolution
pass: the photo is corrected in N×N tiles instead of full-width strips, which bounds the pass's memory by the
tile. Every pixel's correction depends only on its position and value, so the result is the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from restorer_gui.core.recipe import RecipeError
from restorer_gui.inference import engine
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation

TASKS = ("enhance",)
STRIP_ROWS = 256
MIN_TILE = 32  # px: a smaller --tile is raised to this (as the tiler does)


@dataclass(frozen=True)
class EnhanceParams:
    strength: float = field(default=100.0, metadata={"help": "how much of the correction to apply, 0-100 %% "
                                                             "(default: 100)"})
    inside_mask: bool = field(default=False, metadata={"help": "only where --mask is white (stains, a faded corner)"})
    model: str | None = field(default=None, metadata={"help": "enhancement model id (restorer models list) or "
                                                              "weights file (default: the installed one)"})

    def __post_init__(self) -> None:
        if not 0 <= self.strength <= 100:
            raise RecipeError("enhance: the strength must be between 0 and 100 (%)")


def _scale(dtype: np.dtype) -> float:
    return 65535.0 if dtype == np.uint16 else 255.0


def _tensor(pixels: np.ndarray, scale: float, device: Any) -> Any:
    """H×W×C (C = 1 or 3) pixels → 1×3×H×W float in [0, 1] (gray repeated)."""
    import torch

    if pixels.dtype == np.uint16:
        a = pixels.astype(np.int32)  # torch has no uint16 arithmetic
    else:  # a writable contiguous copy (the document's arrays are read-only)
        a = np.array(pixels, copy=not (pixels.flags.writeable and pixels.flags.c_contiguous), order="C")
    t = torch.from_numpy(a).to(device).permute(2, 0, 1)[None].float().div_(scale)
    return t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t


def predict(image: np.ndarray, model: Any) -> Any:
    """The model's correction for this photo (from its thumbnail); reused for regions of the same photo.
    A large photo is first block-averaged in numpy (no full-size float copy), then area-pooled by the net."""
    import torch

    parts = engine.split_channels(image)
    colour = parts.colour_view(parts.pixels)
    net = model.module
    h, w = colour.shape[:2]
    f = max(1, min(h, w) // (2 * int(getattr(net, "thumb", 256))))
    small = colour
    if f > 1:  # f×f block means, rows first (integer sums: several times faster than a float mean)
        hh, ww, c = h // f * f, w // f * f, colour.shape[2]
        acc = np.uint32 if f * f * 65535 < 2**32 else np.uint64
        rows = colour[:hh, :ww].reshape(hh // f, f, ww, c).sum(axis=1, dtype=acc)
        small = rows.reshape(hh // f, ww // f, f, c).sum(axis=2).astype(np.float32) / np.float32(f * f)
    with torch.inference_mode():
        return net.predict(net.thumbnail(_tensor(small, _scale(image.dtype), model.device)))


def enhance(image: np.ndarray, model: Any, strength: float = 100.0, mask: np.ndarray | None = None,
            box: tuple[int, int, int, int] | None = None, params: Any = None, tile: int | None = None,
            progress: ProgressFn | None = None, cancel: CancelToken | None = None) -> np.ndarray:
    """The corrected photo (same shape and dtype as ``image``; alpha kept), or its region ``box`` =
    (x0, y0, x1, y1) corrected as inside the whole photo, with ``params`` from `predict` (computed when
    None). ``strength`` 0–100 %; ``mask`` (uint8 H×W of the photo, 255 = apply) limits it, by its value.
    ``tile``: correct in tiles of at most tile×tile pixels (at least `MIN_TILE`) instead of strips of
    `STRIP_ROWS` full-width rows; the same pixels either way."""
    import torch

    engine.require_task(model, *TASKS)
    parts = engine.split_channels(image)
    pixels, ncol = parts.pixels, parts.colour
    scale = _scale(image.dtype)
    h, w = pixels.shape[:2]
    if params is None:
        params = predict(image, model)
    weights = None if mask is None else engine.mask_weights(mask, (h, w))
    x0, y0, x1, y1 = box or (0, 0, w, h)
    region = pixels[y0:y1, x0:x1]
    out = region.copy()  # alpha as it was
    s = float(np.clip(strength, 0.0, 100.0)) / 100.0
    prog = Progress.wrap(progress)
    rows, cols = y1 - y0, x1 - x0
    if tile and tile > 0:
        side_y = side_x = max(MIN_TILE, int(tile))
    else:
        side_y, side_x = STRIP_ROWS, max(1, cols)
    pieces = [(t, l) for t in range(0, rows, side_y) for l in range(0, cols, side_x)]
    with torch.inference_mode():
        for done, (top, left) in enumerate(pieces, 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            bottom, right = min(rows, top + side_y), min(cols, left + side_x)
            x = _tensor(region[top:bottom, left:right, :ncol], scale, model.device)
            y = model.module.apply(x, params, (y0 + top, x0 + left, h, w))
            if mask is not None:
                m = weights[y0 + top:y0 + bottom, x0 + left:x0 + right]
                m = torch.from_numpy(np.array(m, order="C")).to(y.device)
                y = torch.lerp(x, y, m.float().mul_(s / 255.0)[None, None])
            elif s < 1.0:
                y = torch.lerp(x, y, s)
            if ncol == 1:
                y = y.mean(1, keepdim=True)
            y = y[0].permute(1, 2, 0).mul_(scale).add_(0.5).clamp_(0, scale)
            out[top:bottom, left:right, :ncol] = y.cpu().numpy().astype(image.dtype)
            prog(done / len(pieces), "correcting")
    return parts.restore_shape(out)


def run(ctx: OpContext, p: EnhanceParams) -> OpResult:
    model = ctx.models.get(TASKS, p.model, ctx.progress)
    mask = ctx.mask if p.inside_mask else None
    if p.inside_mask and mask is None:
        mask = np.zeros(ctx.image.shape[:2], np.uint8)  # nothing painted: nothing changes
    ctx.progress(0.05, "reading the photo")
    out = enhance(ctx.image, model, p.strength, mask, tile=ctx.tile, progress=ctx.progress.sub(0.1, 1.0),
                  cancel=ctx.cancel)
    label = "Fix fading" + (f" {p.strength:.0f} %" if p.strength < 100 else "") + (" in mask" if p.inside_mask else "")
    where = " inside the mask" if p.inside_mask else ""
    info = {"model": model.id, "strength": p.strength, "inside_mask": p.inside_mask,
            "summary": f"fading and colour fixed with {model.id} at {p.strength:g} %{where}"}
    return OpResult(image=out, label=label, info=info)


OPERATION = Operation(
    name="enhance", title="Fix Fading and Colour",
    help="bring back faded colour and contrast (casts, yellowing, uneven fading)",
    params=EnhanceParams, run=run, models={"model": TASKS}, returns="image", mask="optional",
)
