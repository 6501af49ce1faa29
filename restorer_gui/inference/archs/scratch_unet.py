"""Small segmentation U-Net for scratches, dust and creases: image → damage logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restorer_gui.inference.archs import register

__all__ = ["ScratchUNet", "build_scratch_unet"]


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 1, 1),
        nn.LeakyReLU(0.1, inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1),
        nn.LeakyReLU(0.1, inplace=True),
    )


class ScratchUNet(nn.Module):
    """U-Net with len(nc) scales (max-pool down, bilinear up, concatenated skips); 1-channel logits."""

    task = "detect-scratches"
    supports_half = True

    def __init__(self, nc: tuple[int, ...] | list[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        self.nc = list(nc)
        self.size_multiple = 2 ** (len(nc) - 1)
        self.enc = nn.ModuleList(_double_conv(a, b) for a, b in zip([3, *nc[:-1]], nc, strict=True))
        self.dec = nn.ModuleList(_double_conv(nc[i] + nc[i + 1], nc[i]) for i in range(len(nc) - 1))
        self.head = nn.Conv2d(nc[0], 1, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` B×3×H×W in [0, 1] (H, W multiples of ``size_multiple``) → logits B×1×H×W."""
        skips = []
        x = image
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for i in range(len(self.dec) - 1, -1, -1):
            x = F.interpolate(x, size=skips[i].shape[-2:], mode="bilinear", align_corners=False)
            x = self.dec[i](torch.cat([x, skips[i]], dim=1))
        return self.head(x)


@register("scratch_unet")
def build_scratch_unet(nc: tuple[int, ...] | list[int] = (16, 32, 64, 128)) -> ScratchUNet:
    """Builder used by model cards: hparam ``nc`` (width per scale)."""
    return ScratchUNet(nc=nc)
