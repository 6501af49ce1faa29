"""`restorer train|export|eval noise-estimate` (#19): a few steps with a toy-width estimator, never more."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from restorer_gui import paths
from restorer_gui.inference import archs, loader, noise_level
from restorer_gui.training import datasets as ds
from restorer_gui.training import noise_eval
from restorer_gui.training.cli import main as cli_main
from restorer_gui.training.export import export_checkpoint
from restorer_gui.training.trainer import TrainConfig, train
from tests.noise_estimators import TINY
from tests.tiny_models import TinyDenoiser, save_model


def _cfg(out: Path, data: Path, **kw: object) -> TrainConfig:
    base = dict(task="noise-estimate", out=str(out), steps=20, batch=4, patch=32, lr=3e-3, warmup=1,
                data=[str(data)], hparams=dict(TINY), val_every=10, val_count=4, log_every=5, progress=False,
                threads=1)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def test_batches_are_seeded_scans_with_their_noise_map(tiny_images: Path) -> None:
    bank = ds.ImageBank.from_folders([tiny_images])
    a = ds.noise_estimate_batch(bank, 0, 5, 3, 32)
    b = ds.noise_estimate_batch(bank, 0, 5, 3, 32)
    c = ds.noise_estimate_batch(bank, 0, 6, 3, 32)
    assert a["noisy"].shape == (3, 32, 32, 3) and a["sigma_map"].shape == (3, 32, 32)
    assert np.array_equal(a["noisy"], b["noisy"]) and np.array_equal(a["sigma_map"], b["sigma_map"])
    assert not np.array_equal(a["noisy"], c["noisy"])
    assert 0.0 <= a["sigma_map"].min() and a["sigma_map"].max() < 1.5 * 60 / 255  # 0–1 scale, σ ≤ 60 (+ sensor)


def test_training_lowers_the_log_error_and_exports_a_model_the_app_loads(tiny_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train(_cfg(out, tiny_images))
    assert result["step"] == 20
    rows = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    vals = [r["val"] for r in rows if "val" in r]
    assert losses[-1] < losses[0]
    assert set(vals[-1]) == {"neg_log_err", "log_err", "auto_log_err"} and vals[-1]["neg_log_err"] == -vals[-1]["log_err"]
    weights, card_path = export_checkpoint(out / "best.pt", "noise-test", paths.user_models_dir(), measure_speed=False)
    card = json.loads(card_path.read_text())
    assert card["task"] == "noise-estimate" and card["architecture"] == "noise_estimator"
    assert card["auto"] == {"quantile": noise_level.DEFAULT_QUANTILE, "scale": noise_level.DEFAULT_SCALE}
    model = loader.load_model("noise-test", "cpu")
    image = (np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)
    assert noise_level.noise_map(image, model).shape == (40, 48)


def test_the_cli_knows_the_task(tiny_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli-run"
    code = cli_main(["train", "noise-estimate", "--steps", "2", "--batch", "2", "--patch", "32", "--data",
                     str(tiny_images), "--hparams", json.dumps(TINY), "--val-every", "2", "--threads", "1",
                     "--out", str(out), "--no-progress"])
    assert code == 0 and (out / "best.pt").exists()


@pytest.fixture
def held_out(tiny_images: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The calibration's held-out photos are the tiny images."""
    monkeypatch.setattr(noise_eval, "held_out_paths", lambda _folders: ds.list_images([tiny_images]))
    return tiny_images


def test_calibration_and_the_grain_eval_report_what_the_issue_asks(held_out: Path) -> None:
    net = archs.build("noise_estimator", **TINY).eval()
    den = TinyDenoiser().eval()
    sweep = [0.0, 15.0, 30.0, 45.0]
    cal = noise_eval.calibrate(net, den, sweep, count=2, crop=40)
    assert cal["images"] == 2 and cal["quantile"] in noise_eval.QUANTILES
    assert cal["loss_db"] == min(q["loss_db"] for q in cal["per_quantile"].values())
    assert cal["scale"] > 0 and cal["loss_db"] >= 0
    res = noise_eval.grain_eval(net, den, [str(held_out)], [20.0], sweep, 0.9, 1.0, max_images=2)
    row = res[held_out.name]["20"]
    for key in ("psnr_input", "psnr_auto", "psnr_laplacian", "psnr_nominal", "psnr_best_fixed", "psnr_oracle",
                "best_fixed_sigma", "gap_auto_db", "gap_laplacian_db", "sigma_auto", "sigma_laplacian"):
        assert key in row, key
    assert row["best_fixed_sigma"] in sweep and row["psnr_oracle"] >= row["psnr_best_fixed"] - 1e-9
    assert row["psnr_best_fixed"] == max(row["sweep"].values()) and row["images"] == 2
    assert row["gap_auto_db"] == pytest.approx(row["psnr_best_fixed"] - row["psnr_auto"], abs=1e-3)


def test_eval_cli_calibrates_writes_the_card_and_the_real_sheets(held_out: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    train(_cfg(tmp_path / "run", held_out, steps=2, val_every=2))
    _, card_path = export_checkpoint(tmp_path / "run" / "best.pt", "noise-test", paths.user_models_dir(),
                                     measure_speed=False)
    save_model(paths.user_models_dir(), "tiny-den", "denoise", untrained=False)
    real = tmp_path / "shared" / "real"
    (real / "scans").mkdir(parents=True)
    (real / "faded_grainy.png").write_bytes((held_out / "img0.png").read_bytes())
    from restorer_gui.training import evaluate as ev

    monkeypatch.setattr(ev, "DEFAULT_TEST_ROOT", tmp_path / "shared" / "test")
    out = tmp_path / "eval"
    code = cli_main(["eval", "noise-estimate", "--sets", str(held_out), "--max-images", "1", "--sigmas", "20",
                     "--sweep-step", "30", "--calibrate", "--update-card", "--out", str(out), "--threads", "1"])
    assert code == 0
    result = json.loads((out / "results.json").read_text())
    assert result["results"][held_out.name]["20"]["images"] == 1
    assert result["real"]["faded_grainy.png"]["sheet"] == "noise_real_faded_grainy.png"
    assert (out / "noise_real_faded_grainy.png").is_file()
    card = json.loads(card_path.read_text())
    assert card["auto"]["quantile"] == result["calibration"]["quantile"]
    assert card["auto"]["scale"] == result["calibration"]["scale"] and "test" in card["metrics"]
