"""What every operation does around its network: check the inputs, split colour from alpha, run the
model over tiles with its tiling rules, fall back to the CPU when a GPU runs out of memory, blend by a mask.

Images are H×W×C (or H×W) uint8/uint16 in, same dtype out. Alpha channels pass through untouched; gray
images run through RGB networks and come back gray; 16-bit stays 16-bit. Pixels are converted to float
tile by tile (never the whole image), so memory stays close to input + output. Importing this module loads
no torch (the operation modules import it at their top); torch loads when a model runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from restorer_gui.core.errors import RestorerError, a_an
from restorer_gui.inference.jobs import CancelToken, ProgressFn

if TYPE_CHECKING:
    import torch

    from restorer_gui.inference.loader import LoadedModel
    from restorer_gui.inference.tiling import TileFn

_log = logging.getLogger(__name__)
DEFAULT_OVERLAP = 32
ROW_CHUNK = 256  # rows converted to float at a time when blending or copying alpha


class EngineError(RestorerError, ValueError):
    """Inputs that an operation cannot work with (one-line message)."""


@dataclass
class Channels:
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


def split_channels(image: np.ndarray) -> Channels:
    """*image* as H×W×C colour + alpha; EngineError for anything but a uint8/uint16 H×W×1..4 array."""
    if not isinstance(image, np.ndarray) or image.dtype not in (np.uint8, np.uint16):
        raise EngineError("images must be uint8 or uint16 numpy arrays")
    squeeze = image.ndim == 2
    pixels = image[..., None] if squeeze else image
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or 0 in pixels.shape:
        raise EngineError(f"unsupported image shape {image.shape} (expected H×W×1..4)")
    return Channels(pixels, squeeze)


def mask_weights(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A mask (bool, uint8, uint16 or float coverage; H×W or H×W×1) as H×W uint8 weights, 255 = all."""
    m = mask[..., 0] if mask.ndim == 3 else mask
    if m.shape != shape:
        raise EngineError(f"the mask is {m.shape[1]}×{m.shape[0]} but the image is {shape[1]}×{shape[0]}")
    if m.dtype == np.bool_:
        return m.astype(np.uint8) * 255
    if m.dtype == np.uint16:
        return (m >> 8).astype(np.uint8)
    if m.dtype.kind == "f":  # coverage in [0, 1]
        return np.rint(np.clip(m, 0.0, 1.0) * 255).astype(np.uint8)
    if m.dtype != np.uint8:
        raise EngineError(f"unsupported mask type {m.dtype}")
    return m


def require_task(model: LoadedModel, *tasks: str) -> None:
    if model.task not in tasks:
        raise EngineError(f"model {model.id!r} is {a_an(model.task)} model, not one for {' / '.join(tasks)}")


def blend_into(dst: np.ndarray, src: np.ndarray, weights: np.ndarray) -> None:
    """dst = dst + (src - dst)·w/255 where w > 0, in row chunks; w == 0 leaves dst bit-identical."""
    top = float(np.iinfo(dst.dtype).max)
    for r in range(0, dst.shape[0], ROW_CHUNK):
        w = weights[r : r + ROW_CHUNK]
        sel = w > 0
        if not sel.any():
            continue
        a = w[sel].astype(np.float32)[:, None] / 255.0
        d = dst[r : r + ROW_CHUNK]
        old = d[sel].astype(np.float32)
        new = src[r : r + ROW_CHUNK][sel].astype(np.float32)
        d[sel] = np.clip(np.rint(old + (new - old) * a), 0, top).astype(dst.dtype)


def _place(model: LoadedModel, device: torch.device, dtype: torch.dtype) -> None:
    """Move the model's module (in place: its forward closures follow) to *device*/*dtype*."""
    from restorer_gui.inference import device as devices

    old = model.device
    model.module.to(device=device, dtype=dtype)
    model.device, model.dtype = device, dtype
    devices.empty_cache(old)


@contextmanager
def cpu_fallback(model: LoadedModel) -> Iterator[Callable[[], tuple[torch.device, torch.dtype]]]:
    """Yield a callback that moves *model* to the CPU (fp32) when its GPU runs out of memory even
    for the smallest tiles; the model goes back to its device afterwards (best effort)."""
    import torch

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


def run_tiled(
    model: LoadedModel,
    fn: TileFn,
    src: np.ndarray,
    *,
    out: np.ndarray | None = None,
    tile: int | None = None,
    overlap: int | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """*fn* (the model's forward on a float tile) over *src* (H×W×C) in overlapping tiles, into *out* when
    given. The model's rules: tile from free memory unless given; no tiling for models that must see the
    whole image, a wider overlap for those that discourage it. When even the smallest tile does not fit on
    its GPU, the model moves to the CPU for the rest of the run."""
    from restorer_gui.inference.tiling import TiledRunner, choose_tile

    if model.tiling == "internal":
        side = max(src.shape[:2])
    elif tile:
        side = int(tile)
    else:
        side = choose_tile(model.bytes_per_pixel(), model.device, multiple=model.size_multiple, min_size=model.min_size)
    if overlap is None:  # models that rely on wide context get more of it
        overlap = DEFAULT_OVERLAP if model.tiling == "supported" else 64
    with cpu_fallback(model) as to_cpu:
        runner = TiledRunner(fn, tile=side, overlap=overlap, scale=model.scale, multiple=model.size_multiple,
                             min_size=model.min_size, device=model.device, dtype=model.dtype, progress=progress,
                             cancel=cancel, on_memory_error=to_cpu)
        return runner.run(src, out=out)
