"""Grain and fine texture for filled damage, taken from the photo around it (numpy only).

A network fills damage with structure but little grain: on a grainy scan the fill shows as a smooth
smear at 100 %. `transfer_grain` keeps the fill's low frequencies and gives it the high frequencies
(grain, paper, fine texture) of nearby undamaged pixels: each 16-px block of the hole copies the
residual (image − its blur) from a nearby offset whose pixels are all undamaged and clear of the
damage's rim, so the copied grain is coherent and of the local size and strength. Vectorised over
candidate offsets, not over pixels. Pixels outside the mask are returned bit-identical.
"""

from __future__ import annotations

import numpy as np

from restorer_gui.core import mask_ops
from restorer_gui.core.degradations import gaussian_blur

__all__ = ["transfer_grain"]

_BLOCK = 16


def transfer_grain(
    filled: np.ndarray, source: np.ndarray, mask: np.ndarray, *, sigma: float = 1.2, seed: int = 0,
    candidates: int = 24, reach: int = 48, margin: int = 3,
) -> np.ndarray:
    """``filled`` with the grain of ``source``'s undamaged neighbourhood laid into the damage.

    ``filled`` and ``source`` are the same H×W×C uint8/uint16 image after and before filling; ``mask``
    is H×W uint8 (255 = damage; its value blends the grain in). ``sigma`` (px) splits structure from grain.
    Donor pixels lie within ``reach`` px and at least ``margin`` px from any damage. Deterministic for
    ``seed``. Where no donor is found the fill stays as it was.
    """
    if filled.shape != source.shape or filled.shape[:2] != mask.shape:
        raise ValueError("filled, source and mask must have the same size")
    hole = mask > 0
    if not hole.any():
        return filled.copy()
    top = float(np.iinfo(filled.dtype).max)
    h, w = hole.shape
    ys, xs = np.nonzero(hole)
    y0, y1 = max(int(ys.min()) - reach - margin, 0), min(int(ys.max()) + reach + margin + 1, h)
    x0, x1 = max(int(xs.min()) - reach - margin, 0), min(int(xs.max()) + reach + margin + 1, w)
    win = np.s_[y0:y1, x0:x1]
    src = source[win].astype(np.float32) / top
    fil = filled[win].astype(np.float32) / top
    src = src if src.ndim == 3 else src[..., None]
    fil = fil if fil.ndim == 3 else fil[..., None]
    hw = hole[win]
    residual = src - gaussian_blur(src, sigma)
    clear = mask_ops.grow(hw.astype(np.uint8) * 255, margin) == 0
    bh, bw = hw.shape
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi, candidates)
    radii = np.sqrt(rng.uniform((margin + 4) ** 2, reach**2, candidates))
    offsets = np.stack([np.rint(radii * np.sin(angles)), np.rint(radii * np.cos(angles))], 1).astype(int)
    # per block, the candidates are tried in a block-specific order: neighbouring blocks copy from
    # different places, so no texture repeats along a long scratch
    nby, nbx = -(-bh // _BLOCK), -(-bw // _BLOCK)
    order = np.argsort(rng.random((nby, nbx, candidates)), axis=2)
    yy, xx = np.nonzero(hw)
    block_order = order[yy // _BLOCK, xx // _BLOCK]  # n × candidates
    donor = np.full((len(yy), 2), -1, np.int64)
    found = np.zeros(len(yy), bool)
    for rank in range(candidates):
        off = offsets[block_order[:, rank]]
        dy, dx = yy + off[:, 0], xx + off[:, 1]
        ok = ~found & (dy >= 0) & (dy < bh) & (dx >= 0) & (dx < bw)
        ok[ok] = clear[dy[ok], dx[ok]]
        donor[ok] = np.stack([dy[ok], dx[ok]], 1)
        found |= ok
        if found.all():
            break
    out = fil.copy()
    sel = found
    py, px = yy[sel], xx[sel]
    structure = gaussian_blur(fil, sigma)[py, px]
    weight = (mask[win][py, px].astype(np.float32) / 255.0)[:, None]
    grained = structure + residual[donor[sel, 0], donor[sel, 1]]
    out[py, px] = fil[py, px] + weight * (grained - fil[py, px])
    result = filled.copy()
    region = np.clip(np.rint(out * top), 0, top).astype(filled.dtype)
    region = region if filled.ndim == 3 else region[..., 0]
    result[win][hw] = region[hw]
    return result
