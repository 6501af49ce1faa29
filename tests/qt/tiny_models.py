"""Tiny random-free test networks registered as architectures and installed as user models."""

from __future__ import annotations

import json

import torch
from safetensors.torch import save_file
from torch import nn

from restorer_gui import paths
from restorer_gui.inference.archs import register


class TinyDenoise(nn.Module):
    """x ↦ 0.5·x + 0.25 (a 1×1 convolution), whatever σ says."""

    task = "denoise"
    size_multiple = 1
    supports_half = True

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x, sigma=None):
        return self.conv(x)


class TinyInpaint(nn.Module):
    """Fills holes with mid-gray."""

    task = "inpaint"
    size_multiple = 4
    supports_half = True

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 3, 1)

    def forward(self, image, mask):
        return self.conv(torch.cat([image, mask], dim=1))


class TinyDetect(nn.Module):
    """Logit 20·mean(rgb) − 18: 'scratch' where the picture is nearly white."""

    task = "detect-scratches"
    size_multiple = 1
    supports_half = True

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1)

    def forward(self, x):
        return self.conv(x)


register("test_tiny_denoise")(TinyDenoise)
register("test_tiny_inpaint")(TinyInpaint)
register("test_tiny_detect")(TinyDetect)


def _weights(module: nn.Module) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        conv = module.conv
        conv.weight.zero_()
        conv.bias.zero_()
        if isinstance(module, TinyDenoise):
            for c in range(3):
                conv.weight[c, c] = 0.5
            conv.bias.fill_(0.25)
        elif isinstance(module, TinyInpaint):
            conv.bias.fill_(0.5)
        else:
            conv.weight.fill_(20.0 / 3.0)
            conv.bias.fill_(-18.0)
    return {k: v.contiguous() for k, v in module.state_dict().items()}


def install(model_id: str, arch: str, task: str, module: nn.Module) -> None:
    folder = paths.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(_weights(module), str(folder / f"{model_id}.safetensors"))
    card = {"id": model_id, "task": task, "architecture": arch, "hparams": {}, "name": model_id}
    (folder / f"{model_id}.json").write_text(json.dumps(card))


def install_all() -> None:
    install("tiny-denoise", "test_tiny_denoise", "denoise", TinyDenoise())
    install("tiny-inpaint", "test_tiny_inpaint", "inpaint", TinyInpaint())
    install("tiny-detect", "test_tiny_detect", "detect-scratches", TinyDetect())
