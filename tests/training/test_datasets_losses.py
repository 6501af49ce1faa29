"""Patch banks, seeded batches and losses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from restorer_gui.training import datasets as ds
from restorer_gui.training import losses as L


def test_bank_split_and_patches(tiny_images: Path, tmp_path: Path) -> None:
    bank = ds.ImageBank.from_folders([tiny_images])
    train, val = bank.split(val_every=3)
    assert len(train.images) + len(val.images) == 6 and len(val.images) == 2
    p = bank.random_patch(np.random.default_rng(0), 32)
    assert p.shape == (32, 32, 3) and p.dtype == np.uint8
    cache = ds.PatchBank.load(ds.write_patch_cache([tiny_images], tmp_path / "c.npy", 5, 40))
    assert cache.random_patch(np.random.default_rng(1), 32).shape == (32, 32, 3)


def test_batches_are_a_function_of_seed_and_step(tiny_images: Path) -> None:
    bank = ds.ImageBank.from_folders([tiny_images])
    a, b = ds.denoise_batch(bank, 3, 7, 4, 24), ds.denoise_batch(bank, 3, 7, 4, 24)
    c = ds.denoise_batch(bank, 3, 8, 4, 24)
    assert np.array_equal(a["noisy"], b["noisy"]) and not np.array_equal(a["noisy"], c["noisy"])
    assert a["noisy"].shape == (4, 24, 24, 3) and a["sigma"].shape == (4,)
    assert float(a["sigma"].max()) <= 55 / 255
    inp = ds.inpaint_batch(bank, 0, 0, 2, 32)
    assert inp["mask"].shape == (2, 32, 32) and set(np.unique(inp["mask"])) <= {0.0, 1.0}
    kinds = np.concatenate([ds.inpaint_batch(bank, 0, s, 8, 32)["kind"] for s in range(6)])
    assert set(kinds) == {0, 1, 2}  # mixed: thin, medium and wide
    for kind in range(3):
        forced = ds.inpaint_batch(bank, 0, 0, 4, 64, kind)
        assert (forced["kind"] == kind).all()
    thin, wide = ds.inpaint_batch(bank, 0, 0, 4, 64, 0), ds.inpaint_batch(bank, 0, 0, 4, 64, 2)
    assert thin["mask"].mean() < wide["mask"].mean()
    sc = ds.scratch_batch(bank, 0, 0, 2, 32)
    assert sc["image"].shape == (2, 32, 32, 3) and 0 <= sc["mask"].min() and sc["mask"].max() <= 1


def test_losses() -> None:
    x = torch.zeros(1, 3, 4, 4)
    y = torch.ones(1, 3, 4, 4)
    assert float(L.l1_loss(x, y)) == 1.0
    assert abs(float(L.charbonnier_loss(x, y)) - 1.0) < 1e-3
    m = torch.zeros(1, 1, 4, 4)
    m[..., :2, :] = 1
    pred = y.clone()
    pred[..., :2, :] = 0  # wrong only in the hole
    pred[..., 3:, :] = 5  # wrong outside the hole: not counted
    assert abs(float(L.hole_mse_per_image(pred, y, m)) - 1.0) < 1e-6
    # per image, not per pixel: a 1-pixel hole counts as much as an 8-pixel one
    big, small = torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    big[0, :, :2, :] = 1
    big[1, :, 0, 0] = 1
    err = torch.zeros(2, 3, 4, 4)
    err[0] = 0.5  # squared error 0.25 in image 0's hole, 1.0 in image 1's
    err[1] = 1.0
    assert abs(float(L.hole_mse_per_image(err, torch.zeros_like(err), big)) - (0.25 + 1.0) / 2) < 1e-6
    # an image without a hole is left out, and no hole at all gives 0 with a gradient path
    assert abs(float(L.hole_mse_per_image(err, torch.zeros_like(err), torch.stack([big[0], small[0]]))) - 0.25) < 1e-6
    assert float(L.hole_mse_per_image(err, torch.zeros_like(err), small)) == 0.0
    logits = torch.full((1, 1, 4, 4), -20.0)
    assert float(L.bce_dice_loss(logits, torch.zeros_like(logits))) < 0.01
    d = L.PatchDiscriminator(in_ch=4, nc=8)
    assert d(torch.rand(1, 4, 64, 64)).ndim == 4
    assert float(L.d_hinge_loss(torch.full((2,), 2.0), torch.full((2,), -2.0))) == 0.0
    assert abs(float(L.psnr(y * 0.9, y)[0]) - 20.0) < 1e-4


def test_patch_cache_validates_on_held_out_images_only(tmp_path: Path, capsys) -> None:
    """`restorer patches` writes the held-out crops first, where the trainer's split of a cache looks
    for its validation patches; every image is one flat colour, so a crop tells which image it is from."""
    from PIL import Image

    from restorer_gui.training.cli import main as cli_main
    from restorer_gui.training.trainer import TrainConfig, _load_bank

    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(40):
        Image.fromarray(np.full((30, 36, 3), 5 * i, np.uint8)).save(folder / f"img{i:02d}.png")
    held = {5 * i for i in np.flatnonzero(ds.held_out(40))}
    out = tmp_path / "cache" / "p.npy"
    assert cli_main(["patches", str(out), "--count", "60", "--size", "24", "--data", str(folder)]) == 0
    assert "60 crops of 24 px" in capsys.readouterr().out
    arr = np.load(out)
    assert arr.shape == (60, 24, 24, 3) and arr.dtype == np.uint8
    colours = [int(p[0, 0, 0]) for p in arr]
    assert set(colours[:3]) <= held and not set(colours[3:]) & held
    assert [p.name for p in out.parent.iterdir()] == ["p.npy"]  # no temporary file left
    train_bank, val_bank = _load_bank(TrainConfig(task="denoise", out=str(tmp_path / "run"), patch_cache=str(out)))
    assert {int(p[0, 0, 0]) for p in val_bank.patches} <= held
    assert not {int(p[0, 0, 0]) for p in train_bank.patches} & held
    # refused with one line and nothing written: not a .npy name, too few crops
    assert cli_main(["patches", str(tmp_path / "p.txt"), "--data", str(folder)]) != 0
    assert cli_main(["patches", str(tmp_path / "q.npy"), "--count", "1", "--data", str(folder)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and ".npy" in err and "at least 2 crops" in err
    assert not (tmp_path / "p.txt").exists() and not (tmp_path / "q.npy").exists()
