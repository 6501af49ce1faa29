"""`restorer train|eval enhance` with a tiny net: the loss falls, a run resumes, export gives a loadable card,
the evaluation runs the classical corrections beside ours and writes the real scans' sheets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from restorer_gui.training import enhance_eval as ee
from restorer_gui.training.datasets import ImageBank, enhance_batch
from restorer_gui.training.export import export_checkpoint, load_checkpoint_model
from restorer_gui.training.trainer import TrainConfig, train

TINY = {"nc": [8, 16], "knots": 8, "grid": 4, "thumb": 32, "hidden": 16}


def _cfg(out: Path, data: Path, **kw: object) -> TrainConfig:
    base = dict(task="enhance", out=str(out), steps=40, batch=4, patch=32, lr=1e-2, warmup=1, data=[str(data)],
                val_every=20, val_count=4, log_every=5, progress=False, threads=1, hparams=TINY, ema=0.5)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_batches_are_seeded_faded_prints(tiny_images: Path) -> None:
    from restorer_gui.training.datasets import load_rgb

    bank = ImageBank([load_rgb(p) for p in sorted(tiny_images.iterdir())])
    a, b = enhance_batch(bank, 0, 3, 4, 32), enhance_batch(bank, 0, 3, 4, 32)
    np.testing.assert_array_equal(a["faded"], b["faded"])
    assert a["faded"].shape == a["target"].shape == (4, 32, 32, 3)
    assert not np.array_equal(a["faded"], a["target"])
    clean = enhance_batch(bank, 0, 3, 4, 32, p_clean=1.0)
    np.testing.assert_array_equal(clean["faded"], clean["target"])


def test_training_lowers_the_loss_resumes_and_exports(tiny_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_cfg(out, tiny_images))
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert np.mean(losses[-2:]) < 0.9 * losses[0]
    val = [r["val"] for r in rows if "val" in r]
    assert val[-1]["psnr"] > val[-1]["psnr_input"]  # better than leaving the faded print as it is
    split = tmp_path / "split"
    assert train(_cfg(split, tiny_images, stop_after=20))["step"] == 20
    assert train(_cfg(split, tiny_images), resume=True)["step"] == 40
    a, b = torch.load(out / "last.pt", weights_only=False), torch.load(split / "last.pt", weights_only=False)
    for k, v in a["ema"].items():
        assert torch.allclose(v, b["ema"][k], atol=1e-5), k

    weights, card = export_checkpoint(out / "best.pt", "enhance-test", tmp_path / "models",
                                      reproduce="restorer train enhance")
    info = json.loads(card.read_text())
    assert info["task"] == "enhance" and info["architecture"] == "enhance_curves" and info["untrained"] is False
    assert info["metrics"]["cpu_seconds_per_mp"] > 0 and weights.suffix == ".safetensors"


def test_classical_corrections():
    rng = np.random.default_rng(0)
    img = np.clip(0.3 + 0.3 * rng.random((40, 50, 3)) * np.array([1.0, 0.8, 0.5]), 0, 1).astype(np.float32)
    s = ee.percentile_stretch(img)
    assert s.min() == 0 and s.max() == 1
    for c in range(3):  # every channel spans the range
        assert np.percentile(s[..., c], 1) < 0.05 and np.percentile(s[..., c], 99) > 0.95
    g = ee.gray_world(img)
    means = g.reshape(-1, 3).mean(0)
    assert np.ptp(means) < 1e-3
    c = ee.clahe_lightness(img)
    assert c.shape == img.shape and c.std() > img.mean(2).std()
    assert ee.ciede2000(img, img) == 0 and ee.ciede2000(img, g) > 1


def test_eval_beside_the_classical_methods_and_the_real_sheets(tiny_images: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "run"
    train(_cfg(out, tiny_images, steps=10, val_every=10))
    net, _ = load_checkpoint_model(out / "best.pt")
    res = ee.enhance_eval(net, [str(tiny_images)], seed=0, max_images=2, out_dir=tmp_path / "eval")
    r = res[tiny_images.name]
    assert r["images"] == 2 and r["best_classical"] in ee.CLASSICAL
    for k in ("input", "ours", *ee.CLASSICAL):
        assert f"psnr_{k}" in r and f"de2000_{k}" in r
    assert r["margin_db"] == round(r["psnr_ours"] - r[f"psnr_{r['best_classical']}"], 4)
    real = tmp_path / "real"
    (real / "scans").mkdir(parents=True)
    noise = (np.random.default_rng(1).random((60, 80, 3)) * 255).astype(np.uint8)
    Image.fromarray(noise).save(real / "faded_grainy.png")
    sheets = ee.real_sheets(net, real, tmp_path / "eval", "stretch", height=50)
    assert sheets == ["enhance_real_faded_grainy.png"]
    sheet = Image.open(tmp_path / "eval" / sheets[0])
    assert sheet.height == 50 and sheet.width > 3 * 66  # input | ours | classical
