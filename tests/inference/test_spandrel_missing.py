"""A build without spandrel (e.g. the CPU bundle, which has no torchvision) refuses third-party models cleanly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from restorer_gui.inference.loader import load_model
from restorer_gui.inference.safe_load import ModelLoadError


def test_third_party_model_without_spandrel_is_a_load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "community.safetensors"
    save_file({"conv.weight": torch.zeros(8, 3, 3, 3), "conv.bias": torch.zeros(8)}, str(weights))
    monkeypatch.setitem(sys.modules, "spandrel", None)  # import spandrel now raises ImportError
    with pytest.raises(ModelLoadError, match="third-party architectures are not available in this build"):
        load_model(weights, "cpu")
