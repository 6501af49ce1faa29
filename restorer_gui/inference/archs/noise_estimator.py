"""A small, fast network that reads a photo's noise level: image → a smooth map of the noise's std.

Grain in real scans is correlated and strongest in the mid-tones, so a classical estimator (a Laplacian
high-pass) reads it as image detail. This network learns the level from `core.scan_noise`'s degradations
instead: four strided 3×3 convolutions look at the full-resolution pixels and work at 1/8 of the size,
where a 3×3 average smooths the map; it is upsampled bilinearly to the image size. Its view is ~47 px.
Output: B×1×H×W, the noise's std on the 0–1 scale (25/255 means σ 25), one map for all channels.
About 0.8 k multiply-adds per pixel with the default widths.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from restorer_gui.inference.archs import register

__all__ = ["NoiseEstimator", "build_noise_estimator"]


class NoiseEstimator(nn.Module):
    """Strided convs (widths ``nc``) to 1/8 resolution, ``body`` 3×3 convs there, a 1×1 head with softplus;
    ``smooth`` 3×3 average passes over the 1/8 map."""

    task = "noise-estimate"
    size_multiple = 8
    supports_half = False  # softplus of small levels: keep fp32

    def __init__(self, nc: Sequence[int] = (16, 32, 32), body: int = 1, smooth: int = 1) -> None:
        super().__init__()
        if len(nc) != 3 or body < 0 or smooth < 0:
            raise ValueError("nc needs 3 widths; body and smooth must be >= 0")
        self.nc, self.body_layers, self.smooth = [int(c) for c in nc], int(body), int(smooth)
        c0, c1, c2 = self.nc
        self.head = nn.Conv2d(3, c0, 3, 2, 1)
        self.down1 = nn.Conv2d(c0, c1, 3, 2, 1)
        self.down2 = nn.Conv2d(c1, c2, 3, 2, 1)
        self.body = nn.ModuleList(nn.Conv2d(c2, c2, 3, 1, 1) for _ in range(self.body_layers))
        self.tail = nn.Conv2d(c2, 1, 1)

    def forward_low(self, x: torch.Tensor) -> torch.Tensor:
        """The map at 1/8 of the size (H, W multiples of 8): B×1×H/8×W/8, std on the 0–1 scale."""
        f = F.relu(self.head(x - 0.5))
        f = F.relu(self.down1(f))
        f = F.relu(self.down2(f))
        for conv in self.body:
            f = F.relu(conv(f))
        level = F.softplus(self.tail(f)) * 0.1
        for _ in range(self.smooth):
            level = F.avg_pool2d(F.pad(level, (1, 1, 1, 1), mode="replicate"), 3, 1)
        return level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W in [0, 1] (H, W multiples of 8) → B×1×H×W noise std on the 0–1 scale."""
        low = self.forward_low(x.contiguous(memory_format=torch.channels_last))
        return F.interpolate(low, size=x.shape[-2:], mode="bilinear", align_corners=False).contiguous()


@register("noise_estimator")
def build_noise_estimator(nc: Sequence[int] = (16, 32, 32), body: int = 1, smooth: int = 1) -> NoiseEstimator:
    """Builder used by model cards: hparams ``nc`` (3 widths), ``body`` (3×3 convs at 1/8) and ``smooth``."""
    return NoiseEstimator(nc=nc, body=body, smooth=smooth)
