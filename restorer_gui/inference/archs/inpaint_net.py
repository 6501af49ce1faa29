"""Inpainting encoder–decoder: gated convolutions around a bottleneck of Fourier (FFC-style) residual
blocks, whose spectral branch sees the whole image (meant to give wide holes structure from far context).

The network does not start from a black hole. With ``fill="smooth"`` (the trained design) it sees two
smooth continuations of the surroundings into the hole, computed without weights: the membrane
(harmonic, least |∇x|²) and the thin-plate (biharmonic, least |Δx|²) fill, and with ``residual=True``
it predicts a correction to the membrane fill. Measured on all of Kodak24 with the evaluation's masks
(thin / medium / wide hole PSNR): membrane 24.59 / 21.59 / 18.07 dB, thin plate 24.76 / 20.63 / 17.05,
OpenCV Telea 23.95 / 20.73 / 17.04. The thin plate wins on thin scratches and overshoots in wide
holes. Trained with a pixel-pooled hole-weighted L1 for 6,000 CPU steps the network learned to leave
the membrane fill unchanged (same figures to 0.01 dB); with a per-crop hole MSE (see
``training.trainer.InpaintTask``), 4,000 CPU steps gave the shipped ``inpaint-smooth-s``:
25.07 / 21.68 / 18.08, so +0.48 / +0.09 / +0.01 dB over the membrane fill.

``fill="push_pull"`` is the first design (a push–pull pyramid fill, 1.2–1.9 dB below the membrane
fill on 4 Kodak24 images): its residual form did not move off the fill in 2,358 CPU steps, and
its direct form (``residual=False``) took 5,000 steps to get back to the fill's own quality. The
residual output layer starts small rather than at zero (at zero almost no gradient reaches the
features), which alone did not make the network learn more than the fill."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restorer_gui.inference.archs import checkpoint, register

__all__ = [
    "GatedConv",
    "FourierUnit",
    "FFCResBlock",
    "InpaintNet",
    "build_inpaint_net",
    "push_pull_fill",
    "smooth_fill",
]

FILLS = ("smooth", "push_pull")


def push_pull_fill(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Fill ``hole`` (B×1×H×W, 1 = missing) smoothly from the known pixels: average known colour down a
    2× pyramid until nothing is missing, then blend each finer level with the coarser fill where that
    level lacks data (push–pull). Known pixels come back unchanged; an all-hole image becomes grey."""
    valid = 1.0 - hole
    levels = [(image * valid, valid)]
    while min(levels[-1][1].shape[-2:]) > 1 and bool((levels[-1][1] <= 1e-6).any()):
        x, w = levels[-1]
        levels.append((F.avg_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(w, 2, ceil_mode=True)))
    x, w = levels[-1]
    fill = torch.where(w > 1e-6, x / w.clamp_min(1e-6), torch.full_like(x, 0.5))
    for x, w in reversed(levels[:-1]):
        up = F.interpolate(fill, size=x.shape[-2:], mode="bilinear", align_corners=False)
        fill = x + (1.0 - w) * up  # x is colour × coverage: full coverage keeps the level's own colour
    return fill


def _neg_laplacian(x: torch.Tensor) -> torch.Tensor:
    """DᵀD x for forward differences D with no flux across the image border (symmetric, ≥ 0)."""
    gx = x[..., :, 1:] - x[..., :, :-1]
    gy = x[..., 1:, :] - x[..., :-1, :]
    return F.pad(gx, (1, 0)) - F.pad(gx, (0, 1)) + F.pad(gy, (0, 0, 1, 0)) - F.pad(gy, (0, 0, 0, 1))


def smooth_fill(image: torch.Tensor, hole: torch.Tensor, order: int = 1, iters: int = 100) -> torch.Tensor:
    """The smoothest continuation of the known pixels into ``hole`` (B×1×H×W, 1 = missing): least
    Σ|∇x|² over the image (``order=1``, membrane / harmonic) or least Σ|Δx|² (``order=2``, thin plate /
    biharmonic), known pixels fixed, borders free. Conjugate gradients on the hole pixels, started from
    the push–pull fill, ``iters`` steps of a few shifted differences each (both fills: about 40 % of the
    model's CPU time).
    Works in float32 whatever the caller's autocast; an all-hole image stays grey."""
    with torch.autocast(image.device.type, enabled=False):
        m = (hole > 0.5).to(torch.float32)
        x0 = push_pull_fill(image.float() * (1.0 - m), m)

        def op(x: torch.Tensor) -> torch.Tensor:
            y = _neg_laplacian(x)
            return m * (_neg_laplacian(y) if order == 2 else y)

        dims = (-2, -1)  # every image and channel is its own system
        u = torch.zeros_like(x0)
        r = -op(x0)
        p = r.clone()
        rs = (r * r).sum(dims, keepdim=True)
        for _ in range(iters):
            checkpoint()
            ap = op(p)
            alpha = rs / (p * ap).sum(dims, keepdim=True).clamp_min(1e-20)
            u = u + alpha * p
            r = r - alpha * ap
            rs_new = (r * r).sum(dims, keepdim=True)
            p = r + rs_new / rs.clamp_min(1e-30) * p
            rs = rs_new
        return x0 + m * u


class GatedConv(nn.Module):
    """Gated convolution: act(conv_f(x)) · sigmoid(conv_g(x)) (one conv with 2× outputs)."""

    def __init__(self, cin: int, cout: int, k: int = 3, stride: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, k, stride, k // 2)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f, g = self.conv(x).chunk(2, dim=1)
        if self.act:
            f = F.elu(f)
        return f * torch.sigmoid(g)


class FourierUnit(nn.Module):
    """Global mixing: 1×1 conv + ReLU on the stacked real/imaginary parts of the 2-D real FFT."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2 * ch, 2 * ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        spec = torch.fft.rfft2(x.float(), norm="ortho")
        z = F.relu(self.conv(torch.cat([spec.real, spec.imag], dim=1))).float()
        re, im = z.chunk(2, dim=1)
        return torch.fft.irfft2(torch.complex(re, im), s=(h, w), norm="ortho").to(x.dtype)


class FFCResBlock(nn.Module):
    """Residual block whose channels split into a local 3×3 branch and a global Fourier branch."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        half = ch // 2
        self.local = nn.Sequential(nn.Conv2d(ch, half, 3, 1, 1), nn.ReLU(inplace=True))
        self.reduce = nn.Sequential(nn.Conv2d(ch, half, 1), nn.ReLU(inplace=True))
        self.fourier = FourierUnit(half)
        self.fuse = nn.Conv2d(2 * half, ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.reduce(x)
        g = g + self.fourier(g)
        return x + self.fuse(torch.cat([self.local(x), g], dim=1))


class InpaintNet(nn.Module):
    """Image + mask → image. Gated-conv encoder (full, 1/2, 1/4 resolution, widths ``nc``), ``nb`` FFC
    residual blocks at 1/4, gated-conv decoder with skips; known pixels are copied from the input.
    Input: the smooth fills (see the module docstring) and the mask."""

    task = "inpaint"
    size_multiple = 4
    supports_half = False

    def __init__(
        self,
        nc: tuple[int, int, int] | list[int] = (32, 64, 128),
        nb: int = 6,
        residual: bool = True,
        fill: str = "smooth",
    ) -> None:
        super().__init__()
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, not {fill!r}")
        c0, c1, c2 = nc
        self.nc, self.nb, self.residual, self.fill = list(nc), int(nb), bool(residual), fill
        cin = 7 if fill == "smooth" else 4
        self.enc0 = nn.Sequential(GatedConv(cin, c0, 5), GatedConv(c0, c0, 3))
        self.enc1 = nn.Sequential(GatedConv(c0, c1, 3, 2), GatedConv(c1, c1, 3))
        self.enc2 = nn.Sequential(GatedConv(c1, c2, 3, 2), GatedConv(c2, c2, 3))
        self.body = nn.Sequential(*[FFCResBlock(c2) for _ in range(nb)])
        self.dec1 = nn.Sequential(GatedConv(c2 + c1, c1, 3), GatedConv(c1, c1, 3))
        self.dec0 = nn.Sequential(GatedConv(c1 + c0, c0, 3), GatedConv(c0, c0, 3))
        self.out = nn.Conv2d(c0, 3, 3, 1, 1)
        if self.residual:  # start close to the fill, but not at it: a zero layer passes no gradient back
            with torch.no_grad():
                self.out.weight.mul_(0.1)
                self.out.bias.zero_()

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``image`` B×3×H×W in [0, 1], ``mask`` B×1×H×W with 1 = hole; H, W multiples of 4."""
        m = (mask > 0.5).to(image.dtype)
        known = image * (1.0 - m)
        return known + self.predict_raw(known, m).clamp(0.0, 1.0) * m

    def predict_raw(self, known: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """The full-frame prediction (no compositing, not clamped): the fill of the hole plus the
        network's correction, or (``residual=False``) the network's image."""
        if self.fill == "smooth":
            coarse = smooth_fill(known, m, 1)
            inputs = [coarse, smooth_fill(known, m, 2), m]
        else:
            coarse = push_pull_fill(known, m)
            inputs = [coarse, m]
        e0 = self.enc0(torch.cat(inputs, dim=1).to(known.dtype))
        e1 = self.enc1(e0)
        x = self.body(self.enc2(e1))
        x = F.interpolate(x, size=e1.shape[-2:], mode="nearest")
        x = self.dec1(torch.cat([x, e1], dim=1))
        x = F.interpolate(x, size=e0.shape[-2:], mode="nearest")
        x = self.dec0(torch.cat([x, e0], dim=1))
        return coarse + self.out(x) if self.residual else self.out(x)


@register("inpaint_net")
def build_inpaint_net(
    nc: tuple[int, int, int] | list[int] = (32, 64, 128), nb: int = 6, residual: bool = True, fill: str = "smooth"
) -> InpaintNet:
    """Builder used by model cards: hparams ``nc`` (3 widths), ``nb`` (FFC blocks), ``residual``
    (predict a correction to the fill, or the image) and ``fill`` ("smooth" or "push_pull")."""
    return InpaintNet(nc=tuple(nc), nb=nb, residual=residual, fill=fill)
