"""Run an image-to-image function over an image of any size in overlapping, blended tiles.

Tiles overlap by ``overlap`` pixels; inside each overlap band the two tiles' weights ramp
linearly over the middle half (the outer quarters get weight 0), so seams vanish and the
result equals a whole-image run wherever the model's receptive-field radius is at most
``overlap / 4``.  Output is accumulated in float32 one strip of tile rows at a time and
converted to the output dtype as soon as no later tile touches it, so memory grows with
the image width, not with its area.  A tile that runs out of memory is split into tiles of
half the size (and later tiles use that size); when even the smallest tile does not fit on a
GPU, ``on_memory_error`` (if given) moves the model to the CPU and the remaining tiles run
there.  The cancel token is checked before every tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from restorer_gui.inference import device as devices
from restorer_gui.inference.jobs import CancelToken, Progress, ProgressFn, check_cancel

TileFn = Callable[[torch.Tensor], torch.Tensor]
MemoryFallback = Callable[[], tuple[torch.device, torch.dtype]]
MIN_TILE = 32


class TileMemoryError(RuntimeError):
    """Even the smallest tile did not fit in memory."""


def positions(length: int, tile: int, overlap: int, multiple: int = 1, min_size: int = 0) -> list[tuple[int, int]]:
    """Start/end of tiles covering [0, length): as few tiles of at most *tile* as the overlap allows,
    all of one size, spread evenly, overlaps ≥ overlap.

    The size is the smallest (aligned to *multiple*, at least *min_size*) that still covers the axis
    with that many tiles: a 1000-pixel side with an 880-pixel limit becomes two ~520-pixel tiles, not
    two 880-pixel ones that repeat three quarters of the work.
    """
    if length <= tile:
        return [(0, length)]
    stride = max(1, tile - overlap - (multiple - 1))
    count = math.ceil((length - tile) / stride) + 1
    # equal spacing floors each start to the multiple, so allow `multiple` of slack per overlap
    size = math.ceil((length + (count - 1) * (overlap + multiple)) / count)
    size = min(tile, -(-max(size, min_size) // multiple) * multiple)
    starts = [
        min(length - size, (round(i * (length - size) / (count - 1)) // multiple) * multiple) for i in range(count)
    ]
    starts[-1] = length - size
    return [(s, s + size) for s in sorted(set(starts))]


def ramp_weights(spans: list[tuple[int, int]], index: int, scale: int = 1) -> np.ndarray:
    """1-D blending weights of tile *index* (output pixels): 0 in the outer quarter of each
    overlap with a neighbour, a linear ramp over its middle half, 1 elsewhere."""
    start, end = spans[index]
    n = (end - start) * scale
    d = np.arange(n, dtype=np.float32) + 0.5
    w = np.ones(n, dtype=np.float32)
    if index > 0:
        band = (spans[index - 1][1] - start) * scale
        if band > 0:
            w = np.minimum(w, np.clip((d - band / 4) / (band / 2), 0.0, 1.0))
    if index < len(spans) - 1:
        band = (end - spans[index + 1][0]) * scale
        if band > 0:
            w = np.minimum(w, np.clip((n - d - band / 4) / (band / 2), 0.0, 1.0))
    return w


def _max_value(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


class TiledRunner:
    """Apply *fn* (B×C×h×w float in [0, 1] → B×C'×h·s×w·s) to an H×W×C array tile by tile.

    *tile* and *overlap* are in input pixels; *multiple* aligns tile positions and sizes to
    the model's size multiple (the function itself pads to its rules).  ``run`` writes into
    *out* (H·s×W·s×C', any dtype; integer outputs are scaled to the dtype's full range, floats
    stay in [0, 1]).
    """

    def __init__(
        self,
        fn: TileFn,
        *,
        tile: int,
        overlap: int = 32,
        scale: int = 1,
        multiple: int = 1,
        min_size: int = 0,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        on_memory_error: MemoryFallback | None = None,
    ) -> None:
        self.fn = fn
        self.on_memory_error = on_memory_error  # moves the model elsewhere, returns its device and dtype
        self.multiple = max(1, int(multiple))
        self.min_size = max(0, int(min_size))
        self.floor = max(MIN_TILE, self.min_size, self.multiple)
        self.tile = self._aligned(max(int(tile), self.floor))
        self.overlap = max(0, min(int(overlap), self.tile // 2))
        self.scale = max(1, int(scale))
        self.device = torch.device(device)
        self.dtype = dtype
        self.progress = Progress.wrap(progress)
        self.cancel = cancel
        self.tile_limit = self.tile  # lowered after an out-of-memory error
        self.oom_retries = 0

    def _aligned(self, size: int) -> int:
        return max(self.multiple, (size // self.multiple) * self.multiple)

    # ------------------------------------------------------------------ public

    def run(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Process *image* (H×W×C uint8/uint16/float32) and return *out* filled.

        Without *out*, an array of the input's dtype is made with as many channels as the
        function returns.
        """
        h, w, _ = image.shape
        s = self.scale
        if out is not None and out.shape[:2] != (h * s, w * s):
            raise ValueError(f"output is {out.shape[:2]}, expected {(h * s, w * s)}")
        rows = positions(h, self.tile, self.overlap, self.multiple, self.floor)
        cols = positions(w, self.tile, self.overlap, self.multiple, self.floor)
        col_weights = [ramp_weights(cols, j, s) for j in range(len(cols))]
        total = len(rows) * len(cols)
        in_max = _max_value(image.dtype)
        acc = np.zeros((0, w * s, 0), np.float32)
        wsum = np.zeros((0, w * s), np.float32)
        acc_top = 0
        done = 0
        self.progress(0.0, f"{total} tile{'s' if total > 1 else ''}")
        for i, (y0, y1) in enumerate(rows):
            top, bottom = y0 * s, y1 * s
            if out is not None:
                self._finalise(out, acc[: top - acc_top], wsum[: top - acc_top], acc_top)
            acc, wsum = self._extend(acc[top - acc_top :], wsum[top - acc_top :], bottom - top)
            acc_top = top
            row_w = ramp_weights(rows, i, s)
            for j, (x0, x1) in enumerate(cols):
                check_cancel(self.cancel)
                result = self._tile_or_fall_back(image[y0:y1, x0:x1], in_max)
                if out is None:
                    out = np.empty((h * s, w * s, result.shape[2]), dtype=image.dtype)
                if acc.shape[2] != result.shape[2]:
                    acc = np.zeros((*acc.shape[:2], result.shape[2]), np.float32)
                weight = row_w[:, None] * col_weights[j][None, :]
                acc[: bottom - top, x0 * s : x1 * s] += result * weight[..., None]
                wsum[: bottom - top, x0 * s : x1 * s] += weight
                done += 1
                self.progress(done / total, f"tile {done}/{total}")
        assert out is not None
        self._finalise(out, acc, wsum, acc_top)
        return out

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _extend(acc: np.ndarray, wsum: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Accumulators covering max(kept, rows) rows, starting with the kept (unfinished) rows."""
        n = max(rows, acc.shape[0])
        new_acc = np.zeros((n, *acc.shape[1:]), np.float32)
        new_w = np.zeros((n, wsum.shape[1]), np.float32)
        new_acc[: acc.shape[0]] = acc
        new_w[: wsum.shape[0]] = wsum
        return new_acc, new_w

    @staticmethod
    def _finalise(out: np.ndarray, acc: np.ndarray, wsum: np.ndarray, top: int) -> None:
        """Normalise finished rows by their weight (in place: the rows are dropped after) and
        store them in *out*'s dtype."""
        if not acc.shape[0]:
            return
        np.divide(acc, np.maximum(wsum, 1e-12)[..., None], out=acc)
        if np.issubdtype(out.dtype, np.integer):
            np.clip(acc, 0.0, 1.0, out=acc)
            acc *= np.float32(_max_value(out.dtype))
            np.rint(acc, out=acc)
        out[top : top + acc.shape[0]] = acc

    def _to_tensor(self, crop: np.ndarray, in_max: float) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32) * np.float32(1.0 / in_max))
        return x.permute(2, 0, 1).unsqueeze(0).to(self.device, self.dtype)

    def _tile_or_fall_back(self, crop: np.ndarray, in_max: float) -> np.ndarray:
        """One tile; after a TileMemoryError on a GPU, move to the CPU and run the tile again."""
        try:
            return self._tile(crop, in_max)
        except TileMemoryError:
            if self.on_memory_error is None or self.device.type == "cpu":
                raise
        self.device, self.dtype = self.on_memory_error()
        self.on_memory_error = None
        self.tile_limit = self.tile
        return self._tile(crop, in_max)

    def _tile(self, crop: np.ndarray, in_max: float) -> np.ndarray:
        """Run one tile; on out-of-memory, halve the tile size and process the crop in sub-tiles."""
        h, w = crop.shape[:2]
        if max(h, w) > self.tile_limit:
            return self._split(crop, in_max)
        try:
            y = self.fn(self._to_tensor(crop, in_max))
            return y[0].float().permute(1, 2, 0).cpu().numpy()
        except Exception as exc:
            if not devices.is_out_of_memory(exc):
                raise
        devices.empty_cache(self.device)
        smaller = self._aligned(max(h, w) // 2)
        if smaller < self.floor:
            raise TileMemoryError(f"not enough memory even for {max(h, w)}-pixel tiles")
        self.tile_limit = min(self.tile_limit, smaller)
        self.oom_retries += 1
        return self._split(crop, in_max)

    def _split(self, crop: np.ndarray, in_max: float) -> np.ndarray:
        sub = TiledRunner(
            self.fn,
            tile=self.tile_limit,
            overlap=min(self.overlap, self.tile_limit // 4),
            scale=self.scale,
            multiple=self.multiple,
            min_size=self.min_size,
            device=self.device,
            dtype=self.dtype,
            cancel=self.cancel,
        )
        out = sub.run(np.ascontiguousarray(crop, dtype=np.float32) * np.float32(1.0 / in_max))
        self.tile_limit = min(self.tile_limit, sub.tile_limit)
        self.oom_retries += sub.oom_retries
        return out


def choose_tile(
    bytes_per_pixel: int,
    device: torch.device,
    *,
    multiple: int = 1,
    min_size: int = 0,
    free_bytes: int | None = None,
) -> int:
    """Tile side from free memory: a share of what is free, divided by the model's cost per pixel."""
    free = devices.free_memory(device) if free_bytes is None else free_bytes
    if device.type == "cpu":
        budget, cap = min(free * 0.25, 1.5 * 2**30), 1024
    else:
        budget, cap = free * 0.6, 2048
    side = int(math.sqrt(max(budget, 0) / max(bytes_per_pixel, 1)))
    side = max(min(side, cap), 64, min_size)
    return max(multiple, (side // multiple) * multiple)
