"""A tiny random-weight enhancement model for tests (the shipped folder has none until one is trained)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from restorer_gui.inference import archs

TINY = {"nc": [4, 8], "knots": 8, "grid": 4, "thumb": 32, "hidden": 16}


def save_enhancer(folder: Path, model_id: str = "tiny-enh", *, seed: int = 0, identity: bool = False) -> Path:
    """A tiny random-weight enhancement model (card + safetensors) in ``folder``; its heads are random too,
    so it changes pixels (``identity``: the untrained zero heads, which return the input)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    net = archs.build("enhance_curves", **TINY)
    if not identity:
        with torch.no_grad():
            for head in (net.curve_head, net.color_head, net.local_head):
                head.weight.normal_(0, 0.3)
                head.bias.normal_(0, 0.2)
    weights = folder / f"{model_id}.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
    card = {"id": model_id, "task": "enhance", "architecture": "enhance_curves", "hparams": TINY,
            "weights": weights.name, "untrained": False, "name": "Tiny enhancer"}
    (folder / f"{model_id}.json").write_text(json.dumps(card), encoding="utf-8")
    return weights
