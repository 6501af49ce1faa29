"""Inpaint: fill the masked damage from its surroundings, then give the fill the local grain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from restorer_gui.core.errors import RestorerError
from restorer_gui.inference import engine
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn, check_cancel
from restorer_gui.inference.ops.base import OpContext, OpResult, Operation
from restorer_gui.inference.regions import has_wide_hole, hole_thickness_bound, mask_regions

if TYPE_CHECKING:
    from restorer_gui.inference.loader import LoadedModel

TASKS = ("inpaint",)
TILE_MIN_CONTEXT = 32  # pixels of context around a tile core when the holes are thin (see tile_context)


@dataclass(frozen=True)
class InpaintParams:
    model: str | None = None
    grain: bool = False  # lay the neighbourhood's grain into the fill (see core.grain)


def fill(image: np.ndarray, mask: np.ndarray, model: LoadedModel, *, grain: bool, progress: Progress,
         cancel: CancelToken | None) -> np.ndarray:
    """The network's fill of ``mask`` (uint8, 255 = damage), with the local grain laid in when asked."""
    from restorer_gui.core.grain import transfer_grain

    out = inpaint(image, mask, model, progress=progress.sub(0, 0.9 if grain else 1.0), cancel=cancel)
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


def inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    model: LoadedModel,
    *,
    max_side: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Fill the masked damage (mask H×W, >0 = hole; its value blends the result in) of *image* (H×W×C or
    H×W, uint8/uint16; same out).

    The model runs on crops around the mask's regions with context in proportion to each
    region's thickness (overlapping crops merged).  A crop larger than *max_side* (default: from
    free memory) is filled at full resolution in tiles when its holes are thin (scratches, dust,
    cracks: local context suffices), and at reduced scale, then upsampled, only when it holds a
    wide hole that needs far context.  Every pixel where the mask is 0 stays bit-identical.
    """
    from restorer_gui.inference import device as devices
    from restorer_gui.inference.tiling import choose_tile

    engine.require_task(model, *TASKS)
    parts = engine.split_channels(image)
    h, w = parts.pixels.shape[:2]
    weights = engine.mask_weights(mask, (h, w))
    prog = Progress.wrap(progress)
    out = parts.pixels.copy()
    boxes = mask_regions(weights > 0)
    if not boxes:
        prog(1.0, "nothing to do: the mask is empty")
        return parts.restore_shape(out)
    if max_side is None:
        max_side = max(256, choose_tile(model.bytes_per_pixel(), model.device, multiple=model.size_multiple))
    top = float(np.iinfo(image.dtype).max)
    with engine.cpu_fallback(model) as to_cpu:
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            check_cancel(cancel)
            prog(k / len(boxes), f"region {k + 1}/{len(boxes)}")
            crop = parts.colour_view(parts.pixels)[y0:y1, x0:x1]
            region_w = weights[y0:y1, x0:x1]
            filled = _inpaint_region(model, crop, region_w > 0, max_side, top, to_cpu, cancel,
                                     prog.sub(k / len(boxes), (k + 1) / len(boxes)), f"region {k + 1}/{len(boxes)}")
            engine.blend_into(parts.colour_view(out)[y0:y1, x0:x1], filled, region_w)
            del filled
            devices.trim_host_memory()
    prog(1.0, "done")
    return parts.restore_shape(out)


def _inpaint_region(model: LoadedModel, crop: np.ndarray, hole: np.ndarray, max_side: int, top: float,
                    to_cpu: Callable[[], object], cancel: CancelToken | None = None,
                    progress: Progress | None = None, label: str = "") -> np.ndarray:
    """:func:`_inpaint_crop`, halving the working size after an out-of-memory error down to
    MIN_TILE, then once more from *max_side* on the CPU."""
    from restorer_gui.inference import device as devices
    from restorer_gui.inference.tiling import MIN_TILE, TileMemoryError

    side = max_side
    while True:
        try:
            return _inpaint_crop(model, crop, hole, side, top, cancel, progress, label)
        except Exception as exc:
            if not devices.is_out_of_memory(exc):
                raise
        devices.empty_cache(model.device)
        if side > MIN_TILE:
            side = max(MIN_TILE, side // 2)
        elif model.device.type != "cpu":
            to_cpu()
            side = max_side
        else:
            raise TileMemoryError(f"not enough memory to inpaint even at {side} pixels")


def _inpaint_crop(
    model: LoadedModel, crop: np.ndarray, hole: np.ndarray, max_side: int, top: float, cancel: CancelToken | None = None,
    progress: Progress | None = None, label: str = "",
) -> np.ndarray:
    """Model output for one crop (same size and dtype as *crop*): in one piece when it fits in
    *max_side*; else in full-resolution tiles when the holes are thin, or at reduced scale when a
    hole is wide."""
    import torch
    import torch.nn.functional as F

    h, w = hole.shape
    if max(h, w) > max_side and not has_wide_hole(hole, max_side // 8):
        return _inpaint_tiles(model, crop, hole, max_side, top, cancel, progress, label)
    factor = min(1.0, max_side / max(h, w))
    k = max(1, int(1 / factor) // 2)  # integer pre-reduction keeps the float copy small
    x = torch.from_numpy(_block_reduce(crop, k, np.mean) / np.float32(top)).permute(2, 0, 1)[None]
    m = torch.from_numpy(_block_reduce(hole[..., None], k, np.max))[None, None, ..., 0]
    if factor < 1.0:
        size = (max(1, round(h * factor)), max(1, round(w * factor)))
        x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp_(0, 1)
        m = (F.interpolate(m, size=size, mode="area") > 0).float()  # any hole coverage stays a hole
    y = model(x, mask=m, cancel=cancel, progress=_layer_progress(progress, label)).cpu()
    if factor < 1.0:
        y = F.interpolate(y, size=(h, w), mode="bicubic", align_corners=False).clamp_(0, 1)
    return np.rint(y[0].permute(1, 2, 0).numpy() * top).astype(crop.dtype)


def _layer_progress(progress: Progress | None, label: str) -> Callable[[float, str], None] | None:
    """The network's layer-by-layer progress inside one crop or tile, shown under *label*."""
    if progress is None:
        return None
    return lambda fraction, _message: progress(fraction, label)


def tile_context(hole: np.ndarray, max_side: int) -> int:
    """Context kept on each side of a tile's core for thin holes: twice the hole's thickness
    bound, at least TILE_MIN_CONTEXT and at most *max_side* / 4.  A 1–6 px scratch is filled from
    its immediate surroundings, so a narrow margin lets most of each window be core (fewer windows
    and fewer pixels through the model than a fixed *max_side* / 4 margin)."""
    cap = max(1, max_side // 4)
    return min(cap, max(TILE_MIN_CONTEXT, 2 * hole_thickness_bound(hole, cap)))


def _inpaint_tiles(
    model: LoadedModel, crop: np.ndarray, hole: np.ndarray, max_side: int, top: float, cancel: CancelToken | None,
    progress: Progress | None = None, label: str = "",
) -> np.ndarray:
    """Thin holes in a large crop, at full resolution: the crop is cut into cores; each core that
    holds a hole is filled from the *max_side* window around it (at least :func:`tile_context` of
    context on every side within the crop) and only the core is kept.  Cores without a hole are
    not run."""
    import torch

    from restorer_gui.inference import device as devices

    h, w = hole.shape
    ctx = tile_context(hole, max_side)
    core = max(1, max_side - 2 * ctx)
    wh, ww = min(h, max_side), min(w, max_side)
    out = crop.copy()
    cores = [(y, x) for y in range(0, h, core) for x in range(0, w, core)
             if hole[y : min(h, y + core), x : min(w, x + core)].any()]
    for i, (y, x) in enumerate(cores):
        y1, x1 = min(h, y + core), min(w, x + core)
        check_cancel(cancel)
        if progress is not None:
            progress(i / len(cores), f"{label}, tile {i + 1}/{len(cores)}" if label else f"tile {i + 1}/{len(cores)}")
        # windows all of one size (shifted inwards at the edges): fewer distinct allocations
        wy, wx = min(max(0, y - ctx), h - wh), min(max(0, x - ctx), w - ww)
        win = np.s_[wy : wy + wh, wx : wx + ww]
        t = torch.from_numpy(crop[win].astype(np.float32) / np.float32(top)).permute(2, 0, 1)[None]
        m = torch.from_numpy(hole[win].astype(np.float32))[None, None]
        tile_label = f"{label}, tile {i + 1}/{len(cores)}" if label else f"tile {i + 1}/{len(cores)}"
        layers = _layer_progress(progress.sub(i / len(cores), (i + 1) / len(cores)) if progress else None, tile_label)
        filled = model(t, mask=m, cancel=cancel, progress=layers).cpu()[0, :, y - wy : y1 - wy, x - wx : x1 - wx]
        out[y:y1, x:x1] = np.rint(filled.permute(1, 2, 0).numpy() * top).astype(crop.dtype)
        del t, m, filled
        devices.trim_host_memory()
    return out


def _block_reduce(arr: np.ndarray, k: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """H×W×C → ceil(H/k)×ceil(W/k)×C float32 by *reduce* over k×k blocks (edges replicated),
    converting a band of rows at a time."""
    if k == 1:
        return arr.astype(np.float32)
    h, w, c = arr.shape
    oh, ow = -(-h // k), -(-w // k)
    out = np.empty((oh, ow, c), np.float32)
    band = max(1, 256 // k)
    for r in range(0, oh, band):
        rows = arr[r * k : (r + band) * k]
        n = -(-rows.shape[0] // k)
        rows = np.pad(rows, ((0, n * k - rows.shape[0]), (0, ow * k - w), (0, 0)), mode="edge")
        out[r : r + n] = reduce(rows.astype(np.float32).reshape(n, k, ow, k, c), axis=(1, 3))
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
