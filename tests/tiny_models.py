"""Tiny random-weight test architectures (registered with the arch registry) and card helpers."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from restorer_gui.inference import archs


class TinyDenoiser(nn.Module):
    """`layers` 3×3 convs: receptive-field radius == layers; sigma (0–1) scales the correction."""

    task = "denoise"
    size_multiple = 1
    supports_half = True

    def __init__(self, width: int = 8, layers: int = 3) -> None:
        super().__init__()
        chans = [3] + [width] * (layers - 1) + [3]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:], strict=False))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        h = x
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.convs) - 1:
                h = torch.relu(h)
        gain = 0.2 if sigma is None else 0.2 + sigma.view(-1, 1, 1, 1)
        return (x + gain * torch.tanh(h)).clamp(0, 1)


class TinyInpainter(nn.Module):
    task = "inpaint"
    size_multiple = 4
    supports_half = True

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, width, 3, padding=1)
        self.b = nn.Conv2d(width, 3, 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert image.shape[-1] % 4 == 0 and image.shape[-2] % 4 == 0, "size rule violated"
        fill = torch.sigmoid(self.b(torch.relu(self.a(torch.cat([image, mask], 1)))))
        return image * (1 - mask) + fill * mask


class TinyScratchDetector(nn.Module):
    task = "detect-scratches"
    size_multiple = 2
    supports_half = True

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.conv(image)


archs.register("tiny_denoise")(TinyDenoiser)
archs.register("tiny_inpaint")(TinyInpainter)
archs.register("tiny_scratch")(TinyScratchDetector)

TASK_ARCH = {"denoise": "tiny_denoise", "inpaint": "tiny_inpaint", "detect-scratches": "tiny_scratch"}


def save_model(folder: Path, model_id: str, task: str, *, seed: int = 0, untrained: bool = True, **hparams) -> Path:
    """Write ``<id>.safetensors`` + ``<id>.json`` (card) for a tiny model; returns the weights path."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    module = archs.build(TASK_ARCH[task], **hparams)
    weights = folder / f"{model_id}.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(weights))
    card = {
        "id": model_id,
        "task": task,
        "architecture": TASK_ARCH[task],
        "hparams": hparams,
        "weights": weights.name,
        "params": sum(p.numel() for p in module.parameters()),
        "untrained": untrained,
        "name": f"Tiny {task}",
    }
    (folder / f"{model_id}.json").write_text(json.dumps(card), encoding="utf-8")
    return weights
