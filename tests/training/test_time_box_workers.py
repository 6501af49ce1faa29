"""The trainer's time box, batches made by worker processes, the step-0 validation of --init weights,
and `export --no-speed`: what a lent GPU session relies on (tools/gpu_session.sh)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from restorer_gui.training.cli import main as cli_main
from restorer_gui.training.export import export_checkpoint
from restorer_gui.training.trainer import TrainConfig, train

TINY_SCRATCH = {"nc": [8, 16]}
TINY_DENOISE = {"nc": [8, 8, 16, 16], "nb": 1}


def _cfg(task: str, out: Path, data: Path, **kw: object) -> TrainConfig:
    base = dict(task=task, out=str(out), steps=4, batch=3, patch=32, lr=1e-3, warmup=1, data=[str(data)],
                val_every=4, val_count=4, log_every=1, progress=False, threads=1)
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


def _rows(out: Path) -> list[dict]:
    return [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]


def test_worker_processes_make_the_same_batches_as_the_loop(tiny_images: Path, tmp_path: Path) -> None:
    inline = train(_cfg("scratch", tmp_path / "inline", tiny_images, hparams=TINY_SCRATCH))
    ahead = train(_cfg("scratch", tmp_path / "ahead", tiny_images, hparams=TINY_SCRATCH, workers=2))
    assert inline["step"] == ahead["step"] == 4
    a = torch.load(tmp_path / "inline" / "last.pt", weights_only=False)
    b = torch.load(tmp_path / "ahead" / "last.pt", weights_only=False)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert [r["loss"] for r in _rows(tmp_path / "inline") if "loss" in r] == \
           [r["loss"] for r in _rows(tmp_path / "ahead") if "loss" in r]


def test_time_box_stops_validates_and_writes_the_weights(tiny_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "boxed"
    result = train(_cfg("denoise", out, tiny_images, hparams=TINY_DENOISE, steps=10_000, val_every=5_000,
                        max_minutes=1e-6, workers=1))
    assert result["timed_out"] is True and result["step"] == 1
    assert (out / "best.pt").is_file() and (out / "weights" / "step_1.pt").is_file()
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 1
    assert [r["step"] for r in _rows(out) if "val" in r] == [1]
    # resuming with more time goes on from there
    again = train(_cfg("denoise", out, tiny_images, hparams=TINY_DENOISE, steps=10_000, stop_after=3,
                       val_every=5_000), resume=True)
    assert again == {"step": 3, "best": again["best"], "out": str(out), "timed_out": False}


def test_a_run_from_init_weights_validates_them_first(tiny_images: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    train(_cfg("denoise", first, tiny_images, hparams=TINY_DENOISE))
    weights, _card = export_checkpoint(first / "best.pt", "tiny-init", tmp_path / "models", measure_speed=False)
    second = tmp_path / "second"
    train(_cfg("denoise", second, tiny_images, hparams=TINY_DENOISE, init=str(weights)))
    vals = [r for r in _rows(second) if "val" in r]
    assert vals[0]["step"] == 0 and vals[0]["init"] == str(weights) and vals[0]["val"]["psnr25"] > 0
    assert [r["step"] for r in vals[1:]] == [4]


def test_cli_time_box_workers_and_export_without_speed(tiny_images: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    rc = cli_main(["train", "denoise", "--data", str(tiny_images), "--steps", "10000", "--batch", "2", "--patch", "32",
                   "--hparams", json.dumps(TINY_DENOISE), "--out", str(run), "--no-progress", "--threads", "1",
                   "--max-minutes", "0.000001", "--workers", "1"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["timed_out"] is True and result["step"] == 1
    assert cli_main(["export", str(run / "best.pt"), "--id", "boxed", "--models-dir", str(tmp_path / "m"),
                     "--no-speed"]) == 0
    card = json.loads((tmp_path / "m" / "boxed.json").read_text())
    assert "cpu_seconds_per_mp" not in card["metrics"] and card["training"]["step"] == 1
    assert (tmp_path / "m" / "boxed.safetensors").stat().st_size > 0
