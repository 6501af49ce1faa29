"""Noise-level-conditioned U-Net denoiser with DRUNet's exact module and state-dict key layout.

The network sees RGB plus a constant noise-level map (4 channels) and predicts the clean image directly,
like DRUNet, so spandrel's DRUNet loader recognises and runs the weights (it needs ``nb >= 2``).
Blind mode (``sigma=None``) estimates the level with a robust classical estimator (see `estimate_sigma`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from restorer_gui.inference.archs import register

__all__ = ["DenoiseUNet", "ResBlock", "estimate_sigma", "build_denoise_unet"]


class ResBlock(nn.Module):
    """x + conv(relu(conv(x))), bias-free 3×3 convs (keys ``res.0``, ``res.2``)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.res = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res(x)


def _stage(*mods: nn.Module) -> nn.Module:
    """nn.Sequential, except a single module is returned bare (matches KAIR's ``sequential`` keys)."""
    return mods[0] if len(mods) == 1 else nn.Sequential(*mods)


_LAPLACE = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def estimate_sigma(x: torch.Tensor) -> torch.Tensor:
    """Per-image noise std (0–1 scale) of B×C×H×W images; robust, needs no training.

    A Laplacian-of-Laplacian high-pass (Immerkær's kernel, norm 6) suppresses smooth image content;
    the median absolute response over all channels, divided by 0.6745·6, estimates σ (the median keeps
    edges and texture from inflating it). Accurate for white Gaussian-like noise above ~5/255.
    """
    b, c, h, w = x.shape
    if h < 3 or w < 3:
        return x.new_zeros(b)
    k = _LAPLACE.to(x).view(1, 1, 3, 3)
    r = F.conv2d(x.reshape(b * c, 1, h, w).float(), k.float())
    med = r.abs().reshape(b, -1).median(dim=1).values
    return (med / (0.6745 * 6.0)).to(x.dtype)


class DenoiseUNet(nn.Module):
    """DRUNet-layout U-Net: 4 scales (widths ``nc``), ``nb`` residual blocks per scale, strided-conv
    down, transposed-conv up, additive skips, bias-free convs; input RGB + σ map, output RGB."""

    task = "denoise"
    size_multiple = 8
    supports_half = False

    def __init__(self, nc: Sequence[int] = (16, 32, 64, 128), nb: int = 2, in_nc: int = 4, out_nc: int = 3) -> None:
        super().__init__()
        if len(nc) != 4 or nb < 1:
            raise ValueError("nc needs 4 widths and nb >= 1")
        self.nc, self.nb, self.in_nc, self.out_nc = list(nc), int(nb), int(in_nc), int(out_nc)
        c0, c1, c2, c3 = self.nc

        def blocks(ch: int) -> list[nn.Module]:
            return [ResBlock(ch) for _ in range(nb)]

        def down(a: int, b: int) -> nn.Module:
            return nn.Conv2d(a, b, 2, 2, 0, bias=False)

        def up(a: int, b: int) -> nn.Module:
            return nn.ConvTranspose2d(a, b, 2, 2, 0, bias=False)

        self.m_head = nn.Conv2d(in_nc, c0, 3, 1, 1, bias=False)
        self.m_down1 = _stage(*blocks(c0), down(c0, c1))
        self.m_down2 = _stage(*blocks(c1), down(c1, c2))
        self.m_down3 = _stage(*blocks(c2), down(c2, c3))
        self.m_body = _stage(*blocks(c3))
        self.m_up3 = _stage(up(c3, c2), *blocks(c2))
        self.m_up2 = _stage(up(c2, c1), *blocks(c1))
        self.m_up1 = _stage(up(c1, c0), *blocks(c0))
        self.m_tail = nn.Conv2d(c0, out_nc, 3, 1, 1, bias=False)

    def net(self, x0: torch.Tensor) -> torch.Tensor:
        """The raw network on a 4-channel input (image + σ map), exactly as DRUNet computes it."""
        x1 = self.m_head(x0)
        x2 = self.m_down1(x1)
        x3 = self.m_down2(x2)
        x4 = self.m_down3(x3)
        x = self.m_body(x4)
        x = self.m_up3(x + x4)
        x = self.m_up2(x + x3)
        x = self.m_up1(x + x2)
        return self.m_tail(x + x1)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float | None = None) -> torch.Tensor:
        """Denoise B×3×H×W (H, W multiples of 8); ``sigma``: B-tensor or float on the 0–1 scale, None = blind."""
        b, _, h, w = x.shape
        if sigma is None:
            sigma = estimate_sigma(x)
        s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        level = s.expand(b, 1, h, w)
        # channels-last runs about twice as fast on CPUs (oneDNN) and is no slower on GPUs
        x0 = torch.cat([x, level], dim=1).contiguous(memory_format=torch.channels_last)
        return self.net(x0).contiguous()


@register("denoise_unet")
def build_denoise_unet(
    nc: Sequence[int] = (16, 32, 64, 128), nb: int = 2, in_nc: int = 4, out_nc: int = 3
) -> DenoiseUNet:
    """Builder used by model cards: hparams ``nc`` (4 widths) and ``nb`` (blocks per scale)."""
    return DenoiseUNet(nc=nc, nb=nb, in_nc=in_nc, out_nc=out_nc)
