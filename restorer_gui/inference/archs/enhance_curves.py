"""Fading and colour: a small CNN reads a thumbnail of the photo and predicts how to correct it.

Predicted from a ``thumb``×``thumb`` thumbnail (area-downscaled, aspect squashed), applied at full
resolution in row strips, so it works at any size and costs a few passes over the pixels:

1. a low-resolution grid (``grid``×``grid``) of per-channel gain and offset, bilinearly upsampled
   (separable interpolation matrices, per strip): uneven fading, vignettes, a faded edge;
2. per-channel monotone piecewise-linear tone curves with ``knots`` knots: lifted blacks, dulled whites,
   each dye's own fading;
3. a global 3×3 colour matrix and bias: saturation loss and casts that mix channels.

Every head starts at zero, which is the identity: an untrained net returns its input.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from restorer_gui.inference.archs import register

__all__ = ["EnhanceCurves", "EnhanceParams", "build_enhance_curves", "interp_matrix"]

EnhanceParams = dict[str, torch.Tensor]


def interp_matrix(n: int, g: int, start: int = 0, stop: int | None = None, device=None) -> torch.Tensor:
    """Rows ``start:stop`` of the n×g matrix that bilinearly upsamples g samples to n (align_corners False,
    edges clamped): ``W @ grid`` along one axis is F.interpolate(..., mode="bilinear") along it."""
    stop = n if stop is None else stop
    pos = (torch.arange(start, stop, device=device, dtype=torch.float32) + 0.5) * (g / n) - 0.5
    pos = pos.clamp(0, g - 1)
    i0 = pos.floor().long().clamp(max=g - 1)
    i1 = (i0 + 1).clamp(max=g - 1)
    frac = (pos - i0.float()).unsqueeze(1)
    w = torch.zeros(stop - start, g, device=device)
    w.scatter_add_(1, i0.unsqueeze(1), 1 - frac)
    w.scatter_add_(1, i1.unsqueeze(1), frac)
    return w


class EnhanceCurves(nn.Module):
    """Thumbnail CNN → (local gain/offset grid, tone curves, colour matrix), applied at full resolution."""

    task = "enhance"
    supports_half = False  # the curves index by value: keep them in fp32
    size_multiple = 1

    def __init__(self, nc: tuple[int, ...] | list[int] = (16, 32, 64, 64), knots: int = 16, grid: int = 8,
                 thumb: int = 128, hidden: int = 128) -> None:
        super().__init__()
        if knots < 2 or grid < 1 or thumb < 16:
            raise ValueError("knots ≥ 2, grid ≥ 1 and thumb ≥ 16 are needed")
        self.nc, self.knots, self.grid, self.thumb = list(nc), int(knots), int(grid), int(thumb)
        layers: list[nn.Module] = []
        for a, b in zip([5, *self.nc[:-1]], self.nc, strict=True):  # RGB + (y, x) coordinates
            layers += [nn.Conv2d(a, b, 3, 2, 1), nn.LeakyReLU(0.1, inplace=True),
                       nn.Conv2d(b, b, 3, 1, 1), nn.LeakyReLU(0.1, inplace=True)]
        self.encoder = nn.Sequential(*layers)
        c = self.nc[-1]
        self.global_mlp = nn.Sequential(nn.Linear(2 * c, hidden), nn.LeakyReLU(0.1, inplace=True))
        self.curve_head = nn.Linear(hidden, 3 * self.knots)  # per channel: the curve's start and knots-1 slopes
        self.color_head = nn.Linear(hidden, 12)  # 3×3 matrix (added to identity) and bias
        self.local = nn.Sequential(nn.Conv2d(c + hidden, c, 3, 1, 1), nn.LeakyReLU(0.1, inplace=True))
        self.local_head = nn.Conv2d(c, 6, 1)  # per channel log-gain and offset
        for head in (self.curve_head, self.color_head, self.local_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    # --- prediction ---------------------------------------------------------------------------
    def thumbnail(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` B×3×H×W → B×3×thumb×thumb (area average when larger, bilinear when smaller)."""
        h, w = x.shape[-2:]
        t = self.thumb
        if (h, w) == (t, t):
            return x
        if h >= t and w >= t:
            return F.adaptive_avg_pool2d(x, (t, t))
        return F.interpolate(x, size=(t, t), mode="bilinear", align_corners=False)

    def predict(self, thumb: torch.Tensor) -> EnhanceParams:
        b, _, h, w = thumb.shape
        yy = torch.linspace(-1, 1, h, device=thumb.device, dtype=thumb.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        xx = torch.linspace(-1, 1, w, device=thumb.device, dtype=thumb.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        f = self.encoder(torch.cat([thumb, yy, xx], 1))
        pooled = torch.cat([f.mean((2, 3)), f.std((2, 3))], 1)
        g = self.global_mlp(pooled)
        k = self.knots
        raw = self.curve_head(g).view(b, 3, k)
        slopes = torch.exp(raw[:, :, 1:].clamp(-4.0, 3.0)) / (k - 1)
        ys = torch.cat([raw[:, :, :1], raw[:, :, :1] + slopes.cumsum(2)], 2)  # monotone, identity at zero
        color = self.color_head(g)
        matrix = torch.eye(3, device=g.device, dtype=g.dtype) + color[:, :9].view(b, 3, 3)
        loc = F.adaptive_avg_pool2d(f, self.grid)
        loc = self.local(torch.cat([loc, g[:, :, None, None].expand(-1, -1, self.grid, self.grid)], 1))
        loc = self.local_head(loc)
        return {"curves": ys, "matrix": matrix, "bias": color[:, 9:], "gain": torch.exp(loc[:, :3].clamp(-2.0, 2.0)),
                "offset": loc[:, 3:]}

    # --- application --------------------------------------------------------------------------
    def apply(self, x: torch.Tensor, p: EnhanceParams, box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
        """Correct ``x`` (B×3×h×w), which is the region ``box`` = (top, left, H, W) of a H×W photo (default:
        the whole of it): the local grid is placed by the photo's coordinates, so a region comes out exactly
        as it would inside the whole."""
        b, _, h, w = x.shape
        top, left, full_h, full_w = box or (0, 0, h, w)
        wy = interp_matrix(full_h, self.grid, top, top + h, x.device).to(x.dtype)
        wx = interp_matrix(full_w, self.grid, left, left + w, x.device).to(x.dtype)
        go = wy @ torch.cat([p["gain"], p["offset"]], 1) @ wx.T  # B×6×h×w: gain, offset
        v = torch.addcmul(go[:, 3:], x, go[:, :3]).clamp_(0.0, 1.0)
        del go
        v = self._curves(v, p["curves"]) if torch.is_grad_enabled() else self._curves_lut(v, p["curves"])
        out = (p["matrix"] @ v.view(b, 3, h * w)).view(b, 3, h, w)
        return out.add_(p["bias"][:, :, None, None]).clamp_(0.0, 1.0)

    def _curves(self, v: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        b, c, h, w = v.shape
        k = self.knots
        t = (v * (k - 1)).view(b, c, h * w)
        i = t.detach().floor().clamp_(0, k - 2)
        frac = t - i
        i = i.long()
        y0 = torch.gather(ys, 2, i)
        y1 = torch.gather(ys, 2, i + 1)
        return (y0 + (y1 - y0) * frac).view(b, c, h, w)

    LUT_SIZE = 16384

    def _curves_lut(self, v: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        """The curves without gradients, through a dense table per channel (one lookup per value; within
        about 1e-4 of `_curves`: a few 16-bit levels, 0.03 of an 8-bit one)."""
        b, c, h, w = v.shape
        n = self.LUT_SIZE
        grid = torch.linspace(0, 1, n, device=v.device, dtype=v.dtype).expand(b, c, 1, n)
        lut = self._curves(grid, ys).reshape(-1)  # (b·c·n,)
        idx = v.mul(n - 1).add_(0.5).long().view(b * c, h * w)
        idx += (torch.arange(b * c, device=v.device) * n)[:, None]
        return torch.take(lut, idx).view(b, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` B×3×H×W in [0, 1], any size → the corrected photo."""
        return self.apply(x, self.predict(self.thumbnail(x)))

    def enhance(self, x: torch.Tensor, rows: int = 256, box: tuple[int, int, int, int] | None = None,
                params: EnhanceParams | None = None,
                each: Callable[[int, int, torch.Tensor], None] | None = None) -> None:
        """Apply in strips of ``rows`` rows (bounded memory on large photos): ``each(y0, y1, strip)`` gets
        every corrected strip of ``x`` (the region ``box`` of the photo; ``params`` predicted from the whole
        photo, default from ``x``)."""
        p = params if params is not None else self.predict(self.thumbnail(x))
        h = x.shape[-2]
        top, left, full_h, full_w = box or (0, 0, h, x.shape[-1])
        for y0 in range(0, h, rows):
            y1 = min(h, y0 + rows)
            each(y0, y1, self.apply(x[..., y0:y1, :], p, (top + y0, left, full_h, full_w)))


@register("enhance_curves")
def build_enhance_curves(nc: tuple[int, ...] | list[int] = (16, 32, 64, 64), knots: int = 16, grid: int = 8,
                         thumb: int = 128, hidden: int = 128) -> EnhanceCurves:
    """Builder used by model cards."""
    return EnhanceCurves(nc=nc, knots=knots, grid=grid, thumb=thumb, hidden=hidden)
