"""Restoration pipelines on plain arrays: H×W×C (or H×W) uint8/uint16 in, same dtype out.

Alpha channels pass through untouched; gray images run through RGB networks and come back
gray; 16-bit stays 16-bit.  Pixels are converted to float tile by tile (never the whole
image), so memory stays close to input + output.  Every function takes an optional
``progress(fraction, message)`` and a :class:`CancelToken` checked between tiles/regions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from restorer_gui.core.errors import RestorerError, a_an
from restorer_gui.core import mask_ops
from restorer_gui.core.mask_ops import mask_bbox
from restorer_gui.inference import device as devices
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn, check_cancel
from restorer_gui.inference.loader import FACE_SIZE, LoadedModel
from restorer_gui.inference.tiling import MIN_TILE, TiledRunner, TileFn, TileMemoryError, choose_tile

_log = logging.getLogger(__name__)
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive ends)
DEFAULT_OVERLAP = 32
TILE_MIN_CONTEXT = 32  # pixels of context around a tile core when the holes are thin (see tile_context)
_ROW_CHUNK = 256


class PipelineError(RestorerError, ValueError):
    """Inputs that a pipeline cannot work with (one-line message)."""


@dataclass
class _Split:
    """An image split into the channels a model sees and the alpha it must not touch."""

    pixels: np.ndarray  # H×W×C view
    squeeze: bool  # the caller passed H×W

    @property
    def colour(self) -> int:
        return 3 if self.pixels.shape[2] >= 3 else 1

    def colour_view(self, arr: np.ndarray) -> np.ndarray:
        return arr[..., : self.colour]

    def restore_shape(self, arr: np.ndarray) -> np.ndarray:
        return arr[..., 0] if self.squeeze else arr


def _split(image: np.ndarray) -> _Split:
    if not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.uint16):
        raise PipelineError("images must be uint8 or uint16 numpy arrays")
    squeeze = image.ndim == 2
    pixels = image[..., None] if squeeze else image
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or 0 in pixels.shape:
        raise PipelineError(f"unsupported image shape {image.shape} (expected H×W×1..4)")
    return _Split(pixels, squeeze)


def _mask2d(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = mask[..., 0] if mask.ndim == 3 else mask
    if m.shape != shape:
        raise PipelineError(f"the mask is {m.shape[1]}×{m.shape[0]} but the image is {shape[1]}×{shape[0]}")
    if m.dtype == np.bool_:
        return m.astype(np.uint8) * 255
    if m.dtype == np.uint16:
        return (m >> 8).astype(np.uint8)
    if m.dtype.kind == "f":  # coverage in [0, 1]
        return np.rint(np.clip(m, 0.0, 1.0) * 255).astype(np.uint8)
    if m.dtype != np.uint8:
        raise PipelineError(f"unsupported mask type {m.dtype}")
    return m


def _require(model: LoadedModel, *tasks: str) -> None:
    if model.task not in tasks:
        raise PipelineError(f"model {model.id!r} is {a_an(model.task)} model, not one for {' / '.join(tasks)}")


def _place(model: LoadedModel, device: torch.device, dtype: torch.dtype) -> None:
    """Move the model's module (in place: its forward closures follow) to *device*/*dtype*."""
    old = model.device
    model.module.to(device=device, dtype=dtype)
    model.device, model.dtype = device, dtype
    devices.empty_cache(old)


@contextmanager
def _cpu_fallback(model: LoadedModel) -> Iterator[Callable[[], tuple[torch.device, torch.dtype]]]:
    """Yield a callback that moves *model* to the CPU (fp32) when its GPU runs out of memory even
    for the smallest tiles; the model goes back to its device afterwards (best effort)."""
    home = (model.device, model.dtype)

    def to_cpu() -> tuple[torch.device, torch.dtype]:
        _log.warning("%s: out of memory on %s even with small tiles; going on on the CPU", model.id, model.device)
        _place(model, torch.device("cpu"), torch.float32)
        return model.device, model.dtype

    try:
        yield to_cpu
    finally:
        if (model.device, model.dtype) != home:
            try:
                _place(model, *home)
            except Exception as exc:  # noqa: BLE001 - still out of memory: it stays on the CPU
                _log.warning("%s stays on the CPU: %s", model.id, exc)


def _runner(
    model: LoadedModel,
    fn: TileFn,
    *,
    tile: int | None,
    overlap: int | None,
    size: tuple[int, int],
    progress: ProgressFn | None,
    cancel: CancelToken | None,
    on_memory_error: Callable[[], tuple[torch.device, torch.dtype]] | None = None,
) -> TiledRunner:
    """A runner with the model's rules; tile from free memory unless given; no tiling for
    models that must see the whole image, a wider overlap for those that discourage it."""
    if model.tiling == "internal":
        side = max(size)
    elif tile:
        side = int(tile)
    else:
        side = choose_tile(model.bytes_per_pixel(), model.device, multiple=model.size_multiple, min_size=model.min_size)
    if overlap is None:  # models that rely on wide context get more of it

        overlap = DEFAULT_OVERLAP if model.tiling == "supported" else 64
    return TiledRunner(
        fn,
        tile=side,
        overlap=overlap,
        scale=model.scale,
        multiple=model.size_multiple,
        min_size=model.min_size,
        device=model.device,
        dtype=model.dtype,
        progress=progress,
        cancel=cancel,
        on_memory_error=on_memory_error,
    )


# --------------------------------------------------------------------------- denoise


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
    """Denoise/restore *image* with a same-size model.

    *sigma*: noise level on the 0–255 scale, or None (blind; models that need a level get an
    estimate).  *mask* (H×W, 255 = apply): only the masked area changes, blended by the mask's
    value; the model runs on the mask's bounding box plus context only.
    """
    _require(model, "denoise", "restore")
    parts = _split(image)
    if sigma is None and model.needs_sigma:
        sigma = estimate_noise_sigma(image)
    prog = Progress.wrap(progress)
    out = parts.pixels.copy()
    box = (0, 0, out.shape[1], out.shape[0])
    weights = None
    if mask is not None:
        weights = _mask2d(mask, out.shape[:2])
        found = mask_bbox(weights)
        if found is None:
            prog(1.0, "nothing to do: the mask is empty")
            return parts.restore_shape(out)
        margin = (overlap or DEFAULT_OVERLAP) * 2
        box = _grow(found, margin, out.shape[1], out.shape[0])
    x0, y0, x1, y1 = box
    src = parts.colour_view(parts.pixels)[y0:y1, x0:x1]

    def fn(t: torch.Tensor) -> torch.Tensor:
        return model(t, sigma=sigma)

    with _cpu_fallback(model) as to_cpu:
        runner = _runner(model, fn, tile=tile, overlap=overlap, size=(y1 - y0, x1 - x0),
                         progress=prog.sub(0, 0.97), cancel=cancel, on_memory_error=to_cpu)
        if weights is None:
            runner.run(src, out=parts.colour_view(out))
        else:
            result = runner.run(src)
            _blend_into(parts.colour_view(out)[y0:y1, x0:x1], result, weights[y0:y1, x0:x1])
    prog(1.0, "done")
    return parts.restore_shape(out)


def _blend_into(dst: np.ndarray, src: np.ndarray, weights: np.ndarray) -> None:
    """dst = dst + (src - dst)·w/255 where w > 0, in row chunks; w == 0 leaves dst bit-identical."""
    top = float(np.iinfo(dst.dtype).max)
    for r in range(0, dst.shape[0], _ROW_CHUNK):
        w = weights[r : r + _ROW_CHUNK]
        sel = w > 0
        if not sel.any():
            continue
        a = w[sel].astype(np.float32)[:, None] / 255.0
        d = dst[r : r + _ROW_CHUNK]
        old = d[sel].astype(np.float32)
        new = src[r : r + _ROW_CHUNK][sel].astype(np.float32)
        d[sel] = np.clip(np.rint(old + (new - old) * a), 0, top).astype(dst.dtype)


def estimate_noise_sigma(image: np.ndarray) -> float:
    """Gaussian noise level on the 0–255 scale (Immerkær's Laplacian-difference estimator per
    colour channel), the median over up to 16 blocks of 256 px so texture and edges weigh little."""
    parts = _split(image)
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


# --------------------------------------------------------------------------- upscale / face


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
    _require(model, "upscale")
    parts = _split(image)
    s = model.scale
    h, w, c = parts.pixels.shape
    prog = Progress.wrap(progress)
    out = np.empty((h * s, w * s, c), dtype=image.dtype)
    with _cpu_fallback(model) as to_cpu:
        runner = _runner(model, lambda t: model(t), tile=tile, overlap=overlap, size=(h, w),
                         progress=prog.sub(0, 0.97), cancel=cancel, on_memory_error=to_cpu)
        runner.run(parts.colour_view(parts.pixels), out=parts.colour_view(out))
    if c > parts.colour:
        for r in range(0, h, _ROW_CHUNK):
            alpha = parts.pixels[r : r + _ROW_CHUNK, :, parts.colour :]
            out[r * s : (r + alpha.shape[0]) * s, :, parts.colour :] = alpha.repeat(s, axis=0).repeat(s, axis=1)
    prog(1.0, "done")
    return parts.restore_shape(out)


def restore_face(
    image: np.ndarray,
    model: LoadedModel,
    *,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Run a face restorer on a face crop: padded to a square, resized to the model's
    working size (512 px), restored, and resized back to the crop."""
    _require(model, "face")
    parts = _split(image)
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
    y = model(x).cpu()
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


# --------------------------------------------------------------------------- inpaint


def inpaint(
    image: np.ndarray,
    mask: np.ndarray,
    model: LoadedModel,
    *,
    max_side: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Fill the masked damage (mask H×W, >0 = hole; its value blends the result in).

    The model runs on crops around the mask's regions with context in proportion to each
    region's thickness (overlapping crops merged).  A crop larger than *max_side* (default: from
    free memory) is filled at full resolution in tiles when its holes are thin (scratches, dust,
    cracks: local context suffices), and at reduced scale, then upsampled, only when it holds a
    wide hole that needs far context.  Every pixel where the mask is 0 stays bit-identical.
    """
    _require(model, "inpaint")
    parts = _split(image)
    h, w = parts.pixels.shape[:2]
    weights = _mask2d(mask, (h, w))
    prog = Progress.wrap(progress)
    out = parts.pixels.copy()
    boxes = mask_regions(weights > 0)
    if not boxes:
        prog(1.0, "nothing to do: the mask is empty")
        return parts.restore_shape(out)
    if max_side is None:
        max_side = max(256, choose_tile(model.bytes_per_pixel(), model.device, multiple=model.size_multiple))
    top = float(np.iinfo(image.dtype).max)
    with _cpu_fallback(model) as to_cpu:
        for k, (x0, y0, x1, y1) in enumerate(boxes):
            check_cancel(cancel)
            prog(k / len(boxes), f"region {k + 1}/{len(boxes)}")
            crop = parts.colour_view(parts.pixels)[y0:y1, x0:x1]
            region_w = weights[y0:y1, x0:x1]
            filled = _inpaint_region(model, crop, region_w > 0, max_side, top, to_cpu, cancel,
                                     prog.sub(k / len(boxes), (k + 1) / len(boxes)), f"region {k + 1}/{len(boxes)}")
            _blend_into(parts.colour_view(out)[y0:y1, x0:x1], filled, region_w)
            del filled
            devices.trim_host_memory()
    prog(1.0, "done")
    return parts.restore_shape(out)


def _inpaint_region(model: LoadedModel, crop: np.ndarray, hole: np.ndarray, max_side: int, top: float,
                    to_cpu: Callable[[], object], cancel: CancelToken | None = None,
                    progress: Progress | None = None, label: str = "") -> np.ndarray:
    """:func:`_inpaint_crop`, halving the working size after an out-of-memory error down to
    MIN_TILE, then once more from *max_side* on the CPU."""
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
    y = model(x, mask=m).cpu()
    if factor < 1.0:
        y = F.interpolate(y, size=(h, w), mode="bicubic", align_corners=False).clamp_(0, 1)
    return np.rint(y[0].permute(1, 2, 0).numpy() * top).astype(crop.dtype)


def has_wide_hole(hole: np.ndarray, side: int) -> bool:
    """Whether some *side* × *side* block of the grid aligned at (0, 0) lies wholly inside the hole
    (so the hole is at least *side* and at most 2 × *side* − 1 pixels thick somewhere)."""
    side = max(1, int(side))
    h, w = (hole.shape[0] // side) * side, (hole.shape[1] // side) * side
    if h == 0 or w == 0:
        return False
    return bool(hole[:h, :w].reshape(h // side, side, w // side, side).all(axis=(1, 3)).any())


def hole_thickness_bound(hole: np.ndarray, limit: int) -> int:
    """An upper bound on how thick the hole is, from :func:`has_wide_hole` at doubling block sides:
    with *k* the largest side whose aligned blocks fit in the hole (1 if none), no block of side 2 × *k*
    fits, so the hole is less than 4 × *k* − 1 pixels thick everywhere.  The search stops at *limit*
    (a hole thicker than that gets a bound near *limit*; callers cap their use of it there anyway)."""
    k = 1
    while 2 * k <= limit and has_wide_hole(hole, 2 * k):
        k *= 2
    return 4 * k - 1


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
        filled = model(t, mask=m).cpu()[0, :, y - wy : y1 - wy, x - wx : x1 - wx]
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


def mask_regions(hole: np.ndarray, *, min_context: int = 48, context_ratio: float = 0.75) -> list[Box]:
    """Boxes to inpaint: each connected damage region's bounding box grown by
    max(min_context, context_ratio × its thickness), clipped, with overlapping boxes merged.

    The thickness is the box's longer side for a compact hole, and about twice the area over that
    side for a long one, so a scratch across the photo gets the context its width needs, not its
    length's (which would merge every scratch into one photo-sized region)."""
    h, w = hole.shape
    boxes = []
    for (bx0, by0, bx1, by1), area in _components(hole):
        long_side = max(bx1 - bx0, by1 - by0)
        thickness = min(long_side, 2 * area / long_side)
        margin = max(min_context, int(context_ratio * thickness))
        boxes.append(_grow((bx0, by0, bx1, by1), margin, w, h))
    return _merge(boxes)


def _components(hole: np.ndarray) -> list[tuple[Box, int]]:
    """Bounding boxes of connected regions, found on a coarse grid of cells (≤ ~1024² cells),
    each with its area counted in whole cells (an upper bound on its pixels)."""
    h, w = hole.shape
    cell = max(4, math.ceil(max(h, w) / 1024))
    gh, gw = -(-h // cell), -(-w // cell)
    padded = np.zeros((gh * cell, gw * cell), bool)
    padded[:h, :w] = hole
    grid = padded.reshape(gh, cell, gw, cell).any(axis=(1, 3))
    seen = np.zeros_like(grid)
    boxes: list[tuple[Box, int]] = []
    for sy, sx in zip(*np.nonzero(grid), strict=True):
        if seen[sy, sx]:
            continue
        seen[sy, sx] = True
        stack = [(int(sy), int(sx))]
        y0, x0, y1, x1 = sy, sx, sy, sx
        cells = 0
        while stack:
            cy, cx = stack.pop()
            cells += 1
            y0, x0, y1, x1 = min(y0, cy), min(x0, cx), max(y1, cy), max(x1, cx)
            for ny in range(max(cy - 1, 0), min(cy + 2, gh)):
                for nx in range(max(cx - 1, 0), min(cx + 2, gw)):
                    if grid[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        box = (int(x0) * cell, int(y0) * cell, min(w, (int(x1) + 1) * cell), min(h, (int(y1) + 1) * cell))
        tight = mask_bbox(hole[box[1] : box[3], box[0] : box[2]])
        if tight is not None:
            tight_box = (box[0] + tight[0], box[1] + tight[1], box[0] + tight[2], box[1] + tight[3])
            boxes.append((tight_box, cells * cell * cell))
    return boxes


def _grow(box: Box, margin: int, w: int, h: int) -> Box:
    return (max(0, box[0] - margin), max(0, box[1] - margin), min(w, box[2] + margin), min(h, box[3] + margin))


def _merge(boxes: list[Box]) -> list[Box]:
    """Union overlapping boxes until none overlap."""
    merged = list(boxes)
    changed = True
    while changed:
        changed = False
        result: list[Box] = []
        for b in merged:
            for i, r in enumerate(result):
                if b[0] < r[2] and r[0] < b[2] and b[1] < r[3] and r[1] < b[3]:
                    result[i] = (min(b[0], r[0]), min(b[1], r[1]), max(b[2], r[2]), max(b[3], r[3]))
                    changed = True
                    break
            else:
                result.append(b)
        merged = result
    return sorted(merged, key=lambda b: (b[1], b[0]))


# --------------------------------------------------------------------------- detect / generic


def card_threshold(card: dict | None, default: float = 0.5) -> float:
    """The probability cut a detector's card recommends (chosen on held-out training images), else
    *default*; a card value outside 0–1 is ignored."""
    value = card.get("threshold") if isinstance(card, dict) else None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if 0.0 <= value <= 1.0 else default


def detect_probability(
    image: np.ndarray,
    model: LoadedModel,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """H×W uint8 map of the detector's damage probability (0–255), tile by tile."""
    _require(model, "detect-scratches")
    parts = _split(image)
    h, w = parts.pixels.shape[:2]
    prog = Progress.wrap(progress)
    prob = np.empty((h, w, 1), np.uint8)
    with _cpu_fallback(model) as to_cpu:
        runner = _runner(model, lambda t: model(t), tile=tile, overlap=overlap, size=(h, w),
                         progress=prog.sub(0, 0.97), cancel=cancel, on_memory_error=to_cpu)
        runner.run(parts.colour_view(parts.pixels), out=prob)
    return prob[..., 0]


def threshold_probability(prob: np.ndarray, threshold: float) -> np.ndarray:
    """255 where a probability map (uint8, 0–255) reaches *threshold* (0–1), else 0."""
    if not 0.0 <= threshold <= 1.0:
        raise PipelineError("the threshold must be between 0 and 1")
    return mask_ops.threshold_probability(prob, threshold)


def detect_scratches(
    image: np.ndarray,
    model: LoadedModel,
    *,
    threshold: float | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """H×W uint8 mask, 255 where the model's scratch probability is at least *threshold*
    (default: the threshold in the model's card, else 0.5)."""
    _require(model, "detect-scratches")
    if threshold is None:
        threshold = card_threshold(model.info.card)
    if not 0.0 <= threshold <= 1.0:
        raise PipelineError("the threshold must be between 0 and 1")
    prog = Progress.wrap(progress)
    prob = detect_probability(image, model, tile=tile, overlap=overlap, progress=prog, cancel=cancel)
    mask = threshold_probability(prob, threshold)
    prog(1.0, "done")
    return mask


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
    if model.task in ("denoise", "restore"):
        return denoise(image, model, sigma=sigma, mask=mask, tile=tile, progress=progress, cancel=cancel)
    if model.task == "upscale":
        return upscale(image, model, tile=tile, progress=progress, cancel=cancel)
    if model.task == "face":
        return restore_face(image, model, progress=progress, cancel=cancel)
    if model.task == "inpaint":
        if mask is None:
            raise PipelineError(f"model {model.id!r} is an inpainting model: it needs a mask")
        return inpaint(image, mask, model, progress=progress, cancel=cancel)
    if model.task == "detect-scratches":
        return detect_scratches(image, model, tile=tile, progress=progress, cancel=cancel)
    raise PipelineError(f"model {model.id!r} has an unknown task {model.task!r}")
