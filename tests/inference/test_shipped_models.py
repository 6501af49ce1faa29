"""The models shipped in models/: every card loads as a trained built-in model, the weights stay in the
100 MB budget, and each model does its task on a small synthetic photo through the operations' functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from restorer_gui.inference import loader, registry
from restorer_gui.inference.ops.denoise import denoise
from restorer_gui.inference.ops.detect import detect_scratches
from restorer_gui.inference.ops.inpaint import inpaint

MODELS = Path(__file__).resolve().parents[2] / "models"


def _photo(h: int = 96, w: int = 128) -> np.ndarray:
    """Smooth shading with a few soft-edged shapes: easy to denoise, to fill and to leave unmarked."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([60 + 100 * xx / w, 80 + 90 * yy / h, 150 - 60 * xx / w], -1)
    blob = np.exp(-(((xx - 40) / 18) ** 2 + ((yy - 50) / 14) ** 2))[..., None]
    img = img * (1 - 0.5 * blob) + 220 * 0.5 * blob
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two 8-bit images, by the evaluation's own measure."""
    from restorer_gui.training.evaluate import _psnr as psnr01

    return psnr01(a / 255.0, b / 255.0)


def _shipped() -> list[registry.ModelInfo]:
    return [i for i in registry.list_models() if i.builtin]


@pytest.mark.skipif(not any(MODELS.glob("*.json")), reason="a checkout without models/")
def test_every_shipped_card_is_a_trained_builtin_within_the_size_budget(shipped_models) -> None:
    infos = _shipped()
    assert {i.id for i in infos} == {p.stem for p in MODELS.glob("*.json")}  # no card skipped as broken
    assert all(not i.untrained for i in infos)
    assert sum(p.stat().st_size for p in MODELS.glob("*.safetensors")) < 100 * 1024 * 1024
    assert {"denoise", "detect-scratches"} <= {i.task for i in infos}


@pytest.mark.skipif(not any(MODELS.glob("*.json")), reason="a checkout without models/")
def test_every_shipped_model_does_its_task_on_a_small_photo(shipped_models) -> None:
    clean = _photo()
    rng = np.random.default_rng(0)
    for info in _shipped():
        model = loader.load_model(info, "cpu")
        if model.task == "denoise":
            noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
            out = denoise(noisy, model, sigma=25)
            assert _psnr(out, clean) > _psnr(noisy, clean) + 6, info.id
        elif model.task == "inpaint":
            mask = np.zeros(clean.shape[:2], np.uint8)
            mask[:, 60:64] = 255  # a 4-px scratch top to bottom, through the shading and the blob's edge
            mask[20:40, 90:110] = 255  # and a 20-px hole
            damaged = clean.copy()
            damaged[mask > 0] = 255
            out = inpaint(damaged, mask, model)
            assert np.array_equal(out[mask == 0], clean[mask == 0]), info.id
            err = np.abs(out[mask > 0].astype(np.int16) - clean[mask > 0]).mean()
            assert err < 3, (info.id, err)  # smooth content: the fill follows it, no white left
        elif model.task == "noise-estimate":  # Auto reads white noise of σ 25 as about 25
            from restorer_gui.inference.noise_level import learned_sigma

            noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
            assert abs(learned_sigma(noisy, model) - 25) < 6, info.id
        elif model.task == "detect-scratches":
            damaged = clean.copy()
            damaged[10:86, 70:72] = 250  # a bright 2-px scratch
            marked = detect_scratches(damaged, model) > 0
            line = np.zeros_like(marked)
            line[10:86, 70:72] = True
            assert marked[line].mean() > 0.5, info.id
            assert marked[~line].mean() < 0.05, info.id
