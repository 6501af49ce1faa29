"""Losses and the PatchGAN discriminator used by the trainers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

__all__ = [
    "PatchDiscriminator",
    "bce_dice_loss",
    "charbonnier_loss",
    "d_hinge_loss",
    "d_lsgan_loss",
    "feature_matching_loss",
    "g_hinge_loss",
    "g_lsgan_loss",
    "hole_mse_per_image",
    "l1_loss",
    "psnr",
]


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pred - target).abs().mean()


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Smooth L1: mean of sqrt((pred − target)² + eps²)."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def hole_mse_per_image(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared error inside the holes (mask 1 = hole), averaged over each image's hole pixels and
    channels, then over the images with a hole: every image counts the same whatever its hole size."""
    per = (((pred - target) ** 2) * mask).sum((1, 2, 3)) / (mask.sum((1, 2, 3)) * pred.shape[1])
    has = mask.flatten(1).sum(1) > 0
    return per[has].mean() if bool(has.any()) else (pred * 0).sum()


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0, pos_weight: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy on logits plus the soft Dice loss over the whole batch (targets in [0, 1])."""
    pw = torch.tensor(pos_weight, device=logits.device, dtype=logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pw)
    p = torch.sigmoid(logits)
    dice = 1.0 - (2.0 * (p * target).sum() + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + dice_weight * dice


def d_hinge_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_hinge_loss(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def d_lsgan_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (((real - 1.0) ** 2).mean() + (fake**2).mean())


def g_lsgan_loss(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


class PatchDiscriminator(nn.Module):
    """PatchGAN (70×70-style) with spectral norm: image (+ mask) → a map of real/fake scores."""

    def __init__(self, in_ch: int = 4, nc: int = 64, layers: int = 3) -> None:
        super().__init__()
        mods: list[nn.Module] = [spectral_norm(nn.Conv2d(in_ch, nc, 4, 2, 1)), nn.LeakyReLU(0.2, inplace=True)]
        ch = nc
        for i in range(1, layers + 1):
            nxt = min(nc * 2**i, nc * 8)
            stride = 2 if i < layers else 1
            mods += [spectral_norm(nn.Conv2d(ch, nxt, 4, stride, 1)), nn.LeakyReLU(0.2, inplace=True)]
            ch = nxt
        mods.append(spectral_norm(nn.Conv2d(ch, 1, 4, 1, 1)))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(scores, activations after each LeakyReLU) for the feature-matching loss."""
        feats = []
        for mod in self.net:
            x = mod(x)
            if isinstance(mod, nn.LeakyReLU):
                feats.append(x)
        return x, feats


def feature_matching_loss(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 between discriminator activations of fake and (detached) real images."""
    return torch.stack([(f - r.detach()).abs().mean() for f, r in zip(fake, real, strict=True)]).mean()


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR in dB for [0, 1] images (B×C×H×W); ``pred`` is clipped first."""
    mse = ((pred.clamp(0, 1) - target) ** 2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))
