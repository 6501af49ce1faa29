"""Tiny noise estimators (the real `noise_estimator` architecture at toy widths) saved as user models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import save_file

from restorer_gui.inference import archs

TINY = {"nc": [4, 4, 4], "body": 0, "smooth": 1}


def save_estimator(folder: Path, model_id: str = "tiny-noise", *, level: float | None = None, seed: int = 0,
                   untrained: bool = False, auto: dict | None = None) -> Path:
    """Write ``<id>.safetensors`` + card. With ``level`` (σ, 0–255) every weight is zero and the head's bias
    makes the map that constant level everywhere; otherwise the weights are random (seeded)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    module = archs.build("noise_estimator", **TINY)
    if level is not None:
        with torch.no_grad():
            for p in module.parameters():
                p.zero_()
            soft = level / 255.0 / 0.1  # forward: softplus(bias) · 0.1 on the 0–1 scale
            module.tail.bias.fill_(math.log(math.expm1(soft)))
    weights = folder / f"{model_id}.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(weights))
    card = {"id": model_id, "task": "noise-estimate", "architecture": "noise_estimator", "hparams": TINY,
            "weights": weights.name, "untrained": untrained, "name": "Tiny noise estimator"}
    if auto is not None:
        card["auto"] = auto
    (folder / f"{model_id}.json").write_text(json.dumps(card), encoding="utf-8")
    return weights
