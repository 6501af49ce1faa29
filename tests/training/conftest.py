"""Tiny generated images for the training tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture()
def tiny_images(tmp_path: Path) -> Path:
    """Six smooth-ish 72×80 RGB PNGs in a folder."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        base = np.cumsum(rng.normal(0, 6, (72, 80, 3)), axis=1) + rng.uniform(60, 190)
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder
