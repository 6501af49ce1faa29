"""Few-step training smoke tests with tiny nets, resume, evaluation on tiny images, export and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from restorer_gui.training import evaluate as ev
from restorer_gui.training.cli import main as cli_main
from restorer_gui.training.export import export_checkpoint
from restorer_gui.training.trainer import TrainConfig, train

TINY_DENOISE = {"nc": [8, 8, 16, 16], "nb": 2}


def _cfg(task: str, out: Path, data: Path, **kw: object) -> TrainConfig:
    base = dict(task=task, out=str(out), steps=30, batch=4, patch=32, lr=3e-3, warmup=1, data=[str(data)],
                val_every=10, val_count=4, log_every=5, progress=False, threads=1)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _losses(out: Path) -> list[float]:
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_denoise_trains_and_resumes_identically(tiny_images: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    train(_cfg("denoise", full, tiny_images, hparams=TINY_DENOISE))
    losses = _losses(full)
    assert losses[-1] < 0.7 * losses[0]
    split = tmp_path / "split"
    assert train(_cfg("denoise", split, tiny_images, hparams=TINY_DENOISE, stop_after=20))["step"] == 20
    assert train(_cfg("denoise", split, tiny_images, hparams=TINY_DENOISE), resume=True)["step"] == 30
    a = torch.load(full / "last.pt", weights_only=False)
    b = torch.load(split / "last.pt", weights_only=False)
    for k, v in a["ema"].items():
        assert torch.allclose(v, b["ema"][k], atol=1e-5), k
    assert (split / "best.pt").exists() and (split / "weights" / "step_30.pt").exists()


@pytest.mark.parametrize(
    ("task", "hparams"), [("inpaint", {"nc": [8, 8, 16], "nb": 1}), ("scratch", {"nc": [8, 16]})]
)
def test_other_tasks_run(task: str, hparams: dict, tiny_images: Path, tmp_path: Path) -> None:
    out = tmp_path / task
    result = train(_cfg(task, out, tiny_images, hparams=hparams, steps=6, val_every=6, lr=1e-3))
    assert result["step"] == 6 and (out / "last.pt").exists()


def test_inpaint_warm_up_leaves_out_the_discriminator_until_adv_start(tiny_images: Path, tmp_path: Path) -> None:
    hp = {"nc": [8, 8, 16], "nb": 1}
    out = tmp_path / "warm"
    train(_cfg("inpaint", out, tiny_images, hparams=hp, steps=8, val_every=8, adv_start=5, stop_after=4))
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["task"]["opt_d"]["state"] == {}  # the discriminator never stepped
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    assert all("adv" not in r for r in rows if "loss" in r)
    train(_cfg("inpaint", out, tiny_images, hparams=hp, steps=8, val_every=8, log_every=1), resume=True)
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["config"]["adv_start"] == 5  # kept from the first run
    assert state["task"]["opt_d"]["state"] != {}
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "adv" in r] == [6, 7, 8]
    val = [r["val"] for r in rows if "val" in r][-1]  # hole PSNR per mask kind, and their mean
    kinds = [val["psnr_thin"], val["psnr_medium"], val["psnr_wide"]]
    assert all(5 < v < 60 for v in kinds) and abs(val["hole_psnr"] - sum(kinds) / 3) < 1e-9


def test_export_eval_and_cli(tiny_images: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(_cfg("denoise", run, tiny_images, hparams=TINY_DENOISE, steps=10))
    models = tmp_path / "models"
    w, card = export_checkpoint(run / "best.pt", "tiny-dn", models, reproduce="restorer train denoise ...")
    info = json.loads(card.read_text())
    assert info["task"] == "denoise" and info["architecture"] == "denoise_unet" and info["untrained"] is False
    assert info["params"] == sum(t.numel() for t in load_file(str(w)).values())
    assert info["metrics"]["cpu_seconds_per_mp"] > 0

    two = tmp_path / "two"
    two.mkdir()
    for p in sorted(tiny_images.iterdir())[:2]:
        (two / p.name).write_bytes(p.read_bytes())
    model, card_path = ev.load_model(w)
    assert card_path == card
    grids = tmp_path / "grids"
    res = ev.denoise_eval(model, {"two": two}, sigmas=(25,), out_dir=grids)
    row = res["two"]["25"]
    assert row["images"] == 2 and {"psnr", "ssim", "psnr_8bit", "psnr_blind", "psnr_nlm", "psnr_blur"} <= set(row)
    assert any(grids.glob("denoise_two_s25_*.png"))

    out = tmp_path / "eval"
    rc = cli_main(["eval", "denoise", "--model", str(w), "--sets", str(two), "--sigmas", "15", "--no-ssim",
                   "--out", str(out), "--update-card"])
    assert rc == 0 and "15" in json.loads(card.read_text())["metrics"]["test"]["two"]


def test_inpaint_and_scratch_eval(tiny_images: Path, tmp_path: Path) -> None:
    from restorer_gui.inference import archs

    two = {"two": tiny_images}
    inp = archs.build("inpaint_net", nc=[8, 8, 16], nb=1).eval()
    res = ev.inpaint_eval(inp, two, kinds=("thin",), max_images=2, out_dir=tmp_path)
    assert {"psnr_ours", "psnr_telea", "psnr_ns", "margin_db"} <= set(res["two"]["thin"])
    det = archs.build("scratch_unet", nc=[8, 16]).eval()
    sc = ev.scratch_eval(det, two, max_images=2, out_dir=tmp_path)
    assert 0 <= sc["two"]["f1"] <= 1


class _ConstantDetector(torch.nn.Module):
    """Probability 0.5 everywhere: every cut below 0.5 marks all pixels, every cut from 0.5 none."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :1])


def test_threshold_is_tuned_on_held_out_training_images(tiny_images: Path, tmp_path: Path) -> None:
    import numpy as np

    from restorer_gui.core import degradations as deg
    from restorer_gui.training.datasets import held_out_paths, load_rgb

    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(40):  # 40 names: held out are the 10th and 30th
        (folder / f"im{i:02d}.png").write_bytes(sorted(tiny_images.iterdir())[i % 6].read_bytes())
    assert [p.name for p in held_out_paths([folder])] == ["im10.png", "im30.png"]
    res = ev.tune_scratch_threshold(_ConstantDetector(), [folder], seed=3)
    assert res["images"] == 2 and res["threshold"] == 0.2
    assert res["f1"]["0.50"] == 0.0 and res["f1"]["0.80"] == 0.0
    # below 0.5 everything is marked: F1 = 2·share / (1 + share) with share = damaged pixels
    pos = tot = 0
    for idx, path in enumerate(held_out_paths([folder])):
        _, mask = deg.age_photo(load_rgb(path).astype(np.float32) / 255, np.random.default_rng([3, 9001, idx]), 1.0)
        pos, tot = pos + int((mask >= 0.5).sum()), tot + mask.size
    share = pos / tot
    assert res["f1"]["0.45"] == pytest.approx(2 * share / (1 + share), abs=1e-4)


def test_scratch_eval_cli_writes_the_tuned_threshold_into_the_card(tiny_images: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    train(_cfg("scratch", run, tiny_images, hparams={"nc": [8, 16]}, steps=4, val_every=4))
    w, card = export_checkpoint(run / "best.pt", "tiny-det", tmp_path / "models", measure_speed=False)
    assert json.loads(card.read_text())["task"] == "detect-scratches"
    monkeypatch.setattr(ev, "tune_scratch_threshold", lambda model, **kw: {"threshold": 0.35, "f1": {}, "images": 1})
    out = tmp_path / "eval"
    rc = cli_main(["eval", "scratch", "--model", str(w), "--sets", str(tiny_images), "--max-images", "2",
                   "--out", str(out), "--update-card"])
    info = json.loads(card.read_text())
    assert rc == 0 and info["threshold"] == 0.35
    assert info["metrics"]["test"][tiny_images.name]["threshold"] == 0.35
